//! Shared helpers for the integration tests: which binary to run, spawning it with a controlled
//! environment and fds, holder processes that own a namespace, bounded waits on output and on
//! `/proc`, and guards that kill and reap every process a test starts.
//!
//! No dev-dependencies: the few libc calls needed in a forked child (execve with a raw
//! environment, fd shuffling) are declared here directly; std links libc anyway.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

pub mod elf;

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::raw::{c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// Every wait for something that must happen is bounded by this.
pub const DEADLINE: Duration = Duration::from_secs(5);
/// How long we watch for something that must *not* happen (more output, an exit).
pub const QUIET: Duration = Duration::from_millis(300);
/// The sleeper's exit status on any failure.
pub const EXIT_FAILURE: i32 = 66;
/// The unprivileged user the tests switch to.
pub const NOBODY: u32 = 65534;

mod sys {
    use std::os::raw::{c_char, c_int};
    extern "C" {
        pub fn geteuid() -> u32;
        pub fn execve(
            path: *const c_char,
            argv: *const *const c_char,
            envp: *const *const c_char,
        ) -> c_int;
        pub fn pipe(fds: *mut c_int) -> c_int;
        pub fn pipe2(fds: *mut c_int, flags: c_int) -> c_int;
        pub fn dup2(old: c_int, new: c_int) -> c_int;
        pub fn close(fd: c_int) -> c_int;
        pub fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
        pub fn strerror(errnum: c_int) -> *const c_char;
    }
}

/// The binary under test: `MNTNSSANDBOX_TEST_BINARY` if set (CI points it at the musl build),
/// else the one cargo built for this test run.
pub fn binary() -> PathBuf {
    match std::env::var_os("MNTNSSANDBOX_TEST_BINARY") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_mntnssandbox")),
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { sys::geteuid() == 0 }
}

/// True (after saying so loudly) if the calling test must be skipped for lack of root.
pub fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        false
    } else {
        eprintln!("SKIPPED: {test} needs root");
        true
    }
}

// ---------------------------------------------------------------------------------------------
// lxkns' failure lines.

/// glibc's strerror(3) text for `errno`, the one lxkns' sleeper prints.
pub fn strerror(errno: i32) -> String {
    // SAFETY: glibc's strerror returns a valid NUL-terminated string for any number, which
    // stays valid until the next call; it is copied at once (tests calling it concurrently
    // only ever read the static texts of known numbers).
    unsafe { std::ffi::CStr::from_ptr(sys::strerror(errno)) }
        .to_string_lossy()
        .into_owned()
}

/// The line lxkns' own sleeper writes (without the newline) when open(2) of the `kind`
/// (`user` or `mount`) namespace reference `path` fails with `errno`.
pub fn invalid_reference(kind: &str, path: &str, errno: i32) -> String {
    format!(
        "package mntnssandbox: invalid {kind} namespace reference \"{path}\": {}",
        strerror(errno)
    )
}

/// The line lxkns' own sleeper writes (without the newline) when setns(2) fails.
pub fn cannot_join(kind: &str, path: &str, errno: i32) -> String {
    format!(
        "package mntnssandbox: cannot join {kind} namespace using reference \"{path}\": {}",
        strerror(errno)
    )
}

pub const ENOENT: i32 = 2;
pub const EPERM: i32 = 1;
pub const EBADF: i32 = 9;
pub const EAGAIN: i32 = 11;
pub const EACCES: i32 = 13;
pub const EINVAL: i32 = 22;
pub const EPIPE: i32 = 32;
pub const ENAMETOOLONG: i32 = 36;

// ---------------------------------------------------------------------------------------------
// Output streams read with bounded waits.

/// One output pipe of a child, drained by a thread; the chunks come in as read(2) returned them.
pub struct Stream {
    what: String,
    rx: Receiver<Vec<u8>>,
    /// Everything received so far.
    pub bytes: Vec<u8>,
    /// The same, as the individual reads returned it.
    pub chunks: Vec<Vec<u8>>,
    pub eof: bool,
}

impl Stream {
    pub fn new(mut reader: impl Read + Send + 'static, what: impl Into<String>) -> Self {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Self {
            what: what.into(),
            rx,
            bytes: Vec::new(),
            chunks: Vec::new(),
            eof: false,
        }
    }

    /// Receives one chunk, waiting until `deadline`; false on EOF or timeout.
    fn receive(&mut self, deadline: Instant) -> bool {
        if self.eof {
            return false;
        }
        let timeout = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(timeout) {
            Ok(chunk) => {
                self.bytes.extend_from_slice(&chunk);
                self.chunks.push(chunk);
                true
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.eof = true;
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
        }
    }

    /// Waits (bounded by DEADLINE) until at least `n` bytes have arrived or the stream ends.
    pub fn wait_for_bytes(&mut self, n: usize) -> &[u8] {
        let deadline = Instant::now() + DEADLINE;
        while self.bytes.len() < n && !self.eof && Instant::now() < deadline {
            self.receive(deadline);
        }
        &self.bytes
    }

    /// Waits (bounded by DEADLINE) until a full line has arrived; panics if none does.
    pub fn wait_for_line(&mut self) -> String {
        let deadline = Instant::now() + DEADLINE;
        while !self.bytes.contains(&b'\n') {
            if !self.receive(deadline) && (self.eof || Instant::now() >= deadline) {
                panic!(
                    "timed out or EOF waiting {DEADLINE:?} for a line on {}; got {:?}",
                    self.what,
                    show(&self.bytes)
                );
            }
        }
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Waits (bounded by DEADLINE) for the stream to end; panics if it does not.
    pub fn wait_for_eof(&mut self) -> &[u8] {
        let deadline = Instant::now() + DEADLINE;
        while !self.eof {
            if !self.receive(deadline) && !self.eof && Instant::now() >= deadline {
                panic!(
                    "timed out waiting {DEADLINE:?} for EOF on {}; got so far {:?}",
                    self.what,
                    show(&self.bytes)
                );
            }
        }
        &self.bytes
    }

    /// Watches the stream for `QUIET` and returns whatever new bytes came in (EOF is fine).
    pub fn news_within_quiet_period(&mut self) -> Vec<u8> {
        let before = self.bytes.len();
        let deadline = Instant::now() + QUIET;
        while !self.eof && Instant::now() < deadline {
            self.receive(deadline);
        }
        self.bytes[before..].to_vec()
    }
}

/// Bytes as a readable string for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Spawning the sleeper.

/// A command for the binary under test with exactly the given environment, stdin from
/// /dev/null and stdout and stderr piped.
pub fn sleeper_command(env: &[(&str, &OsStr)]) -> Command {
    exactly(Command::new(binary()), env.iter().copied())
}

/// `wrapper` (`setpriv`, `unshare`, ... with its arguments) running the binary under test, as
/// [`sleeper_command`] runs it: with exactly `env` (the wrapper's too), stdin from /dev/null,
/// stdout and stderr piped.
pub fn sleeper_through<K, V>(mut wrapper: Command, env: impl IntoIterator<Item = (K, V)>) -> Command
where
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    wrapper.arg(binary());
    exactly(wrapper, env)
}

fn exactly<K, V>(mut command: Command, env: impl IntoIterator<Item = (K, V)>) -> Command
where
    K: AsRef<OsStr>,
    V: AsRef<OsStr>,
{
    command
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// `sleeper_command` for string values.
pub fn sleeper_with(env: &[(&str, &str)]) -> Command {
    let env: Vec<(&str, &OsStr)> = env.iter().map(|(k, v)| (*k, OsStr::new(*v))).collect();
    sleeper_command(&env)
}

/// Raw pointers for a pre_exec closure; they point into CStrings the closure also owns.
struct RawArgs {
    _strings: Vec<CString>,
    path: *const c_char,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
}
// SAFETY: the pointers are only dereferenced by execve in the forked child; the strings they
// point into are owned by the same struct and never mutated.
unsafe impl Send for RawArgs {}
// SAFETY: as above; nothing is ever written through these pointers.
unsafe impl Sync for RawArgs {}

/// Makes `command` exec the binary under test with exactly `entries` as its environment, in
/// this order and duplicates included (std's Command would deduplicate names).
pub fn with_raw_environment(command: &mut Command, entries: &[&[u8]]) {
    let path = CString::new(binary().as_os_str().as_bytes()).expect("binary path has no NUL");
    let env: Vec<CString> = entries
        .iter()
        .map(|entry| CString::new(*entry).expect("environment entry has no NUL"))
        .collect();
    let mut envp: Vec<*const c_char> = env.iter().map(|entry| entry.as_ptr()).collect();
    envp.push(std::ptr::null());
    let argv = vec![path.as_ptr(), std::ptr::null()];
    let path_ptr = path.as_ptr();
    let mut strings = env;
    strings.push(path);
    let raw = RawArgs {
        _strings: strings,
        path: path_ptr,
        argv,
        envp,
    };
    // SAFETY: execve is async-signal-safe and everything it reads was allocated before fork.
    unsafe {
        command.pre_exec(move || {
            // Borrow the whole struct so the closure captures it (and its Send/Sync) whole.
            let raw = &raw;
            sys::execve(raw.path, raw.argv.as_ptr(), raw.envp.as_ptr());
            Err(io::Error::last_os_error())
        });
    }
}

fn check(ret: c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// A pipe, close-on-exec on both ends (so no other child inherits it): (read end, write end).
pub fn cloexec_pipe() -> (File, OwnedFd) {
    /// O_CLOEXEC on x86_64 and aarch64 alike.
    const O_CLOEXEC: c_int = 0o2_000_000;
    let mut fds = [-1 as c_int; 2];
    // SAFETY: pipe2 writes two fds into the array.
    check(unsafe { sys::pipe2(fds.as_mut_ptr(), O_CLOEXEC) }).expect("pipe2");
    // SAFETY: both fds were just created and are owned by nobody else.
    unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Makes `fd`'s open file description (shared by every copy of it) non-blocking.
pub fn set_nonblocking(fd: &impl AsRawFd) {
    /// fcntl commands and the flag, on x86_64 and aarch64 alike.
    const F_GETFL: c_int = 3;
    const F_SETFL: c_int = 4;
    const O_NONBLOCK: c_int = 0o4000;
    let fd = fd.as_raw_fd();
    // SAFETY: F_GETFL and F_SETFL read and set the flags of an fd we own; no pointers.
    let flags = unsafe { sys::fcntl(fd, F_GETFL) };
    check(flags).expect("fcntl F_GETFL");
    // SAFETY: as above.
    check(unsafe { sys::fcntl(fd, F_SETFL, flags | O_NONBLOCK) }).expect("fcntl F_SETFL");
}

/// Closes `fd` in the child just before exec (after std set up stdio).
pub fn close_in_child(command: &mut Command, fd: c_int) {
    // SAFETY: close is async-signal-safe.
    unsafe {
        command.pre_exec(move || check(sys::close(fd)));
    }
}

/// Makes the child's stdout a pipe whose read end is already closed (created in the child,
/// so no other process can hold the read end).
pub fn broken_pipe_as_stdout(command: &mut Command) {
    // SAFETY: pipe, dup2 and close are async-signal-safe; no allocation happens in the child.
    unsafe {
        command.pre_exec(|| {
            let mut fds = [0 as c_int; 2];
            check(sys::pipe(fds.as_mut_ptr()))?;
            check(sys::close(fds[0]))?;
            check(sys::dup2(fds[1], 1))?;
            check(sys::close(fds[1]))
        });
    }
}

/// Hands `fd` to the child as `target`, without close-on-exec.
pub fn inherit_fd_as(command: &mut Command, fd: &OwnedFd, target: c_int) {
    const F_SETFD: c_int = 2;
    let raw = fd.as_raw_fd();
    // SAFETY: dup2 and fcntl are async-signal-safe; `fd` is open in the parent when it forks.
    unsafe {
        command.pre_exec(move || {
            if raw == target {
                // dup2 onto itself would leave close-on-exec set.
                check(sys::fcntl(raw, F_SETFD, 0 as c_int))
            } else {
                check(sys::dup2(raw, target))
            }
        });
    }
}

/// A running child whose stdout and stderr are drained; killed and reaped on drop.
pub struct Spawned {
    pub child: Child,
    pub what: String,
    pub stdin: Option<ChildStdin>,
    pub stdout: Stream,
    pub stderr: Stream,
    status: Option<ExitStatus>,
}

pub fn spawn(command: &mut Command, what: &str) -> Spawned {
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let stdin = child.stdin.take();
    let stdout = match child.stdout.take() {
        Some(out) => Stream::new(out, format!("stdout of {what}")),
        None => Stream::new(io::empty(), format!("(no) stdout of {what}")),
    };
    let stderr = match child.stderr.take() {
        Some(err) => Stream::new(err, format!("stderr of {what}")),
        None => Stream::new(io::empty(), format!("(no) stderr of {what}")),
    };
    Spawned {
        child,
        what: what.into(),
        stdin,
        stdout,
        stderr,
        status: None,
    }
}

impl Spawned {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Non-blocking: has it exited (and been reaped) yet?
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Waits, bounded by `limit`, for the child to exit; panics saying what we waited for.
    pub fn wait_exit_within(&mut self, limit: Duration, waiting_for: &str) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{} did not exit within {limit:?} ({waiting_for}); stderr so far: {:?}",
                    self.what,
                    show(&self.stderr.bytes)
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits for the `OK\n` handshake (bounded) and checks it arrived whole, in one read.
    pub fn expect_ok(&mut self) {
        let got = self.stdout.wait_for_bytes(3).to_vec();
        if got != b"OK\n" {
            let status = self.exited();
            self.stderr.news_within_quiet_period();
            panic!(
                "waited {DEADLINE:?} for exactly \"OK\\n\" on stdout of {}; got {:?}, \
                 status {status:?}, stderr {:?}",
                self.what,
                show(&got),
                show(&self.stderr.bytes)
            );
        }
        assert_eq!(
            self.stdout.chunks.first().map(Vec::as_slice),
            Some(&b"OK\n"[..]),
            "the handshake must come in one write"
        );
    }

    /// Waits (bounded) for exit and for both output streams to end.
    pub fn finish(&mut self, waiting_for: &str) -> Outcome {
        let status = self.wait_exit_within(DEADLINE, waiting_for);
        let stdout = self.stdout.wait_for_eof().to_vec();
        let stderr = self.stderr.wait_for_eof().to_vec();
        Outcome {
            status,
            stdout,
            stderr,
            stderr_chunks: self.stderr.chunks.clone(),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// How a process ended and everything it wrote.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stderr_chunks: Vec<Vec<u8>>,
}

impl Outcome {
    /// The failure contract: exit 66, nothing on stdout, exactly `line` (plus newline) on
    /// stderr, in one write.
    pub fn assert_failure(&self, line: &str) {
        self.assert_failure_after("", line);
    }

    /// The failure contract for a failure after the handshake: `OK\n` on stdout and nothing
    /// else, then as [`Outcome::assert_failure`].
    pub fn assert_failure_after_ok(&self, line: &str) {
        self.assert_failure_after("OK\n", line);
    }

    fn assert_failure_after(&self, stdout: &str, line: &str) {
        let expected = format!("{line}\n");
        assert_eq!(
            show(&self.stderr),
            expected,
            "stderr (status {:?}, stdout {:?})",
            self.status,
            show(&self.stdout)
        );
        assert_eq!(
            self.status.signal(),
            None,
            "killed by a signal: {:?}",
            self.status
        );
        assert_eq!(self.status.code(), Some(EXIT_FAILURE), "exit status");
        assert_eq!(
            show(&self.stdout),
            stdout,
            "stdout on failure: nothing, or only the handshake before a failure after it"
        );
        assert_eq!(
            self.stderr_chunks.len(),
            1,
            "the error line must come in one write"
        );
    }
}

/// Runs the binary with `command` and waits (bounded) for it to end.
pub fn run_to_end(command: &mut Command, what: &str) -> Outcome {
    let mut spawned = spawn(command, what);
    spawned.finish("a failing sleeper must exit at once")
}

/// Runs the binary with exactly this environment and expects failure with `line`.
pub fn expect_failure(env: &[(&str, &str)], line: &str) {
    let outcome = run_to_end(&mut sleeper_with(env), "sleeper expected to fail");
    outcome.assert_failure(line);
}

// ---------------------------------------------------------------------------------------------
// Holders: processes that own a namespace, ready once they said so.

/// A process sitting in its own namespaces; it ends when its stdin closes, or is killed on drop.
pub struct Holder {
    pub process: Spawned,
}

impl Holder {
    /// Spawns `command` (whose script must print `ready` once set up and then read stdin).
    pub fn start(mut command: Command, what: &str) -> Self {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = spawn(&mut command, what);
        let deadline = Instant::now() + DEADLINE;
        while !process.stdout.bytes.ends_with(b"ready\n") {
            if !process.stdout.receive(deadline)
                && (process.stdout.eof || Instant::now() >= deadline)
            {
                let _ = process.stderr.news_within_quiet_period();
                panic!(
                    "waited {DEADLINE:?} for {what} to print ready; stdout {:?}, stderr {:?}, status {:?}",
                    show(&process.stdout.bytes),
                    show(&process.stderr.bytes),
                    process.exited()
                );
            }
        }
        Self { process }
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn ns_path(&self, kind: &str) -> String {
        format!("/proc/{}/ns/{kind}", self.pid())
    }
}

/// The script a holder runs in its new mount namespace: a tmpfs on /mnt with a marker file.
pub fn holder_script(marker_file: &str, content: &str) -> String {
    format!(
        "mount -t tmpfs none /mnt && echo {content} > /mnt/{marker_file} && echo ready && read _"
    )
}

/// Root: a holder in a fresh private mount namespace with `hello` in /mnt/marker.
pub fn mount_holder() -> Holder {
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(holder_script("marker", "hello"));
    Holder::start(command, "mount namespace holder")
}

/// Root: a holder run as root in a new user namespace (root's, with root mapped to itself)
/// and a new mount namespace, `marker` in /mnt/m: a container that root started.
pub fn root_userns_holder() -> Holder {
    let mut command = Command::new("unshare");
    command
        .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg(holder_script("m", "marker"));
    Holder::start(command, "root's user+mount namespace holder")
}

/// Root: a holder run as nobody in a new user and mount namespace, `marker` in /mnt/m.
pub fn unprivileged_userns_holder() -> Holder {
    let mut command = Command::new("setpriv");
    command
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .args([
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
        ])
        .arg(holder_script("m", "marker"));
    Holder::start(command, "unprivileged user+mount namespace holder")
}

// ---------------------------------------------------------------------------------------------
// /proc observations.

pub fn ns_link(pid: impl std::fmt::Display, kind: &str) -> String {
    let path = format!("/proc/{pid}/ns/{kind}");
    std::fs::read_link(&path)
        .unwrap_or_else(|e| panic!("readlink {path}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// The state letter from /proc/<pid>/stat (`S`, `R`, `Z`, ...); None once the pid is gone.
pub fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.trim_start().chars().next()
}

/// The open fds of `pid`, sorted.
pub fn open_fds(pid: u32) -> Vec<u32> {
    let dir = format!("/proc/{pid}/fd");
    let mut fds: Vec<u32> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|entry| {
            entry
                .expect("fd entry")
                .file_name()
                .to_str()
                .and_then(|name| name.parse().ok())
                .expect("numeric fd")
        })
        .collect();
    fds.sort_unstable();
    fds
}

/// A `Name: value` field of /proc/<pid>/status or /proc/<pid>/io.
pub fn proc_field(pid: u32, file: &str, field: &str) -> String {
    let path = format!("/proc/{pid}/{file}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in {path}"))
        .trim()
        .to_owned()
}

/// Polls (bounded by `limit`) until `probe` returns Some.
pub fn wait_until<T>(
    limit: Duration,
    waiting_for: &str,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("waited {limit:?} for {waiting_for}");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Asserts that `pid` is alive and asleep (state S), i.e. blocked rather than spinning or gone.
pub fn assert_asleep(pid: u32) {
    // A process that was just woken (e.g. by reading /proc) may briefly be R; give it a moment.
    let mut last = None;
    let deadline = Instant::now() + DEADLINE;
    loop {
        last = state(pid).or(last.and(Some('-')));
        match last {
            Some('S') => return,
            None | Some('-') | Some('Z') | Some('X') => {
                panic!("pid {pid} must be alive and asleep, but its state is {last:?} (- = gone)")
            }
            _ if Instant::now() >= deadline => {
                panic!(
                    "waited {DEADLINE:?} for pid {pid} to be asleep (state S); last state {last:?}"
                )
            }
            _ => thread::sleep(Duration::from_millis(5)),
        }
    }
}

pub fn write_all(stdin: &mut ChildStdin, data: &[u8]) {
    stdin.write_all(data).expect("write to child's stdin");
    stdin.flush().expect("flush child's stdin");
}
