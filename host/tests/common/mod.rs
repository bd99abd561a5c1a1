//! Shared by the integration tests: the sleeper binary, throwaway containers, temp dirs, and
//! counting our children and fds. Real kernel, real namespaces; every wait is bounded.

#![allow(dead_code)]

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

/// A throwaway container: a private mount namespace (plus a user namespace unless we are
/// root, or when asked to run as another user) whose root is a fresh tmpfs.
///
/// A shell, started through `unshare`, mounts a tmpfs over a staging directory, runs `setup`
/// in it (`$S` is the staging path), makes it the root as container runtimes do
/// (`pivot_root`, the old root detached: the namespace's root, the one setns(2) gives, and the
/// holder's own, the one `/proc/<pid>/root` gives), says `ready` and waits on stdin, with
/// builtins only from then on (the old root's programs are gone). The staging directory is a
/// host temp dir, so that the same absolute path exists on the host with other contents.
pub struct Container {
    holder: Child,
    stdin: Option<ChildStdin>,
    user_ns: bool,
    staging: TempDir,
}

const CONTAINER_SCRIPT: &str = r#"set -eu
S="$1"
mount -n -t tmpfs -o mode=0755 container "$S"
cd "$S"
eval "$2"
mkdir "$S/.old-root"
pivot_root "$S" "$S/.old-root"
cd /
echo ready
read _ || true
"#;

/// Where the container's old root was put by `pivot_root`. The container's shell has no
/// programs left (their loader was in the old root), so the test detaches the old root (with
/// `umount` run inside the old root itself, through nsenter) and removes the directory.
const OLD_ROOT: &str = ".old-root";

/// A namespace that keeps the host's root, as `unshare -U -r -m` gives any local user: `setup`
/// runs in the host's `/`, with mounts of the namespace's own.
const HOST_ROOT_SCRIPT: &str = r#"set -eu
eval "$2"
echo ready
read _ || true
"#;

impl Container {
    /// As ourselves: root gets a plain mount namespace, others a user+mount namespace.
    pub fn new(setup: &str) -> Self {
        Self::spawn(setup, None, CONTAINER_SCRIPT)
    }

    /// As `uid`/`gid` (via setpriv; needs root), always in a user+mount namespace.
    pub fn as_user(setup: &str, uid: u32) -> Self {
        Self::spawn(setup, Some(uid), CONTAINER_SCRIPT)
    }

    /// A user+mount namespace made by `uid` (via setpriv; `None`: ourselves) whose root stays
    /// the host's, with its whole tree: what `unshare -U -r -m` gives any local user. `setup`
    /// runs inside (as the namespace's root), in the host's `/`.
    pub fn keeping_host_root(setup: &str, uid: Option<u32>) -> Self {
        // As root, through setpriv as uid 0: the same path, a user namespace all the same.
        let uid = if is_root() { uid.or(Some(0)) } else { uid };
        Self::spawn(setup, uid, HOST_ROOT_SCRIPT)
    }

    fn spawn(setup: &str, uid: Option<u32>, script: &str) -> Self {
        let staging = TempDir::new("container");
        let user_ns = uid.is_some() || !is_root();
        let mut command = match uid {
            Some(uid) => {
                let mut command = Command::new("setpriv");
                command.args([
                    format!("--reuid={uid}"),
                    format!("--regid={uid}"),
                    "--clear-groups".into(),
                    "unshare".into(),
                ]);
                command
            }
            None => Command::new("unshare"),
        };
        if user_ns {
            command.args(["--user", "--map-root-user"]);
        }
        command
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(staging.path())
            .arg(setup)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut holder = command
            .spawn()
            .expect("spawn the container holder (unshare)");
        let stdin = holder.stdin.take();
        let stdout = holder.stdout.take().expect("piped stdout");
        let ready = wait_readable(stdout.as_raw_fd(), WAIT);
        let mut line = String::new();
        if ready {
            BufReader::new(stdout)
                .read_line(&mut line)
                .expect("read the holder's ready line");
        }
        if line == "ready\n" && script == CONTAINER_SCRIPT {
            detach_old_root(holder.id(), user_ns);
        }
        if line != "ready\n" {
            let _ = holder.kill();
            let _ = holder.wait();
            let mut stderr = String::new();
            let _ = holder
                .stderr
                .take()
                .expect("piped")
                .read_to_string(&mut stderr);
            panic!(
                "container holder not ready within {WAIT:?} (got {line:?}); its stderr: {stderr}"
            );
        }
        Container {
            holder,
            stdin,
            user_ns,
            staging,
        }
    }

    pub fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// The host directory whose path the container's staging directory shared.
    pub fn staging(&self) -> &TempDir {
        &self.staging
    }

    /// Whether the sleeper must join the holder's user namespace too.
    pub fn in_user_ns(&self) -> bool {
        self.user_ns
    }

    /// `mntns --sleeper S [--userns PID] <args...>` for this container.
    pub fn mntns(&self, args: &[&str]) -> Command {
        let mut command = mntns();
        command.arg("--sleeper").arg(sleeper());
        if self.user_ns {
            command.args(["--userns", &self.pid().to_string()]);
        }
        command.args(args);
        command
    }

    /// A builder for this container's mount namespace, with the test sleeper, held by it
    /// (most tests are about sleepers; see `fd_builder`).
    pub fn builder(&self) -> Builder {
        self.fd_builder().hold(Hold::Sleeper)
    }

    /// A builder for this container's mount namespace with the defaults: held by descriptors
    /// (through a thread where we may enter by ourselves), with the test sleeper.
    pub fn fd_builder(&self) -> Builder {
        let builder = Builder::new(NamespaceRef::Pid(self.pid())).sleeper(sleeper());
        if self.user_ns {
            builder.user_namespace(NamespaceRef::Pid(self.pid()))
        } else {
            builder
        }
    }
}

impl Drop for Container {
    /// Closes the holder's stdin and waits (bounded) for it to exit; kills it otherwise.
    fn drop(&mut self) {
        drop(self.stdin.take());
        if !wait_exit(&mut self.holder, WAIT) {
            let _ = self.holder.kill();
            let _ = self.holder.wait();
            if !std::thread::panicking() {
                panic!(
                    "container holder {} did not exit within {WAIT:?}",
                    self.holder.id()
                );
            }
        }
    }
}

/// Detaches the old root of container holder `pid` and removes its directory (see
/// [`OLD_ROOT`]).
fn detach_old_root(pid: u32, user_ns: bool) {
    let old_root = format!("/proc/{pid}/root/{OLD_ROOT}");
    let mut umount = Command::new("nsenter");
    umount.arg(format!("--target={pid}"));
    if user_ns && !is_root() {
        umount.arg("--user");
    }
    umount
        .arg("--mount")
        .arg(format!("--root={old_root}"))
        .args(["umount", "-n", "-l", "/"]);
    let (status, _, err) = run(umount);
    assert!(
        status.success(),
        "detach the old root of {pid}: {status}: {err}"
    );
    std::fs::remove_dir(&old_root).unwrap_or_else(|error| panic!("rmdir {old_root}: {error}"));
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

/// The host's procfs and sysfs mounted in a (rootful) container, with links into them.
pub const PSEUDO_SETUP: &str = r#"
mkdir proc sys etc
mount -t proc proc proc
mount -t sysfs sysfs sys
ln -s /proc/self/environ etc/os-release
ln -s /proc/self/cmdline cmdline
ln -s /sys/kernel/uevent_seqnum seqnum
"#;

/// A group the reading thread has (set by the test), and nobody else.
pub const GROUP: u32 = 4242;

/// Host files around a namespace: `secret` (0600, root's), `grouped` (0040, readable by
/// [`GROUP`] only), `public` (0644), `private/` (0700, root's) holding `inner` (0644), in a
/// directory any user may search.
pub struct HostFiles {
    dir: TempDir,
}

impl HostFiles {
    pub fn new() -> Self {
        let dir = TempDir::new("authority");
        std::fs::set_permissions(
            dir.path(),
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
        )
        .expect("chmod the host dir");
        dir.write("secret", "root-only host secret\n", 0o600);
        dir.write("public", "world-readable\n", 0o644);
        let grouped = dir.write("grouped", "for group 4242\n", 0o040);
        std::os::unix::fs::chown(grouped, None, Some(GROUP)).expect("chgrp grouped");
        std::fs::create_dir(dir.path().join("private")).expect("mkdir private");
        std::fs::write(dir.path().join("private/inner"), "behind a 0700 dir\n").expect("inner");
        std::fs::set_permissions(
            dir.path().join("private"),
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700),
        )
        .expect("chmod private");
        HostFiles { dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// What the namespace's user plants: its own tmpfs on /mnt with a file of its root's, a
    /// link to the host's secret, and the host directory bind-mounted in.
    pub fn planted(&self) -> String {
        format!(
            "mount -t tmpfs planted /mnt; echo own > /mnt/own; chmod 600 /mnt/own; \
             ln -s {secret} /mnt/os-release; mkdir /mnt/bound; mount --bind {dir} /mnt/bound",
            secret = self.path("secret"),
            dir = self.dir.path().display(),
        )
    }
}

/// An outer namespace (a user and mount namespace of root's, keeping the host's tree, with a
/// tmpfs of its own at `only_inside` that no other namespace sees) holding, under `ns/`, a
/// bind mount of an inner mount namespace (`inner`) and of a user namespace (`user`), a link to
/// it (`link`), a link into procfs (`magic`) and a FIFO (`fifo`): for chained references. The
/// inner namespace is made from inside the outer one (so it is newer, as the kernel requires
/// of a namespace bound into another, and of the same user namespace) and holds `file`
/// (`inner\n`) at [`Nested::inner_file`].
pub struct Nested {
    pub only_inside: TempDir,
    pub outer: Container,
    inner: Child,
    inner_stdin: Option<ChildStdin>,
}

impl Nested {
    pub fn new() -> Self {
        let only_inside = TempDir::new("only-inside");
        let dir = only_inside.path().display().to_string();
        let outer = Container::keeping_host_root(
            &format!(
                "mount -t tmpfs outer {dir}; mkdir {dir}/ns {dir}/inner-root; \
                 touch {dir}/ns/inner {dir}/ns/user; \
                 ln -s /proc/self/ns/mnt {dir}/ns/magic; mkfifo {dir}/ns/fifo; \
                 ln -s {dir}/ns/inner {dir}/ns/link"
            ),
            None,
        );
        let inside_outer = |command: &mut Command| {
            command
                .arg(format!("--target={}", outer.pid()))
                .args(["--user", "--mount"]);
        };
        let start_inner = || {
            let mut inner = Command::new("nsenter");
            inside_outer(&mut inner);
            inner
                .args(["unshare", "--mount", "--propagation", "private", "sh", "-c"])
                .arg(format!(
                    "set -e; mount -t tmpfs inner {dir}/inner-root; \
                     echo inner > {dir}/inner-root/file; echo ready; read _ || true"
                ))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped());
            let mut inner = inner
                .spawn()
                .expect("nsenter ... unshare, the inner namespace");
            let stdout = inner.stdout.take().expect("piped");
            assert!(
                wait_readable(stdout.as_raw_fd(), WAIT),
                "no ready from the inner namespace within {WAIT:?}"
            );
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).expect("read");
            assert_eq!(line, "ready\n", "the inner namespace did not come up");
            inner
        };
        let bind = |inner: &Child, what: &str, file: &str| {
            let mut bind = Command::new("nsenter");
            inside_outer(&mut bind);
            bind.args(["mount", "--bind"])
                .arg(format!("/proc/{}/ns/{what}", inner.id()))
                .arg(format!("{dir}/ns/{file}"));
            run(bind)
        };
        // The kernel binds a mount namespace's file only into a namespace whose id is lower
        // (no loop); on Linux 6.18 ids are reused, so a newer namespace may have a lower one
        // (EINVAL about half the time, seen here): another inner namespace is made until one
        // binds. (nsenter execs unshare, which execs sh: the inner holder is the PID spawned.)
        let mut attempts = Vec::new();
        let mut inner = loop {
            let mut inner = start_inner();
            let (status, _, err) = bind(&inner, "mnt", "inner");
            if status.success() {
                break inner;
            }
            attempts.push(err);
            drop(inner.stdin.take());
            assert!(
                wait_exit(&mut inner, WAIT),
                "the refused inner namespace did not end"
            );
            assert!(
                attempts.len() < 20,
                "no inner namespace could be bound: {attempts:?}"
            );
        };
        let inner_stdin = inner.stdin.take();
        let (status, _, err) = bind(&inner, "user", "user");
        assert!(status.success(), "bind the inner's user namespace: {err}");
        Nested {
            only_inside,
            outer,
            inner,
            inner_stdin,
        }
    }

    /// The path of `name` under `ns/`, as the outer namespace sees it.
    pub fn inside(&self, name: &str) -> String {
        format!("{}/ns/{name}", self.only_inside.path().display())
    }

    /// The inner namespace's file, as it sees it.
    pub fn inner_file(&self) -> String {
        format!("{}/inner-root/file", self.only_inside.path().display())
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        drop(self.inner_stdin.take());
        if !wait_exit(&mut self.inner, WAIT) {
            let _ = self.inner.kill();
            let _ = self.inner.wait();
        }
    }
}

/// `len` bytes of varied, deterministic content.
pub fn varied_bytes(len: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// A thread that swaps two names in a directory as fast as it can (renameat2
/// `RENAME_EXCHANGE`, atomic), as a hostile container would under a reader, until stopped.
pub struct Swapper {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl Swapper {
    /// Swaps `a` and `b` in the directory `dir` (its own descriptor).
    pub fn start(
        dir: std::os::fd::OwnedFd,
        a: &'static std::ffi::CStr,
        b: &'static std::ffi::CStr,
    ) -> Self {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut swaps = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    // SAFETY: a valid directory descriptor and NUL-terminated names.
                    let swapped = unsafe {
                        libc::renameat2(
                            dir.as_raw_fd(),
                            a.as_ptr(),
                            dir.as_raw_fd(),
                            b.as_ptr(),
                            libc::RENAME_EXCHANGE,
                        )
                    };
                    assert_eq!(
                        swapped,
                        0,
                        "RENAME_EXCHANGE {a:?} and {b:?}: {}",
                        std::io::Error::last_os_error()
                    );
                    swaps += 1;
                }
                swaps
            })
        };
        Swapper { stop, thread }
    }

    /// Stops swapping; how many swaps there were.
    pub fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("the swapper")
    }
}
