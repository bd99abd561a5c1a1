//! Starting the sleeper process: its pipes, its environment, and the spawn itself, by clone3
//! (clone3.rs) where the kernel allows it, else by `std::process::Command`.

use crate::enter::child::Child;
use crate::enter::clone3::{self, Failure, Plan};
use crate::error::from_errno;
use crate::fd::{lend, own};
use rustix::pipe::{pipe_with, PipeFlags};
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Set to `command` to spawn sleepers with `std::process::Command` (posix_spawn) rather than
/// clone3, where clone3 misbehaves in some way other than being refused (a seccomp filter that
/// kills instead of returning ENOSYS or EPERM, say). Read once, at the first spawn.
pub const SPAWNER_ENV: &str = "MNTNSSANDBOX_SPAWNER";

/// Which spawner to use: not decided yet, clone3, or `Command` (forced, or clone3 refused).
static SPAWNER: AtomicU8 = AtomicU8::new(UNDECIDED);
const UNDECIDED: u8 = 0;
const CLONE3: u8 = 1;
const COMMAND: u8 = 2;
/// `Command` with a no-op `pre_exec`, which makes std fork and exec: glibc's posix_spawn
/// itself uses clone3 and falls back only when that says ENOSYS, not EPERM.
const FORK: u8 = 3;

/// Whether the clone3 child may share our descriptor table until it takes its own with the few
/// it needs (slots.rs); cleared for good once the kernel refuses that (close_range).
static SHARE_FILES: AtomicBool = AtomicBool::new(true);

/// A started sleeper, with our ends of its pipes.
pub(crate) struct Launched {
    pub(crate) child: Child,
    /// Non-blocking read ends of its stdout and stderr.
    pub(crate) stdout: OwnedFd,
    pub(crate) stderr: OwnedFd,
    /// The write end of its stdin, when that is a lifeline.
    pub(crate) lifeline: Option<OwnedFd>,
}

pub(crate) enum LaunchError {
    /// Preparing the spawn failed (creating a pipe, opening /dev/null).
    Setup(String, io::Error),
    /// The spawn failed (the program's path, exec errors, fork limits).
    Spawn(io::Error),
    /// `Command` was to spawn while the kernel reaps our children by itself: its pidfd, taken
    /// after the spawn, could name a stranger.
    SigchldIgnored,
}

/// Starts `program` with exactly the environment `env`, stdout and stderr piped to us, and as
/// stdin the read end of a lifeline pipe (`lifeline`) or `/dev/null`.
pub(crate) fn launch(
    program: &Path,
    exec_fd: Option<RawFd>,
    arg0: &OsStr,
    env: &[(&str, &OsStr)],
    lifeline: bool,
) -> Result<Launched, LaunchError> {
    // Every pipe end is close-on-exec: the child's ends are dup'ed into 0, 1 and 2 (which
    // clears the flag there), and the lifeline's write end must reach no other child, or the
    // lifeline would not break when we die. The output pipes are non-blocking from the start
    // for our poll loop; the sleeper's ends are too, which is harmless: it writes at most one
    // line of less than PIPE_BUF into an empty pipe. The lifeline stays blocking, as the
    // sleeper sleeps reading it.
    let output = PipeFlags::CLOEXEC | PipeFlags::NONBLOCK;
    let (stdin, lifeline) = if lifeline {
        let (read, write) = pipe_with(PipeFlags::CLOEXEC).map_err(|errno| {
            LaunchError::Setup("create the lifeline pipe".into(), from_errno(errno))
        })?;
        (own(read), Some(own(write)))
    } else {
        let null = rustix::fs::open(
            c"/dev/null",
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|errno| LaunchError::Setup("open /dev/null".into(), from_errno(errno)))?;
        (own(null), None)
    };
    let (stdout, stdout_child) = pipe_with(output)
        .map_err(|errno| LaunchError::Setup("create the stdout pipe".into(), from_errno(errno)))?;
    let (stderr, stderr_child) = pipe_with(output)
        .map_err(|errno| LaunchError::Setup("create the stderr pipe".into(), from_errno(errno)))?;
    let stdio = [stdin, own(stdout_child), own(stderr_child)].map(above_stdio);
    let [stdin, stdout_child, stderr_child] = match stdio {
        [Ok(stdin), Ok(stdout), Ok(stderr)] => [stdin, stdout, stderr],
        [Err(error), ..] | [_, Err(error), _] | [.., Err(error)] => {
            return Err(LaunchError::Setup("move a pipe above fd 2".into(), error))
        }
    };

    let child = match spawner() {
        CLONE3 => {
            match launch_clone3(
                program,
                exec_fd,
                arg0,
                env,
                [&stdin, &stdout_child, &stderr_child],
            )? {
                Some(child) => child,
                None => launch_command(
                    program,
                    arg0,
                    env,
                    [stdin, stdout_child, stderr_child],
                    spawner() == FORK,
                )?,
            }
        }
        other => launch_command(
            program,
            arg0,
            env,
            [stdin, stdout_child, stderr_child],
            other == FORK,
        )?,
    };
    // The child's ends, if still here, close now: the sleeper holds its own copies.
    Ok(Launched {
        child,
        stdout: own(stdout),
        stderr: own(stderr),
        lifeline,
    })
}

fn spawner() -> u8 {
    match SPAWNER.load(Ordering::Relaxed) {
        UNDECIDED => {
            let forced = std::env::var_os(SPAWNER_ENV).is_some_and(|value| value == "command");
            let choice = if forced { COMMAND } else { CLONE3 };
            SPAWNER.store(choice, Ordering::Relaxed);
            choice
        }
        choice => choice,
    }
}

/// The clone3 way; `None` if the kernel refuses clone3, which is then not tried again.
fn launch_clone3(
    program: &Path,
    exec_fd: Option<RawFd>,
    arg0: &OsStr,
    env: &[(&str, &OsStr)],
    stdio: [&OwnedFd; 3],
) -> Result<Option<Child>, LaunchError> {
    let c_string = |bytes: Vec<u8>| {
        CString::new(bytes).map_err(|_| {
            LaunchError::Spawn(io::Error::new(
                io::ErrorKind::InvalidInput,
                "nul byte found in the sleeper's path or environment",
            ))
        })
    };
    let path = c_string(program.as_os_str().as_bytes().to_vec())?;
    let arg0 = c_string(arg0.as_bytes().to_vec())?;
    let env = env
        .iter()
        .map(|(name, value)| c_string([name.as_bytes(), b"=", value.as_bytes()].concat()))
        .collect::<Result<Vec<_>, _>>()?;
    let plan = Plan::new(path, arg0, env);
    let plan = match exec_fd {
        Some(fd) => plan.exec_fd(fd),
        None => plan,
    };
    let spawned = if SHARE_FILES.load(Ordering::Relaxed) {
        let placed = crate::enter::slots::place(stdio).map_err(|error| {
            LaunchError::Setup("place the sleeper's stdio in low slots".into(), error)
        })?;
        // The child keeps what it execs, too.
        let keep_below = plan
            .needs_fd()
            .map_or(placed.keep_below, |fd| placed.keep_below.max(fd + 1));
        match clone3::spawn(&plan, placed.fds, Some(keep_below)) {
            Err(Failure::Unshare(_, pidfd)) => {
                drop(placed);
                drop(Child::from_pidfd(0, pidfd));
                SHARE_FILES.store(false, Ordering::Relaxed);
                clone3::spawn(&plan, stdio.map(|fd| fd.as_raw_fd()), None)
            }
            spawned => spawned,
        }
    } else {
        clone3::spawn(&plan, stdio.map(|fd| fd.as_raw_fd()), None)
    };
    match spawned {
        Ok((pid, pidfd)) => Ok(Some(Child::from_pidfd(pid, pidfd))),
        Err(Failure::Refused(errno)) => {
            let fallback = if errno == libc::EPERM { FORK } else { COMMAND };
            SPAWNER.store(fallback, Ordering::Relaxed);
            Ok(None)
        }
        Err(Failure::Clone(error)) => Err(LaunchError::Spawn(error)),
        Err(Failure::Exec(error, pidfd)) | Err(Failure::Unshare(error, pidfd)) => {
            // Reaps the child, which exited after the failed exec.
            drop(Child::from_pidfd(0, pidfd));
            Err(LaunchError::Spawn(error))
        }
    }
}

/// The `Command` way (glibc's posix_spawn, or fork and exec), with a pidfd taken after the
/// fact.
fn launch_command(
    program: &Path,
    arg0: &OsStr,
    env: &[(&str, &OsStr)],
    [stdin, stdout, stderr]: [OwnedFd; 3],
    fork: bool,
) -> Result<Child, LaunchError> {
    if crate::enter::privilege::children_reaped_by_kernel() {
        return Err(LaunchError::SigchldIgnored);
    }
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(program);
    command.arg0(arg0);
    if fork {
        // SAFETY: the closure does nothing, so it is async-signal-safe.
        unsafe {
            command.pre_exec(|| Ok(()));
        }
    }
    command
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr));
    let spawned = command.spawn().map_err(LaunchError::Spawn)?;
    let pid = spawned.id();
    // std's Child holds nothing but the PID: from here on our Child kills and reaps.
    drop(spawned);
    Child::adopt(pid)
        .map_err(|source| LaunchError::Setup(format!("pidfd_open sleeper {pid}"), source))
}

/// `fd` itself if it is above 2, else a close-on-exec copy that is (`fd` is closed): the
/// child dup3s its descriptors into 0, 1 and 2 in turn, which must not overwrite one of them
/// before it is used. Only a host that closed its own stdio gets such descriptors.
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    rustix::io::fcntl_dupfd_cloexec(lend(&fd), 3)
        .map(own)
        .map_err(from_errno)
}
