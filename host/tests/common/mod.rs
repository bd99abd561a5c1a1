//! Shared by the integration tests: the sleeper binary, temp dirs, bounded waits and runs, and
//! counting our children and fds (here); throwaway containers (`container.rs`); what hostile
//! tests plant (`fixtures.rs`). Real kernel, real namespaces; every wait is bounded.

#![allow(dead_code)]

mod container;
mod fixtures;

// Each test binary uses its own share of them.
#[allow(unused_imports)]
pub use container::*;
#[allow(unused_imports)]
pub use fixtures::*;

use mntnssandbox_host::{Builder, Hold, NamespaceRef};
use rustix::fd::AsRawFd as _;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// The unprivileged user tests run as, or make rootless containers for.
pub const NOBODY: u32 = 65534;

/// The longest any test waits for anything.
pub const WAIT: Duration = Duration::from_secs(10);

/// The sleeper: `$MNTNSSANDBOX_TEST_BINARY`, or the release build, built once.
pub fn sleeper() -> PathBuf {
    static SLEEPER: OnceLock<PathBuf> = OnceLock::new();
    SLEEPER
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("MNTNSSANDBOX_TEST_BINARY") {
                return PathBuf::from(path);
            }
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            let status = Command::new(env!("CARGO"))
                .args(["build", "--release", "-p", "mntnssandbox"])
                .current_dir(&workspace)
                .status()
                .expect("run cargo build for the sleeper");
            assert!(
                status.success(),
                "cargo build --release -p mntnssandbox failed: {status}"
            );
            let path = workspace.join("target/release/mntnssandbox");
            assert!(path.exists(), "no sleeper at {}", path.display());
            path
        })
        .clone()
}

/// The `mntns` command built for these tests (the mntns package's tests only, which include
/// this module by its path).
pub fn mntns() -> Command {
    match option_env!("CARGO_BIN_EXE_mntns") {
        Some(program) => Command::new(program),
        None => panic!("mntns is built for the mntns package's tests only"),
    }
}

/// `mntns --sleeper S <args>` run by `setpriv <setpriv>`: as another user ([`as_user`]), or
/// with fewer capabilities.
pub fn mntns_under_setpriv(setpriv: &[String], args: &[&str]) -> Command {
    let mut command = Command::new("setpriv");
    command
        .args(setpriv)
        .arg(mntns().get_program())
        .arg("--sleeper")
        .arg(sleeper())
        .args(args);
    command
}

/// setpriv's arguments to run as `uid`, with the same gid and no supplementary groups.
pub fn as_user(uid: u32) -> [String; 3] {
    [
        format!("--reuid={uid}"),
        format!("--regid={uid}"),
        "--clear-groups".into(),
    ]
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Returns from the test, loudly, unless we are root.
#[macro_export]
macro_rules! require_root {
    ($test:expr) => {
        if !common::is_root() {
            eprintln!("SKIPPED: {} needs root", $test);
            return;
        }
    };
}

/// Takes CAP_SYS_ADMIN out of this thread's bounding, effective and permitted sets for good
/// (prctl and capset act on the calling thread only): the thread can no longer enter a mount
/// namespace by itself, and the sleepers it spawns (whose exec as root grants them the bounding
/// set) are refused with EPERM when they join another process's namespace. The real sleeper's
/// own refusal, for tests that want one.
pub fn give_up_sys_admin() {
    use rustix::thread::{capabilities, set_capabilities, CapabilitySet};
    if is_root() {
        rustix::thread::remove_capability_from_bounding_set(CapabilitySet::SYS_ADMIN)
            .expect("PR_CAPBSET_DROP CAP_SYS_ADMIN");
    }
    let mut sets = capabilities(None).expect("capget");
    sets.effective -= CapabilitySet::SYS_ADMIN;
    sets.permitted -= CapabilitySet::SYS_ADMIN;
    set_capabilities(None, sets).expect("capset without CAP_SYS_ADMIN");
}

/// Tests that count children or fds must not overlap with others in the same binary.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The PIDs in /proc right now.
pub fn processes() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("list /proc")
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .collect()
}

/// Our child processes right now, as (pid, state), zombies included.
pub fn children() -> Vec<(u32, char)> {
    let me = std::process::id();
    let mut found = Vec::new();
    for pid in processes() {
        // Gone already, or not ours: skip.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(after_comm) = stat.rfind(')').map(|at| &stat[at + 1..]) else {
            continue;
        };
        let mut fields = after_comm.split_whitespace();
        let state = fields
            .next()
            .and_then(|state| state.chars().next())
            .unwrap_or('?');
        let ppid: u32 = fields
            .next()
            .and_then(|ppid| ppid.parse().ok())
            .unwrap_or(0);
        if ppid == me {
            found.push((pid, state));
        }
    }
    found
}

/// The PIDs of our child processes right now (their states change under us).
pub fn child_pids() -> Vec<u32> {
    children().into_iter().map(|(pid, _)| pid).collect()
}

/// How many fds this process has open.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("list /proc/self/fd")
        .count()
}

/// Asserts that `work` leaves no child process and no fd behind.
pub fn assert_no_leaks<T>(what: &str, work: impl FnOnce() -> T) -> T {
    let (children_before, fds_before) = (child_pids(), fd_count());
    let result = work();
    let after = children();
    let zombies: Vec<_> = after.iter().filter(|(_, state)| *state == 'Z').collect();
    assert!(
        zombies.is_empty(),
        "{what}: zombies left behind: {zombies:?}"
    );
    assert_eq!(
        child_pids(),
        children_before,
        "{what}: child processes left behind: {after:?}"
    );
    assert_eq!(fd_count(), fds_before, "{what}: fds left open");
    result
}

/// A directory removed with everything in it when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("mntnssandbox-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes a file with the given mode.
    pub fn write(&self, name: &str, contents: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write a temp file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .expect("chmod a temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `fd` turns readable (or hangs up) within `timeout`.
pub fn wait_readable(fd: i32, timeout: Duration) -> bool {
    // SAFETY: the caller keeps the fd open for the call.
    let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(fd) };
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [rustix::event::PollFd::new(
            &fd,
            rustix::event::PollFlags::IN,
        )];
        let spec = rustix::event::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: left.subsec_nanos().into(),
        };
        match rustix::event::poll(&mut fds, Some(&spec)) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            Err(errno) => panic!("poll: {errno:?}"),
        }
    }
}

/// Waits for our child to exit, bounded (through a pidfd), and reaps it.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> bool {
    wait_gone(child.id(), timeout) && child.wait().is_ok()
}

/// Whether process `pid` has exited (gone, or a zombie) within `timeout`, through a pidfd.
pub fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let Some(rpid) = rustix::process::Pid::from_raw(pid as i32) else {
        return true;
    };
    match rustix::process::pidfd_open(rpid, rustix::process::PidfdFlags::empty()) {
        Ok(pidfd) => wait_readable(pidfd.as_raw_fd(), timeout),
        Err(_) => true,
    }
}

/// Waits (bounded) for our child to exit and reaps it; kills it after `timeout` (→ `None`).
pub fn wait_exit_status(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    if wait_gone(child.id(), timeout) {
        child.wait().ok()
    } else {
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

/// Runs a command to completion with a bound, returning (status, stdout, stderr); a command
/// still running after [`WAIT`] is killed and fails the test.
pub fn run(command: Command) -> (std::process::ExitStatus, String, String) {
    let described = format!("{command:?}");
    let outcome = run_bounded(command, 64 << 20);
    let status = outcome
        .status
        .unwrap_or_else(|| panic!("{described} still running after {WAIT:?}: killed"));
    let out = String::from_utf8(outcome.out).expect("UTF-8 output");
    (status, out, outcome.err)
}

/// How a command run by [`run_bounded`] ended.
pub struct Bounded {
    /// Its exit status; `None` if it was still running after [`WAIT`] and was killed.
    pub status: Option<std::process::ExitStatus>,
    /// Its stdout, up to the cap given (reading stops there).
    pub out: Vec<u8>,
    /// Its stderr, up to 64 KiB.
    pub err: String,
}

/// Runs a command with both outputs drained by threads as they come, stdout up to `out_cap`
/// bytes: a command that hangs, or streams without end, is killed after [`WAIT`] and reported
/// as such instead of hanging the test.
pub fn run_bounded(mut command: Command, out_cap: u64) -> Bounded {
    use std::thread;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("spawn {command:?}: {error}"));
    let drain = |pipe: Box<dyn Read + Send>, cap: u64| {
        thread::spawn(move || {
            let mut data = Vec::new();
            // Stops at the cap: the command then gets EPIPE, or is killed below.
            let _ = pipe.take(cap).read_to_end(&mut data);
            data
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()), out_cap);
    let err = drain(Box::new(child.stderr.take().unwrap()), 64 * 1024);
    let status = wait_exit_status(&mut child, WAIT);
    Bounded {
        status,
        out: out.join().expect("stdout reader"),
        err: String::from_utf8_lossy(&err.join().expect("stderr reader")).into_owned(),
    }
}

/// Runs `work` on another thread and returns its result, or panics naming `what` if it takes
/// longer than [`WAIT`] (the thread is left blocked: the test has failed anyway).
pub fn within_wait<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    receiver
        .recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("{what}: no result within {WAIT:?} (it hangs)"))
}
