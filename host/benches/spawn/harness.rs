//! Spawning and timing: the namespace every candidate joins, the ways of spawning a sleeper
//! (`How`), and one measurement from just before the spawn until `OK\n`.

use mntnssandbox_host::{Builder, Hold, NamespaceRef, MNTNS_ENV};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The mount namespace every candidate joins: another process's, as users join a container's
/// (joining our own `/proc/self/ns/mnt` is dearer, and not what users do).
static NAMESPACE: OnceLock<String> = OnceLock::new();

pub fn namespace() -> &'static str {
    NAMESPACE.get().expect("the namespace holder runs")
}

/// In the 4 GiB worker: the holder's namespace, as the bench passed it.
pub fn set_namespace(path: String) {
    NAMESPACE.set(path).expect("one namespace");
}

/// A process in a mount namespace of its own (`unshare --mount`), for the candidates to join;
/// ends when dropped.
pub struct NamespaceHolder {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl NamespaceHolder {
    pub fn start() -> NamespaceHolder {
        let mut child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg("echo ready; read _")
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the namespace holder (unshare --mount)");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut ready)
            .expect("read the holder's ready line");
        assert_eq!(ready, "ready\n", "the namespace holder did not start");
        // unshare execs sh in place: the holder's PID is the one we spawned.
        let path = format!("/proc/{}/ns/mnt", child.id());
        set_namespace(path);
        let stdin = child.stdin.take();
        NamespaceHolder { child, stdin }
    }
}

impl Drop for NamespaceHolder {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// One way of getting a process to say `OK`.
#[derive(Clone, Debug)]
pub enum How {
    /// `Command` with an empty environment but `sleepy_mntns`, stdout piped, read `OK\n`; with
    /// `join`, the namespace as argument too (for the floor that joins it first).
    Raw { program: PathBuf, join: bool },
    /// The same with a no-op `pre_exec`, which makes std fork+exec instead of posix_spawn.
    RawPreExec(PathBuf),
    /// `nsenter --mount=NS -- sh -c 'echo OK; exec sleep 1000000'`.
    Nsenter,
    /// `Builder::new(NS).sleeper(path).spawn()` of the host crate: a held sleeper, to the
    /// sandbox ready for use.
    CrateHeld(PathBuf),
    /// The same without `.sleeper(path)`: the embedded sleeper, run from its sealed memfd.
    CrateHeldEmbedded,
    /// The same with `.threads(false)` and the default `Hold::Fds`: a sleeper spawned, joined,
    /// let go; to the fd-held sandbox ready for use.
    CrateDetached(PathBuf),
    /// The default `Builder` as root: a thread of ours enters, no process; to the sandbox
    /// ready for use.
    CrateThread(PathBuf),
}

impl How {
    pub fn raw(program: &Path) -> How {
        How::Raw {
            program: program.to_owned(),
            join: false,
        }
    }
}

/// What one spawn measured.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// From just before the spawn until `OK\n` was read (the sandbox was ready).
    pub spawn_to_ok: Duration,
    pub rss_kib: u64,
    pub pss_kib: u64,
}

/// A child killed and reaped when dropped, whatever happened.
pub struct Held(pub Child);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `Command` for a candidate spawned without the host crate: an empty environment but the
/// namespace, as the crate gives its sleepers; stdin `/dev/null`, stdout piped.
pub fn command(how: &How) -> Command {
    let mut command = match how {
        How::Raw { program, join } => {
            let mut command = Command::new(program);
            command.env_clear().env(MNTNS_ENV, namespace());
            if *join {
                command.arg(namespace());
            }
            command
        }
        How::RawPreExec(program) => {
            let mut command = Command::new(program);
            command.env_clear().env(MNTNS_ENV, namespace());
            // SAFETY: the closure does nothing at all, so it is async-signal-safe.
            unsafe {
                command.pre_exec(|| Ok(()));
            }
            command
        }
        How::Nsenter => {
            let mut command = Command::new("nsenter");
            command
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .arg(format!("--mount={}", namespace()))
                .args(["--", "sh", "-c", "echo OK; exec sleep 1000000"]);
            command
        }
        How::CrateHeld(_)
        | How::CrateHeldEmbedded
        | How::CrateDetached(_)
        | How::CrateThread(_) => {
            unreachable!("the host crate spawns by itself")
        }
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    command
}

/// The host crate's `Builder` for a `Crate*` way of spawning into the namespace at `mount`.
pub fn builder(how: &How, mount: &str) -> Builder {
    let (path, hold, threads) = match how {
        How::CrateHeld(path) => (Some(path), Hold::Sleeper, true),
        How::CrateHeldEmbedded => (None, Hold::Sleeper, true),
        How::CrateDetached(path) => (Some(path), Hold::Fds, false),
        How::CrateThread(path) => (Some(path), Hold::Fds, true),
        _ => unreachable!("not a host crate spawn: {how:?}"),
    };
    let builder = Builder::new(NamespaceRef::Path(mount.into()))
        .hold(hold)
        .threads(threads)
        .timeout(Duration::from_secs(10));
    match path {
        Some(path) => builder.sleeper(path),
        None => builder,
    }
}

/// Checks that the thread path is what `CrateThread` measures and a sleeper what
/// `CrateDetached` does: with no sleeper to run, only the thread path can succeed.
pub fn check_paths() {
    assert_eq!(
        Builder::default_sleeper().ok(),
        Some(mntnssandbox_host::Sleeper::Embedded),
        "crate-held-memfd must run the embedded sleeper: unset $MNTNSSANDBOX_BINARY"
    );
    let missing = How::CrateThread(PathBuf::from("/nonexistent/mntnssandbox"));
    if let Err(error) = builder(&missing, namespace()).spawn() {
        panic!("crate-thread would not measure the thread path (are we root?): {error}");
    }
    let missing = How::CrateDetached(PathBuf::from("/nonexistent/mntnssandbox"));
    assert!(
        builder(&missing, namespace()).spawn().is_err(),
        "crate-detached must spawn a sleeper"
    );
}

/// Spawns once, waits for `OK\n`, reads the sleeping process's memory, kills and reaps it.
/// Sandboxes held by fds have no process: their RSS and PSS are 0.
pub fn measure(how: &How) -> Sample {
    if let How::CrateHeld(_)
    | How::CrateHeldEmbedded
    | How::CrateDetached(_)
    | How::CrateThread(_) = how
    {
        let builder = builder(how, namespace());
        let start = Instant::now();
        let sandbox = builder
            .spawn()
            .unwrap_or_else(|error| panic!("host crate spawn ({how:?}): {error}"));
        let spawn_to_ok = start.elapsed();
        let (rss_kib, pss_kib) = match sandbox.pid() {
            Some(pid) => memory(pid).expect("smaps_rollup of the sleeper"),
            None => (0, 0),
        };
        sandbox.close().expect("close the sandbox");
        return Sample {
            spawn_to_ok,
            rss_kib,
            pss_kib,
        };
    }
    let mut command = command(how);
    let start = Instant::now();
    let child = command
        .spawn()
        .unwrap_or_else(|error| panic!("spawn {how:?}: {error}"));
    let mut child = Held(child);
    let mut stdout = child.0.stdout.take().expect("stdout is piped");
    read_ok(&mut stdout).unwrap_or_else(|error| panic!("{how:?}: {error}"));
    let spawn_to_ok = start.elapsed();
    let pid = child.0.id();
    if let How::Nsenter = how {
        // sh said OK and is about to exec sleep: measure the sleeping `sleep`.
        let deadline = Instant::now() + Duration::from_secs(2);
        while std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c != "sleep\n")
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let (rss_kib, pss_kib) = memory(pid).expect("smaps_rollup of the sleeper");
    drop(child);
    Sample {
        spawn_to_ok,
        rss_kib,
        pss_kib,
    }
}

pub fn read_ok(stdout: &mut ChildStdout) -> io::Result<()> {
    let mut ok = [0u8; 3];
    stdout.read_exact(&mut ok)?;
    if &ok != b"OK\n" {
        return Err(io::Error::other(format!("said {ok:?}, not OK")));
    }
    Ok(())
}

/// `Rss` and `Pss` of a process in KiB, from /proc/PID/smaps_rollup.
pub fn memory(pid: u32) -> io::Result<(u64, u64)> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let field = |name: &str| {
        rollup
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| io::Error::other(format!("no {name} in smaps_rollup of {pid}")))
    };
    Ok((field("Rss:")?, field("Pss:")?))
}
