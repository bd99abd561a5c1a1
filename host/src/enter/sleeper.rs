//! The way in through a process: spawn the sleeper, wait for its handshake, take its root.

use super::child::{timespec, Child};
use super::launch::{launch, LaunchError, Launched};
use super::{Builder, Sleeper, SLEEPER_NAME};
use crate::error::{from_errno, Error};
use crate::fd::lend;
use crate::sandbox::authority::IdMap;
use crate::{Hold, Sandbox, HANDSHAKE, LIFELINE_ENV, MNTNS_ENV, USERNS_ENV};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a sleeper whose root cannot be opened is given to show that it is exiting.
const EXIT_GRACE: Duration = Duration::from_millis(100);

/// Most bytes of the sleeper's stderr kept for an error message.
const STDERR_LIMIT: usize = 4096;

/// Spawns `builder`'s sleeper into the mount namespace at `mount` (joining the user namespace
/// at `user` first, if given) and opens the sandbox through it. `process` is the process the
/// reference names, if any, where the owner's id maps may be read.
pub(super) fn spawn(
    builder: &Builder,
    mount: &Path,
    user: Option<&Path>,
    process: Option<u32>,
) -> Result<Sandbox, Error> {
    let mut env = vec![(MNTNS_ENV, mount.as_os_str())];
    env.extend(user.as_ref().map(|user| (USERNS_ENV, user.as_os_str())));
    if builder.lifeline {
        env.push((LIFELINE_ENV, OsStr::new("1")));
    }
    let (mut child, lifeline) = start(builder, &env)?;

    let pid = child.pid();
    // (Checked already where the reference named a process.)
    if process.is_none() {
        super::nsfs::check_procfs()?;
    }
    let root = super::child::process_root(pid);
    let namespace = child.mount_namespace();
    // The PID cannot have been reused while our child is unreaped, and the pidfd says the
    // child still ran after the opens: so `root` and `namespace` are our sleeper's.
    if !child.is_alive() {
        return Err(died(&mut child));
    }
    let root = match root {
        Ok(root) => root,
        // An exiting process loses its root before its pidfd reports the exit: give it a
        // moment to tell a death (reported as such) from a refusal to open (EACCES, ...).
        Err(_) if child.exits_within(EXIT_GRACE) => return Err(died(&mut child)),
        Err(errno) => {
            let what = format!("open the root of sleeper {pid}");
            return Err(Error::io(what, from_errno(errno)));
        }
    };
    let namespace = namespace
        .map_err(|error| Error::io(format!("open the namespace of sleeper {pid}"), error))?;
    // The sleeper itself is in the owning user namespace when it joined one.
    let processes: Vec<u32> = std::iter::once(pid).chain(process).collect();
    let owner = builder.owner_of(&namespace, &processes)?;
    let sandbox = Sandbox::held_by_sleeper(child, root, lifeline, owner);
    match builder.hold {
        Hold::Fds => Ok(sandbox.let_go(namespace)),
        Hold::Sleeper => Ok(sandbox),
    }
}

/// Starts `builder`'s sleeper with exactly the environment `env` and waits for its `OK`: the
/// sleeper, and the write end of its lifeline (if it has one).
fn start(builder: &Builder, env: &[(&str, &OsStr)]) -> Result<(Child, Option<OwnedFd>), Error> {
    let sleeper = match &builder.sleeper {
        Some(path) => Sleeper::Path(path.clone()),
        None => Builder::default_sleeper()?,
    };
    let program = sleeper.program()?;
    // The embedded sleeper runs from its memfd: name it in argv[0] all the same.
    let (arg0, exec_fd) = match &sleeper {
        #[cfg(feature = "embedded-sleeper")]
        Sleeper::Embedded => (OsStr::new(SLEEPER_NAME), super::embedded::memfd().ok()),
        #[cfg(not(feature = "embedded-sleeper"))]
        Sleeper::Embedded => (OsStr::new(SLEEPER_NAME), None),
        Sleeper::Path(_) => (program.as_os_str(), None),
    };
    let lifeline = env.iter().any(|(name, _)| *name == LIFELINE_ENV);
    let Launched {
        mut child,
        stdout,
        stderr,
        lifeline,
    } = launch(&program, exec_fd, arg0, env, lifeline).map_err(|error| match error {
        LaunchError::Setup(what, source) => Error::io(what, source),
        LaunchError::Spawn(source) => match &sleeper {
            Sleeper::Path(path) => spawn_error(path.clone(), source),
            #[cfg(feature = "embedded-sleeper")]
            Sleeper::Embedded => super::embedded::exec_error(&program, source),
            #[cfg(not(feature = "embedded-sleeper"))]
            Sleeper::Embedded => unreachable!("Sleeper::program refused it"),
        },
        LaunchError::SigchldIgnored => Error::SigchldIgnored,
    })?;
    handshake(&mut child, stdout, stderr, builder.timeout)?;
    Ok((child, lifeline))
}

/// How the user namespace `user` maps ids, read from a sleeper that joins it for the purpose
/// (and stays in its own mount namespace), where no process of that user namespace is at hand.
pub(super) fn probe_id_maps(builder: &Builder, user: &OwnedFd) -> Result<(IdMap, IdMap), Error> {
    use std::os::fd::AsRawFd;
    // The sleeper opens our very descriptor, through our table.
    let user = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        user.as_raw_fd()
    ));
    let own_mount = Path::new("/proc/self/ns/mnt");
    let env = [
        (USERNS_ENV, user.as_os_str()),
        (MNTNS_ENV, own_mount.as_os_str()),
    ];
    let (child, _) = start(builder, &env)?;
    let pid = child.pid();
    super::nsfs::check_procfs()?;
    let maps = super::owner::id_maps(pid)?;
    // Still our child (unreaped, running): the maps are its.
    if !child.is_alive() {
        return Err(Error::SleeperGone { pid });
    }
    // Dropping the child kills and reaps it.
    Ok(maps)
}

/// The error for a sleeper found dead: reaped, with how it ended.
fn died(child: &mut Child) -> Error {
    let pid = child.pid();
    match child.kill_and_reap() {
        Ok(Some(status)) => Error::SleeperDied { pid, status },
        _ => Error::SleeperGone { pid },
    }
}

fn spawn_error(path: PathBuf, source: io::Error) -> Error {
    match source.raw_os_error() {
        Some(libc::ENOENT) => Error::SleeperNotFound { path },
        Some(libc::EACCES | libc::ENOEXEC | libc::EPERM | libc::EISDIR | libc::ENOTDIR) => {
            Error::SleeperNotExecutable { path, source }
        }
        _ => Error::Io {
            what: format!("spawn sleeper {path:?}"),
            source,
        },
    }
}

/// Waits for exactly `OK\n` on `stdout`, watching `stderr` and the pidfd at the same time in
/// one poll(2), all within `timeout`.
fn handshake(
    child: &mut Child,
    stdout: OwnedFd,
    stderr: OwnedFd,
    timeout: Duration,
) -> Result<(), Error> {
    let pid = child.pid();
    let deadline = Instant::now() + timeout;
    let mut out = Pipe::new(stdout, HANDSHAKE.len() + 64);
    let mut err = Pipe::new(stderr, STDERR_LIMIT);
    loop {
        if out.data == HANDSHAKE {
            return Ok(());
        }
        if !HANDSHAKE.starts_with(&out.data) || (out.eof && !out.data.is_empty()) {
            out.drain();
            return Err(Error::UnexpectedHandshake {
                pid,
                received: out.data,
            });
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::Timeout { pid, timeout });
        }

        // A pipe at EOF would report POLLHUP forever: leave it out.
        let mut fds = Vec::with_capacity(3);
        let pidfd = child.pidfd();
        fds.push(PollFd::from_borrowed_fd(lend(&pidfd), PollFlags::IN));
        let out_at = (!out.eof).then(|| {
            fds.push(PollFd::from_borrowed_fd(lend(&out.fd), PollFlags::IN));
            fds.len() - 1
        });
        let err_at = (!err.eof).then(|| {
            fds.push(PollFd::from_borrowed_fd(lend(&err.fd), PollFlags::IN));
            fds.len() - 1
        });
        match poll(&mut fds, Some(&timespec(deadline - now))) {
            Ok(_) | Err(Errno::INTR) => {}
            Err(errno) => return Err(Error::io("poll the sleeper", from_errno(errno))),
        }
        let ready = |at: Option<usize>| at.is_some_and(|at| !fds[at].revents().is_empty());
        let (exited, out_ready, err_ready) = (ready(Some(0)), ready(out_at), ready(err_at));
        drop(fds);
        if out_ready {
            out.read_once();
        }
        if err_ready {
            err.read_once();
        }
        if exited {
            out.drain();
            err.drain();
            if out.data == HANDSHAKE {
                // It said OK, then died at once.
                return Err(died(child));
            }
            let status = child
                .reap()
                .map_err(|source| Error::io("reap the sleeper", source))?;
            let message = String::from_utf8_lossy(&err.data).trim_end().to_owned();
            return Err(match status {
                Some(status) => Error::NamespaceRefused { message, status },
                None => Error::SleeperGone { pid },
            });
        }
    }
}

/// One of the sleeper's output pipes, read without blocking, up to a limit.
struct Pipe {
    fd: OwnedFd,
    data: Vec<u8>,
    limit: usize,
    eof: bool,
}

impl Pipe {
    fn new(fd: OwnedFd, limit: usize) -> Self {
        Pipe {
            fd,
            data: Vec::new(),
            limit,
            eof: false,
        }
    }

    /// One read(2); returns whether more may follow at once.
    fn read_once(&mut self) -> bool {
        let mut buf = [0u8; 512];
        match rustix::io::read(lend(&self.fd), &mut buf) {
            Ok(0) => {
                self.eof = true;
                false
            }
            Ok(n) => {
                let room = self.limit.saturating_sub(self.data.len());
                self.data.extend_from_slice(&buf[..n.min(room)]);
                true
            }
            Err(Errno::INTR) => true,
            // EAGAIN: nothing more for now. Anything else: treat as the end.
            Err(Errno::AGAIN) => false,
            Err(_) => {
                self.eof = true;
                false
            }
        }
    }

    /// Reads what is there now (bounded, in case a grandchild keeps writing).
    fn drain(&mut self) {
        for _ in 0..64 {
            if self.eof || !self.read_once() {
                break;
            }
        }
    }
}
