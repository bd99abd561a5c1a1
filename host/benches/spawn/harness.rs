//! Spawning and timing: the namespace every candidate joins, the ways of spawning a sleeper
//! (`How`), one measurement from just before the spawn until `OK\n` (or the sandbox ready),
//! and the check, once up front, that every crate row takes the way it says.

use crate::reading::Read as ReadKind;
use mntnssandbox_host::{Builder, Hold, NamespaceRef, Way, MNTNS_ENV};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The mount namespace every candidate joins: another process's, as users join a container's
/// (joining our own `/proc/self/ns/mnt` is dearer, and not what users do).
static NAMESPACE: OnceLock<String> = OnceLock::new();

pub fn namespace() -> &'static str {
    NAMESPACE.get().expect("the namespace holder runs")
}

/// The holder's PID, from its namespace's path (`/proc/<pid>/ns/mnt`).
pub fn holder_pid() -> u32 {
    namespace()
        .strip_prefix("/proc/")
        .and_then(|rest| rest.strip_suffix("/ns/mnt"))
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("not a process's namespace: {}", namespace()))
}

/// In the 4 GiB worker and the cold-thread process: the holder's namespace, as the bench
/// passed it.
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
    /// The holder every candidate joins (root's, in the host's user namespace).
    pub fn start() -> NamespaceHolder {
        let holder = NamespaceHolder::spawn(None)
            .unwrap_or_else(|why| panic!("start the namespace holder: {why}"));
        set_namespace(format!("/proc/{}/ns/mnt", holder.pid()));
        holder
    }

    /// A holder in a user and mount namespace of its own made by `uid` (`setpriv` to `uid`,
    /// then `unshare --user --map-root-user --mount`): a rootless container's namespace, owned
    /// by another user namespace, whose root keeps the host's tree.
    pub fn user(uid: u32) -> Result<NamespaceHolder, String> {
        NamespaceHolder::spawn(Some(uid))
    }

    fn spawn(uid: Option<u32>) -> Result<NamespaceHolder, String> {
        let mut command = match uid {
            Some(uid) => {
                let mut command = Command::new("setpriv");
                command
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .args(["--clear-groups", "unshare", "--user", "--map-root-user"]);
                command
            }
            None => Command::new("unshare"),
        };
        let mut child = command
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg("echo ready; read _")
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|error| format!("{command:?}: {error}"))?;
        let stdin = child.stdin.take();
        let mut ready = String::new();
        let read = BufReader::new(child.stdout.take().expect("piped")).read_line(&mut ready);
        // setpriv and unshare exec in place: the holder's PID is the one we spawned.
        let holder = NamespaceHolder { child, stdin };
        match read {
            Ok(_) if ready == "ready\n" => Ok(holder),
            other => Err(format!("{command:?} said {ready:?} ({other:?})")),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
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
    /// The default `Builder` as root with `.process_root(false)` (the namespace is named
    /// `/proc/<holder>/ns/mnt`, which would otherwise be opened through the holder's root): a
    /// thread of ours enters, no process; to the sandbox ready for use. The library keeps its
    /// entering thread for 200 ms after a request: this measures the kept (warm) thread.
    CrateThread(PathBuf),
    /// The same, with a new entering thread: each sample is the first spawn in a fresh
    /// process of this bench (`--cold-thread`), which times only the `spawn()` call.
    CrateThreadCold(PathBuf),
    /// `Builder::new(NamespaceRef::Pid(holder))` with the defaults: through the holder's root,
    /// `/proc/<pid>/root` (no thread, no process, no setns).
    CratePid,
    /// `Raw` of the sleeper, then the open of `/proc/<pid>/root` (`O_PATH | O_DIRECTORY`)
    /// after `OK`: what the crate's sleeper rows do too, without the crate.
    RawRoot(PathBuf),
    /// Not a spawn: a file read (reading.rs).
    Read(ReadKind),
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
    /// From just before the spawn until `OK\n` was read (the sandbox was ready); for a read,
    /// the time of one read.
    pub spawn_to_ok: Duration,
    /// The sleeping process's memory; `None` where there is no process (a sandbox held by
    /// fds, a read).
    pub rss_kib: Option<u64>,
    pub pss_kib: Option<u64>,
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
        How::RawRoot(program) => {
            let mut command = Command::new(program);
            command.env_clear().env(MNTNS_ENV, namespace());
            command
        }
        How::CrateThreadCold(sleeper) => {
            let mut command = Command::new(std::env::current_exe().expect("the bench's own path"));
            command.arg("--cold-thread").arg(namespace()).arg(sleeper);
            command
        }
        How::CrateHeld(_)
        | How::CrateHeldEmbedded
        | How::CrateDetached(_)
        | How::CrateThread(_)
        | How::CratePid
        | How::Read(_) => {
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
    let (path, hold, threads, process_root) = match how {
        How::CrateHeld(path) => (Some(path), Hold::Sleeper, true, true),
        How::CrateHeldEmbedded => (None, Hold::Sleeper, true, true),
        How::CrateDetached(path) => (Some(path), Hold::Fds, false, true),
        How::CrateThread(path) | How::CrateThreadCold(path) => (Some(path), Hold::Fds, true, false),
        How::CratePid => return Builder::new(NamespaceRef::Pid(holder_pid())),
        _ => unreachable!("not a host crate spawn: {how:?}"),
    };
    let builder = Builder::new(NamespaceRef::Path(mount.into()))
        .hold(hold)
        .threads(threads)
        .process_root(process_root)
        .timeout(Duration::from_secs(10));
    match path {
        Some(path) => builder.sleeper(path),
        None => builder,
    }
}

/// Checks, once up front, that every crate row takes the way it says (`Sandbox::way`), and
/// that the thread path and the PID path need no sleeper at all while `crate-detached` does.
/// `embedded`: whether `crate-held-memfd` is measured (it runs the embedded sleeper).
pub fn check_paths(sleeper: &Path, embedded: bool) {
    let expect = |how: &How, way: Way| {
        let sandbox = builder(how, namespace())
            .spawn()
            .unwrap_or_else(|error| panic!("{how:?} (are we root?): {error}"));
        assert_eq!(
            sandbox.way(),
            way,
            "{how:?} took the wrong way: {sandbox:?}"
        );
        sandbox.close().expect("close the sandbox");
    };
    let missing = PathBuf::from("/nonexistent/mntnssandbox");
    expect(&How::CratePid, Way::ProcessRoot);
    expect(&How::CrateThread(missing.clone()), Way::Thread);
    expect(&How::CrateThread(sleeper.to_owned()), Way::Thread);
    expect(&How::CrateDetached(sleeper.to_owned()), Way::Sleeper);
    expect(&How::CrateHeld(sleeper.to_owned()), Way::Sleeper);
    if embedded {
        assert_eq!(
            Builder::default_sleeper().ok(),
            Some(mntnssandbox_host::Sleeper::Embedded),
            "crate-held-memfd must run the embedded sleeper"
        );
        expect(&How::CrateHeldEmbedded, Way::Sleeper);
    }
    assert!(
        builder(&How::CrateDetached(missing), namespace())
            .spawn()
            .is_err(),
        "crate-detached must spawn a sleeper"
    );
    // The cold-thread process checks its own way, and that no entering thread ran before.
    measure(&How::CrateThreadCold(sleeper.to_owned()));
}

/// How often a `crate-thread` sample found no entering thread kept (it ends after 200 ms
/// idle) and was preceded by an untimed spawn to start one, and how many samples there were.
static THREAD_RESTARTED: AtomicUsize = AtomicUsize::new(0);
static THREAD_SAMPLES: AtomicUsize = AtomicUsize::new(0);

/// Forgets the counts of the warm-up rounds.
pub fn reset_thread_restarts() {
    THREAD_RESTARTED.store(0, Ordering::Relaxed);
    THREAD_SAMPLES.store(0, Ordering::Relaxed);
}

/// (restarted, samples) for `crate-thread` since the last reset.
pub fn thread_restarts() -> (usize, usize) {
    (
        THREAD_RESTARTED.load(Ordering::Relaxed),
        THREAD_SAMPLES.load(Ordering::Relaxed),
    )
}

/// The thread id of the library's entering thread (`mntnssandbox-enter`, which comm cuts to
/// 15 bytes), if one runs in this process.
pub fn entering_thread() -> Option<u32> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .flatten()
        .find(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.starts_with("mntnssandbox-en"))
        })
        .and_then(|task| task.file_name().to_str()?.parse().ok())
}

/// The cold-thread process (`--cold-thread NAMESPACE SLEEPER`): with no entering thread in
/// this fresh process yet, times one `spawn()` by the thread path and prints its nanoseconds.
pub fn cold_thread(sleeper: &Path) -> i32 {
    if let Some(tid) = entering_thread() {
        eprintln!("cold thread: an entering thread ({tid}) runs already");
        return 1;
    }
    let builder = builder(&How::CrateThread(sleeper.to_owned()), namespace());
    let start = Instant::now();
    let spawned = builder.spawn();
    let elapsed = start.elapsed();
    match spawned {
        Ok(sandbox) if sandbox.way() == Way::Thread => {
            println!("{}", elapsed.as_nanos());
            let _ = sandbox.close();
            0
        }
        Ok(sandbox) => {
            eprintln!("cold thread: took the wrong way: {sandbox:?}");
            1
        }
        Err(error) => {
            eprintln!("cold thread: {error}");
            1
        }
    }
}

/// One timed `spawn()` of a crate way; for `CrateThread`, of the kept entering thread (started
/// first, untimed, if it had ended; a sample whose thread changed under it is taken again).
fn crate_spawn(how: &How) -> (Duration, mntnssandbox_host::Sandbox) {
    let builder = builder(how, namespace());
    let thread = matches!(how, How::CrateThread(_));
    if thread {
        THREAD_SAMPLES.fetch_add(1, Ordering::Relaxed);
    }
    for _ in 0..3 {
        let before = if thread {
            entering_thread().or_else(|| {
                THREAD_RESTARTED.fetch_add(1, Ordering::Relaxed);
                let warm = builder.spawn().expect("start the entering thread");
                drop(warm);
                entering_thread()
            })
        } else {
            None
        };
        let start = Instant::now();
        let sandbox = builder
            .spawn()
            .unwrap_or_else(|error| panic!("host crate spawn ({how:?}): {error}"));
        let elapsed = start.elapsed();
        if !thread || (before.is_some() && entering_thread() == before) {
            return (elapsed, sandbox);
        }
        drop(sandbox);
    }
    panic!("{how:?}: the entering thread changed under three samples in a row");
}

/// Spawns once, waits for `OK\n` (or the sandbox ready), reads the sleeping process's memory,
/// kills and reaps it. Sandboxes held by fds have no process: no RSS or PSS.
pub fn measure(how: &How) -> Sample {
    if let How::CrateHeld(_)
    | How::CrateHeldEmbedded
    | How::CrateDetached(_)
    | How::CrateThread(_)
    | How::CratePid = how
    {
        let (spawn_to_ok, sandbox) = crate_spawn(how);
        let (rss_kib, pss_kib) = match sandbox.pid() {
            Some(pid) => {
                let (rss, pss) = memory(pid).expect("smaps_rollup of the sleeper");
                (Some(rss), Some(pss))
            }
            None => (None, None),
        };
        sandbox.close().expect("close the sandbox");
        return Sample {
            spawn_to_ok,
            rss_kib,
            pss_kib,
        };
    }
    if let How::CrateThreadCold(_) = how {
        return Sample {
            spawn_to_ok: cold_sample(how),
            rss_kib: None,
            pss_kib: None,
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
    let pid = child.0.id();
    let root = match how {
        How::RawRoot(_) => Some(
            rustix::fs::open(
                format!("/proc/{pid}/root").as_str(),
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .unwrap_or_else(|error| panic!("open /proc/{pid}/root: {error}")),
        ),
        _ => None,
    };
    let spawn_to_ok = start.elapsed();
    drop(root);
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
        rss_kib: Some(rss_kib),
        pss_kib: Some(pss_kib),
    }
}

/// One sample of `crate-thread-cold`: the time the fresh process reports for its `spawn()`.
fn cold_sample(how: &How) -> Duration {
    let output = command(how)
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|error| panic!("run the cold-thread process: {error}"));
    let text = String::from_utf8_lossy(&output.stdout);
    match text.trim().parse() {
        Ok(nanos) if output.status.success() => Duration::from_nanos(nanos),
        _ => panic!(
            "the cold-thread process failed ({}): {text:?} {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
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
