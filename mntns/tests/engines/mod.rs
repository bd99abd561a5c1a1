//! Shared by the engine tests (`podman.rs`, `docker.rs`): a private podman configured by files
//! alone, an engine's command with the environment that makes it ours, root filesystems whose
//! process is our sleeper, and the checks that nothing an engine started is left behind.
//!
//! No registry and no image from outside: every image is imported from a tarball made here.

#![allow(dead_code)]

use crate::common::{mntns, run, run_bounded, sleeper, wait_readable, TempDir, WAIT};
use rustix::fd::{AsRawFd, OwnedFd};
use std::cell::RefCell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The environment the sleeper needs as a container's process: hold its own mount namespace.
pub const SLEEPER_ENV: &str = "sleepy_mntns=/proc/self/ns/mnt";

/// An engine's command with the environment that points it at a private instance (podman's
/// configuration files, docker's daemon socket), and the processes of the containers it ran.
pub struct EngineCli {
    program: &'static str,
    env: Vec<(&'static str, OsString)>,
    /// pidfds of the containers' processes, taken while they ran, to see them go.
    processes: RefCell<Vec<(String, OwnedFd)>>,
}

impl EngineCli {
    pub fn new(program: &'static str, env: Vec<(&'static str, OsString)>) -> Self {
        EngineCli {
            program,
            env,
            processes: RefCell::new(Vec::new()),
        }
    }

    pub fn program(&self) -> &'static str {
        self.program
    }

    /// Puts this engine's environment on `command` (and takes out what could point elsewhere).
    pub fn configure<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command.env_remove("DOCKER_CONTEXT");
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.program);
        self.configure(&mut command).args(args);
        command
    }

    /// Runs the engine to completion (bounded); panics with its stderr unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let (status, stdout, stderr) = run(self.command(args));
        assert!(
            status.success(),
            "{} {args:?}: {status}\n{stderr}",
            self.program
        );
        stdout.trim().to_owned()
    }

    /// A Go template of `container inspect` (containers only, never an image).
    pub fn inspect(&self, container: &str, format: &str) -> String {
        self.ok(&["container", "inspect", "--format", format, container])
    }

    pub fn pid(&self, container: &str) -> u32 {
        let pid = self.inspect(container, "{{.State.Pid}}");
        pid.parse()
            .unwrap_or_else(|_| panic!("{container}: State.Pid {pid:?}"))
    }

    pub fn import(&self, tarball: &Path, image: &str) {
        let tarball = tarball.to_str().expect("a UTF-8 path");
        match self.program {
            // podman reports progress on stderr unless quiet; docker has no --quiet for import.
            "podman" => self.ok(&["import", "--quiet", tarball, image]),
            _ => self.ok(&["import", tarball, image]),
        };
    }

    /// Runs `/sleeper` of `image` as container `name` with no network, waits for its `OK`, and
    /// returns its full ID and its host PID.
    pub fn run_sleeper(&self, name: &str, image: &str) -> (String, u32) {
        let mut args = vec!["run", "--detach", "--name", name, "--env", SLEEPER_ENV];
        // podman has `netns = "none"` in its containers.conf.
        if self.program == "docker" {
            args.extend(["--network", "none"]);
        }
        args.extend([image, "/sleeper"]);
        let id = self.ok(&args);
        self.wait_for_ok(name);
        let pid = self.pid(name);
        let process = rustix::process::Pid::from_raw(pid as i32).expect("a PID");
        let pidfd = rustix::process::pidfd_open(process, rustix::process::PidfdFlags::empty())
            .unwrap_or_else(|error| panic!("pidfd of {name}'s process {pid}: {error}"));
        self.processes.borrow_mut().push((name.to_owned(), pidfd));
        (id, pid)
    }

    /// Stops a sleeper container: it exits 0 on SIGTERM as PID 1.
    pub fn stop(&self, container: &str) {
        self.ok(&["stop", "--time", "10", container]);
        assert_eq!(self.inspect(container, "{{.State.ExitCode}}"), "0");
    }

    /// Waits (bounded) until the container's output is exactly the sleeper's `OK\n`.
    pub fn wait_for_ok(&self, container: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, stdout, stderr) = run(self.command(&["logs", container]));
            if status.success() && stdout == "OK\n" {
                return;
            }
            let state = self.inspect(container, "{{.State.Status}} {{.State.ExitCode}}");
            assert!(
                !state.starts_with("exited"),
                "container {container} {state} without OK (stdout {stdout:?}, stderr {stderr:?})"
            );
            assert!(
                Instant::now() < deadline,
                "{}: container {container} did not say OK within {WAIT:?} (logs {stdout:?})",
                self.program
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Removes every container (killed, not stopped), then waits (bounded) for their
    /// processes to be gone; returns what went wrong. Never panics: it runs in `Drop`, maybe
    /// while a failed test unwinds.
    pub fn remove_all_containers(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut run_or_note = |args: &[&str]| {
            let outcome = run_bounded(self.command(args), 1 << 20);
            match outcome.status {
                Some(status) if status.success() => {}
                Some(status) => problems.push(format!(
                    "{} {args:?}: {status}: {}",
                    self.program, outcome.err
                )),
                None => problems.push(format!(
                    "{} {args:?} still running after {WAIT:?}: killed",
                    self.program
                )),
            }
            String::from_utf8_lossy(&outcome.out).into_owned()
        };
        let listed = run_or_note(&["ps", "--all", "--quiet"]);
        let ids: Vec<&str> = listed.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "--force"];
            // podman would stop them first, for up to 10 s; docker kills at once.
            if self.program == "podman" {
                args.extend(["--time", "0"]);
            }
            args.extend(&ids);
            run_or_note(&args);
        }
        for (name, pidfd) in self.processes.borrow().iter() {
            if !wait_readable(pidfd.as_raw_fd(), WAIT) {
                problems.push(format!(
                    "the process of container {name} still runs after {WAIT:?}"
                ));
            }
        }
        problems
    }
}

/// `mntns` with the environment of each engine given.
pub fn mntns_with(engines: &[&EngineCli], args: &[&str]) -> Command {
    let mut command = mntns();
    for engine in engines {
        engine.configure(&mut command);
    }
    command.args(args);
    command
}

/// Whether `program --version` runs.
pub fn available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// A root filesystem tarball in `dir`: our static sleeper as `/sleeper` (the container's
/// process: it says `OK` once up, holds, and exits 0 on SIGTERM), and `/etc/os-release` with
/// `os_release` if given.
pub fn rootfs_tarball(dir: &Path, tag: &str, os_release: Option<&[u8]>) -> PathBuf {
    let rootfs = dir.join(format!("rootfs-{tag}"));
    std::fs::create_dir_all(rootfs.join("etc")).expect("create rootfs/etc");
    if let Some(os_release) = os_release {
        std::fs::write(rootfs.join("etc/os-release"), os_release).expect("write os-release");
    }
    std::fs::copy(sleeper(), rootfs.join("sleeper")).expect("copy the sleeper");
    let tarball = dir.join(format!("rootfs-{tag}.tar"));
    let mut tar = Command::new("tar");
    tar.arg("-C").arg(&rootfs).arg("-cf").arg(&tarball).arg(".");
    let (status, _, stderr) = run(tar);
    assert!(status.success(), "tar: {stderr}");
    tarball
}

/// The PRETTY_NAME of a test container of `engine`, unique to this run.
pub fn pretty_name(engine: &str) -> String {
    format!("{engine} test rootfs {}", std::process::id())
}

/// An os-release for a test container with [`pretty_name`].
pub fn os_release(engine: &str) -> String {
    format!(
        "PRETTY_NAME=\"{}\"\nID=mntnssandbox-test\n",
        pretty_name(engine)
    )
}

/// A PRETTY_NAME out to take over the terminal: a new title, a cleared screen, a second line.
pub const HOSTILE_OS_RELEASE: &[u8] =
    b"PRETTY_NAME=\"evil\x1b]0;pwned\x07\x1b[2J\nsecond line\"\nID=hostile\n";

/// How `mntns ps` prints it: escaped as `mntns ls` escapes names, its spaces kept.
pub const HOSTILE_ESCAPED: &str = r"evil\033]0;pwned\a\033[2J\nsecond line";

/// The mount points at or under `dir`, from /proc/self/mountinfo (the engines run in our mount
/// namespace).
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_str().expect("a UTF-8 path");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|mount_point| *mount_point == dir || mount_point.starts_with(&format!("{dir}/")))
        .map(str::to_owned)
        .collect()
}

/// Processes (ours aside) whose command line names something under `dir`: an engine's daemons,
/// monitors and shims.
pub fn processes_under(dir: &Path) -> Vec<(u32, String)> {
    // With the slash: another test's `...-1` is not under `...-10`.
    let needle = format!("{}/", dir.to_str().expect("a UTF-8 path")).into_bytes();
    let me = std::process::id();
    let mut found = Vec::new();
    for pid in crate::common::processes() {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        if pid != me
            && cmdline
                .windows(needle.len())
                .any(|window| window == needle.as_slice())
        {
            let shown = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            found.push((pid, shown));
        }
    }
    found
}

/// Waits (bounded) until no process names `dir`; returns those still there.
pub fn wait_no_processes_under(dir: &Path, timeout: Duration) -> Vec<(u32, String)> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = processes_under(dir);
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Unmounts (lazily, deepest first) whatever is still mounted under `dir`, so that removing it
/// cannot reach into a mount; returns what was there.
pub fn unmount_leftovers(dir: &Path) -> Vec<String> {
    let mut left = mounts_under(dir);
    left.sort_by_key(|mount_point| std::cmp::Reverse(mount_point.len()));
    for mount_point in &left {
        let mut umount = Command::new("umount");
        umount.args(["--lazy", mount_point]);
        let _ = run(umount);
    }
    left
}

/// Reports cleanup problems: a panic, unless the test is failing already (then on stderr, so
/// that the first failure stays the one reported).
pub fn report_cleanup(what: &str, problems: &[String]) {
    if problems.is_empty() {
        return;
    }
    let message = format!("{what} left things behind:\n  {}", problems.join("\n  "));
    if std::thread::panicking() {
        eprintln!("{message}");
    } else {
        panic!("{message}");
    }
}

/// A private podman: its own storage, run state, locks and network configuration, set by the
/// files named in `CONTAINERS_CONF` and `CONTAINERS_STORAGE_CONF` alone (no podman flags), so
/// that any process given that environment — `mntns` — sees the same containers. What works on
/// these machines: runc (crun refuses hybrid cgroups here), cgroupfs, file events, no network,
/// file locks, vfs storage, ulimits within a root without CAP_SYS_RESOURCE.
pub struct Podman {
    pub cli: EngineCli,
    dir: TempDir,
}

impl Podman {
    pub fn new() -> Self {
        let dir = TempDir::new("podman");
        let path = dir.path().to_str().expect("a UTF-8 temp dir");
        assert!(
            !path.contains(['"', '\\']),
            "{path:?} cannot go into a TOML string as it is"
        );
        let containers_conf = format!(
            r#"[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "{path}/tmp"
lock_type = "file"

[network]
network_config_dir = "{path}/networks"
"#
        );
        let storage_conf = format!(
            r#"[storage]
driver = "vfs"
graphroot = "{path}/graph"
runroot = "{path}/run"
"#
        );
        let containers = dir.write("containers.conf", &containers_conf, 0o644);
        let storage = dir.write("storage.conf", &storage_conf, 0o644);
        let cli = EngineCli::new(
            "podman",
            vec![
                ("CONTAINERS_CONF", containers.into()),
                ("CONTAINERS_STORAGE_CONF", storage.into()),
            ],
        );
        Podman { cli, dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Podman {
    /// Containers first (a tmpfs of each is mounted under our dir, a conmon watches each), then
    /// the check that nothing is left; the temp dir goes after this.
    fn drop(&mut self) {
        let mut problems = self.cli.remove_all_containers();
        // conmon outlives `rm --force` by up to ~100 ms.
        for (pid, cmdline) in wait_no_processes_under(self.dir(), WAIT) {
            problems.push(format!(
                "process {pid} still runs after {WAIT:?}: {cmdline}"
            ));
        }
        for mount_point in unmount_leftovers(self.dir()) {
            problems.push(format!("mount {mount_point}"));
        }
        report_cleanup("the private podman", &problems);
    }
}

/// What `mntns ps` prints for these rows (ENGINE, NAME, PID, PRETTY_NAME, already escaped):
/// a header, then every column but the last padded to its widest cell, two spaces apart.
pub fn ps_table(rows: &[[&str; 4]]) -> String {
    let header = ["ENGINE", "NAME", "PID", "PRETTY_NAME"];
    let lines: Vec<[&str; 4]> = std::iter::once(header)
        .chain(rows.iter().copied())
        .collect();
    let width = |column: usize| {
        lines
            .iter()
            .map(|line| line[column].len())
            .max()
            .unwrap_or(0)
    };
    let (engine, name, pid) = (width(0), width(1), width(2));
    lines
        .iter()
        .map(|[e, n, p, pretty]| format!("{e:<engine$}  {n:<name$}  {p:<pid$}  {pretty}\n"))
        .collect()
}

/// A docker command that reaches no daemon (a socket path where nothing listens), so that
/// `mntns ps` in a podman test skips docker the same way wherever it runs.
pub fn unreachable_docker(dir: &Path) -> EngineCli {
    let host = format!("unix://{}/no-dockerd.sock", dir.display());
    EngineCli::new("docker", vec![("DOCKER_HOST", host.into())])
}

/// Asserts that `command` fails with exit status 1 and exactly `line` on stderr.
#[track_caller]
pub fn assert_fails_with(command: Command, line: &str) {
    let described = format!("{command:?}");
    let (status, out, err) = run(command);
    assert_eq!(
        status.code(),
        Some(1),
        "{described}: {status}, stderr {err:?}"
    );
    assert_eq!(out, "", "{described}");
    assert_eq!(err, format!("{line}\n"), "{described}");
}
