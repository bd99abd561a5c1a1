//! Containers by name: `podman:NAME` and `docker:NAME` are looked up with the engine's own
//! command, and `mntns ps` lists the running containers of every engine found.
//!
//! The engine's command is the one authority on its containers: it reads the user's settings
//! from the environment mntns inherits (`CONTAINERS_CONF`, `CONTAINERS_STORAGE_CONF`,
//! `DOCKER_HOST`, ...), so `mntns` reaches the same containers as `podman` or `docker` typed in
//! the same shell. Its commands run with stdin on /dev/null and are killed if they do not
//! answer within [`ENGINE_TIMEOUT`].

use mntnssandbox_host::OsError;
// rustix's own descriptor type: mntns builds rustix without `std` (see Cargo.toml).
use rustix::fd::OwnedFd;
use serde_json::Value;
use std::fmt;
use std::io;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long an engine command may take before it is killed.
pub(crate) const ENGINE_TIMEOUT: Duration = Duration::from_secs(10);

/// A container engine, run through its command-line tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Engine {
    Podman,
    Docker,
}

impl Engine {
    /// Every engine, in the order `mntns ps` lists them.
    pub(crate) const ALL: [Engine; 2] = [Engine::Podman, Engine::Docker];

    /// The engine's command, looked up on `PATH`; also the prefix of its NSREFs.
    pub(crate) fn command(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::Docker => "docker",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.command())
    }
}

/// A container as the user named it: `podman:NAME-OR-ID` or `docker:NAME-OR-ID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ContainerRef {
    pub(crate) engine: Engine,
    /// A name, an ID, or a prefix of an ID: whatever the engine's `container inspect` takes.
    pub(crate) name: String,
}

impl fmt::Display for ContainerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.engine, self.name)
    }
}

impl ContainerRef {
    /// `Some` when `text` names a container (`podman:...`, `docker:...`), an error if the name
    /// after the colon is empty; `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<Result<Self, String>> {
        Engine::ALL.into_iter().find_map(|engine| {
            let name = text.strip_prefix(engine.command())?.strip_prefix(':')?;
            Some(if name.is_empty() {
                Err(format!(
                    "{text:?} names no container (want {engine}:NAME-OR-ID)"
                ))
            } else {
                Ok(ContainerRef {
                    engine,
                    name: name.to_owned(),
                })
            })
        })
    }

    /// The host PID of the container's process, from `<engine> container inspect` (not plain
    /// `inspect`, which matches images too). Errors are the text after `mntns: `.
    pub(crate) fn pid(&self) -> Result<u32, String> {
        let output = run(self.engine, &["container", "inspect", &self.name])
            .map_err(|error| format!("{self}: {error}"))?;
        let parsed = serde_json::from_slice::<Value>(&output.stdout);
        let containers = parsed.as_ref().ok().and_then(Value::as_array);
        if !output.status.success() {
            let why = first_line(&output);
            // An unknown name: an empty list, and the engine's "no such container" (podman's
            // `no such container NAME`, docker's `No such container: NAME`).
            if containers.is_some_and(Vec::is_empty)
                && why.to_ascii_lowercase().contains("no such container")
            {
                return Err(format!("{self}: no such container"));
            }
            return Err(format!("{self}: {why}"));
        }
        let containers = parsed.map_err(|error| {
            format!(
                "{self}: unexpected output from {} container inspect: {error}",
                self.engine
            )
        })?;
        match containers.as_array().map(Vec::as_slice) {
            Some([container]) => match state_pid(container) {
                Some(pid) => Ok(pid),
                None => Err(format!(
                    "{self}: not running ({})",
                    container["State"]["Status"].as_str().unwrap_or("no state")
                )),
            },
            Some([]) => Err(format!("{self}: no such container")),
            Some(several) => Err(format!("{self}: names {} containers", several.len())),
            None => Err(format!(
                "{self}: unexpected output from {} container inspect: not a list",
                self.engine
            )),
        }
    }
}

/// The host PID in a container's `inspect` JSON (podman's and docker's alike); `None` unless
/// it runs.
fn state_pid(container: &Value) -> Option<u32> {
    running_pid(&container["State"]["Pid"])
}

/// A PID as the engines give it, `None` unless the container runs (they give PID 0 for a
/// stopped one).
fn running_pid(pid: &Value) -> Option<u32> {
    u32::try_from(pid.as_u64()?).ok().filter(|&pid| pid > 0)
}

/// Why an engine gave no answer.
#[derive(Debug)]
pub(crate) enum EngineError {
    /// Its command is not on `PATH`.
    NotFound(Engine),
    /// Its command failed (docker without a reachable daemon, a broken configuration, ...):
    /// what it said, in one line.
    Failed(String),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::NotFound(engine) => write!(f, "{engine} not found on PATH"),
            EngineError::Failed(why) => f.write_str(why),
        }
    }
}

/// Runs `engine` with `args` to completion, stdin on /dev/null and both outputs captured; kills
/// it after [`ENGINE_TIMEOUT`].
fn run(engine: Engine, args: &[&str]) -> Result<Output, EngineError> {
    let command = engine.command();
    let child = Command::new(command)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => EngineError::NotFound(engine),
            _ => EngineError::Failed(format!("run {command}: {}", OsError(&error))),
        })?;
    // Taken before the child can be reaped (only the thread below reaps it), the pidfd names
    // this very process: the kill cannot hit another one that got its PID.
    let pidfd = pidfd_of(child.id());
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    match receiver.recv_timeout(ENGINE_TIMEOUT) {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) => Err(EngineError::Failed(format!(
            "read from {command}: {}",
            OsError(&error)
        ))),
        Err(_) => {
            if let Some(pidfd) = pidfd {
                let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
            }
            Err(EngineError::Failed(format!(
                "{command} {} did not answer within {} s: killed",
                args.join(" "),
                ENGINE_TIMEOUT.as_secs()
            )))
        }
    }
}

fn pidfd_of(pid: u32) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?)?;
    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
}

/// What an engine said on stderr, in one line: its first `Error` line, else its first line
/// that is no warning (podman and docker may warn first, about their configuration say), else
/// its first line, else its exit status.
fn first_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines = || {
        stderr
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
    };
    let is_warning = |line: &&str| line.starts_with("WARN") || line.contains("level=warning");
    lines()
        .find(|line| line.starts_with("Error"))
        .or_else(|| lines().find(|line| !is_warning(line)))
        .or_else(|| lines().next())
        .map_or_else(|| format!("failed ({})", output.status), str::to_owned)
}

/// A running container as `mntns ps` lists it.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) engine: Engine,
    /// As the engine gives it: raw, to be escaped for printing.
    pub(crate) name: String,
    pub(crate) pid: u32,
}

/// The running containers of `engine`.
pub(crate) fn running(engine: Engine) -> Result<Vec<Running>, EngineError> {
    match engine {
        Engine::Podman => running_podman(),
        Engine::Docker => running_docker(),
    }
}

/// podman gives the PIDs in its listing.
fn running_podman() -> Result<Vec<Running>, EngineError> {
    let listed = json_of(Engine::Podman, &["ps", "--format", "json"])?;
    let mut found = Vec::new();
    for container in listed.as_array().into_iter().flatten() {
        let name = container["Names"][0]
            .as_str()
            .or_else(|| container["Id"].as_str());
        if let (Some(name), Some(pid)) = (name, running_pid(&container["Pid"])) {
            found.push(Running {
                engine: Engine::Podman,
                name: name.to_owned(),
                pid,
            });
        }
    }
    Ok(found)
}

/// docker's listing has no PIDs: the IDs of the running containers, then one `container
/// inspect` of all of them.
fn running_docker() -> Result<Vec<Running>, EngineError> {
    let output = run(Engine::Docker, &["ps", "--quiet", "--no-trunc"])?;
    if !output.status.success() {
        return Err(EngineError::Failed(first_line(&output)));
    }
    let listing = String::from_utf8_lossy(&output.stdout);
    let ids: Vec<&str> = listing.split_whitespace().collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["container", "inspect"];
    args.extend(&ids);
    let output = run(Engine::Docker, &args)?;
    // A container removed since the listing makes inspect fail, after it printed the others.
    let inspected = serde_json::from_slice::<Value>(&output.stdout)
        .map_err(|_| EngineError::Failed(first_line(&output)))?;
    let mut found = Vec::new();
    for container in inspected.as_array().into_iter().flatten() {
        let name = container["Name"]
            .as_str()
            .or_else(|| container["Id"].as_str());
        // Stopped since the listing: no PID, not listed.
        if let (Some(name), Some(pid)) = (name, state_pid(container)) {
            found.push(Running {
                engine: Engine::Docker,
                // docker names carry a leading slash in inspect, not in `docker ps`.
                name: name.strip_prefix('/').unwrap_or(name).to_owned(),
                pid,
            });
        }
    }
    Ok(found)
}

/// Runs `engine` with `args` and parses its stdout as JSON.
fn json_of(engine: Engine, args: &[&str]) -> Result<Value, EngineError> {
    let output = run(engine, args)?;
    if !output.status.success() {
        return Err(EngineError::Failed(first_line(&output)));
    }
    serde_json::from_slice(&output.stdout).map_err(|error| {
        EngineError::Failed(format!(
            "unexpected output from {engine} {}: {error}",
            args.join(" ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_an_engine_prefix_are_containers() {
        assert_eq!(
            ContainerRef::parse("podman:web"),
            Some(Ok(ContainerRef {
                engine: Engine::Podman,
                name: "web".into()
            }))
        );
        assert_eq!(
            ContainerRef::parse("docker:0123abc"),
            Some(Ok(ContainerRef {
                engine: Engine::Docker,
                name: "0123abc".into()
            }))
        );
        assert!(matches!(ContainerRef::parse("docker:"), Some(Err(_))));
        assert_eq!(ContainerRef::parse("./podman:web"), None);
        assert_eq!(ContainerRef::parse("podmanweb"), None);
        assert_eq!(ContainerRef::parse("1234"), None);
    }

    fn said(stderr: &str) -> String {
        use std::os::unix::process::ExitStatusExt;
        first_line(&Output {
            status: std::process::ExitStatus::from_raw(1 << 8),
            stdout: Vec::new(),
            stderr: stderr.into(),
        })
    }

    #[test]
    fn the_line_said_is_the_error_not_a_warning() {
        assert_eq!(
            said("WARNING: Error loading config file: open /root/.docker/config.json: permission denied\nCannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?\n"),
            "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?"
        );
        assert_eq!(
            said("WARN[0000] something\nError: inspecting object: no such container x\n"),
            "Error: inspecting object: no such container x"
        );
        assert_eq!(
            said("WARN[0000] only a warning\n"),
            "WARN[0000] only a warning"
        );
        assert_eq!(said(""), "failed (exit status: 1)");
    }
}
