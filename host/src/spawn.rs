//! Spawning a sleeper and waiting for its handshake.

use crate::child::{timespec, Child};
use crate::error::{from_errno, Error};
use crate::fd::{lend, own};
use crate::launch::{launch, LaunchError, Launched};
use crate::{Hold, NamespaceRef, Sandbox, HANDSHAKE, LIFELINE_ENV, MNTNS_ENV, USERNS_ENV};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The environment variable naming the sleeper binary, consulted when no
/// [`Builder::sleeper`] is given.
pub const SLEEPER_ENV: &str = "MNTNSSANDBOX_BINARY";

/// The sleeper's file name, looked for beside the current executable and on `PATH`.
pub const SLEEPER_NAME: &str = "mntnssandbox";

/// How long [`Builder::spawn`] waits for the handshake unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a sleeper whose root cannot be opened is given to show that it is exiting.
const EXIT_GRACE: Duration = Duration::from_millis(100);

/// Most bytes of the sleeper's stderr kept for an error message.
const STDERR_LIMIT: usize = 4096;

/// Configures and opens a [`Sandbox`] on a mount namespace.
///
/// How the namespace is entered, cheapest first:
/// - **a thread**, where this process may setns(2) into the namespace by itself (CAP_SYS_ADMIN
///   over its owner and CAP_SYS_CHROOT, as root on the host has) and no user namespace has to
///   be joined: a thread of ours enters it, opens its root and goes back (about 0.3× a process
///   spawn; the calling thread's namespaces are never touched);
/// - **a sleeper** otherwise (an unprivileged host joining its rootless container's user
///   namespace, or a thread refused with EPERM), which says `OK` once it has joined. With
///   [`Hold::Fds`] (the default) it is then let go, and the sandbox keeps the namespace by
///   its descriptors; with [`Hold::Sleeper`] it stays, for a PID and a path.
///
/// ```no_run
/// # use mntnssandbox_host::{Builder, NamespaceRef};
/// # use std::time::Duration;
/// let sandbox = Builder::new(NamespaceRef::Pid(1234))
///     .user_namespace(NamespaceRef::Pid(1234))
///     .timeout(Duration::from_secs(2))
///     .spawn()?;
/// # Ok::<(), mntnssandbox_host::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    mount: NamespaceRef,
    user: Option<NamespaceRef>,
    sleeper: Option<PathBuf>,
    timeout: Duration,
    lifeline: bool,
    hold: Hold,
    threads: bool,
}

impl Builder {
    /// A sleeper for the mount namespace `mount`, with the defaults: no user namespace, the
    /// sleeper found by [`Builder::default_sleeper`], a 5 s handshake timeout, a lifeline.
    pub fn new(mount: impl Into<NamespaceRef>) -> Self {
        Builder {
            mount: mount.into(),
            user: None,
            sleeper: None,
            timeout: DEFAULT_TIMEOUT,
            lifeline: true,
            hold: Hold::Fds,
            threads: true,
        }
    }

    /// How the sandbox holds the namespace: by its descriptors, no process ([`Hold::Fds`], the
    /// default: all that reading files needs, at the least cost), or by a sleeper kept in it
    /// ([`Hold::Sleeper`], for a PID or a `/proc/<pid>/root` path to hand to others).
    pub fn hold(mut self, hold: Hold) -> Self {
        self.hold = hold;
        self
    }

    /// Whether a [`Hold::Fds`] sandbox may be opened by a thread of ours where this process
    /// may enter the namespace by itself (the default); `false` always spawns a sleeper (then
    /// let go).
    pub fn threads(mut self, threads: bool) -> Self {
        self.threads = threads;
        self
    }

    /// The sleeper binary to run. A bare name (no `/`) means a file in the current directory,
    /// never a `PATH` search.
    pub fn sleeper(mut self, path: impl Into<PathBuf>) -> Self {
        self.sleeper = Some(path.into());
        self
    }

    /// A user namespace for the sleeper to join before the mount namespace, as an unprivileged
    /// host needs to enter the mount namespace of its own rootless containers.
    ///
    /// Joining has a cost: the sleeper's credentials then live in the container's user
    /// namespace, where the container's root holds CAP_KILL and CAP_SYS_PTRACE over it (it
    /// can kill the sleeper, or ptrace it). So the join happens only when it is needed: a host
    /// that can enter the mount namespace by itself (CAP_SYS_ADMIN and CAP_SYS_CHROOT in its
    /// effective set, over the user namespace owning the mount namespace or one above it, as
    /// root on the host has) leaves the user namespace alone, and its sleeper keeps the host's
    /// credentials, out of the container's reach. The reads themselves happen in this process
    /// either way.
    pub fn user_namespace(mut self, user: impl Into<NamespaceRef>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// How long to wait for the sleeper's `OK` (default 5 s); it is killed after that.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether the sleeper's stdin is a pipe whose write end the [`Sandbox`] keeps (the
    /// default), so that the sleeper exits when this process dies, even by SIGKILL. Without
    /// it, stdin is `/dev/null`, and a sleeper whose host dies uncleanly sleeps forever.
    pub fn lifeline(mut self, lifeline: bool) -> Self {
        self.lifeline = lifeline;
        self
    }

    /// Which sleeper runs when none is configured with [`Builder::sleeper`]: the file named by
    /// `$MNTNSSANDBOX_BINARY` (if set and not empty), else the embedded sleeper (feature
    /// `embedded-sleeper`, on by default). Without that feature: else `mntnssandbox` beside
    /// the current executable, else `mntnssandbox` on `PATH`.
    pub fn default_sleeper() -> Result<Sleeper, Error> {
        if let Some(path) = std::env::var_os(SLEEPER_ENV).filter(|path| !path.is_empty()) {
            return Ok(Sleeper::Path(PathBuf::from(path)));
        }
        if cfg!(feature = "embedded-sleeper") {
            return Ok(Sleeper::Embedded);
        }
        let beside = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(SLEEPER_NAME)));
        let on_path = std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.join(SLEEPER_NAME));
        beside
            .into_iter()
            .chain(on_path)
            .find(|path| is_executable(path))
            .map(Sleeper::Path)
            .ok_or(Error::NoSleeper)
    }

    /// Opens the sandbox: by a thread, or by spawning the sleeper and waiting for its
    /// handshake (see [`Builder`]).
    ///
    /// The sleeper gets an empty environment but for the `sleepy_*` variables set here, a
    /// stdout and stderr piped to us, and the lifeline (or `/dev/null`) as stdin. Once it said
    /// `OK`, its root directory is opened and checked against its pidfd. On any failure the
    /// sleeper is killed and reaped before this returns.
    ///
    /// Where this process runs out of descriptors (EMFILE), its soft `RLIMIT_NOFILE` is raised
    /// to the hard limit once and the spawn tried again; at the hard limit it fails with EMFILE.
    pub fn spawn(&self) -> Result<Sandbox, Error> {
        let out_of_fds = |error: &Error| error.raw_os_error() == Some(libc::EMFILE);
        let result = match self.spawn_once() {
            Err(error) if out_of_fds(&error) && crate::privilege::raise_open_files_limit() => {
                self.spawn_once()
            }
            result => result,
        };
        result.map_err(|error| match error {
            Error::Io { what, source } if source.raw_os_error() == Some(libc::EMFILE) => {
                let limit = crate::privilege::open_files_limit();
                Error::Io {
                    what: format!(
                        "{what} (this process has its {limit} open files: RLIMIT_NOFILE)"
                    ),
                    source,
                }
            }
            other => other,
        })
    }

    fn spawn_once(&self) -> Result<Sandbox, Error> {
        let mount = self.mount.mount_path();
        // A privileged host enters by itself: its sleeper stays out of the container's reach.
        let user = self
            .user
            .as_ref()
            .filter(|_| !crate::privilege::enters_without_userns(&mount))
            .map(NamespaceRef::user_path);
        if self.hold == Hold::Fds && self.threads && user.is_none() && crate::privilege::may_setns()
        {
            // Refused (EPERM, ...): the sleeper below says why in its own words.
            if let Ok((namespace, root)) = crate::enter::enter_in_thread(&mount) {
                return Ok(Sandbox::held_by_fds(namespace, root));
            }
        }
        let sleeper = match &self.sleeper {
            Some(path) => Sleeper::Path(path.clone()),
            None => Self::default_sleeper()?,
        };
        let program = sleeper.program()?;

        let mut env = vec![(MNTNS_ENV, mount.as_os_str())];
        env.extend(user.as_ref().map(|user| (USERNS_ENV, user.as_os_str())));
        if self.lifeline {
            env.push((LIFELINE_ENV, OsStr::new("1")));
        }
        // The embedded sleeper runs from its memfd: name it in argv[0] all the same.
        let (arg0, exec_fd) = match &sleeper {
            #[cfg(feature = "embedded-sleeper")]
            Sleeper::Embedded => (OsStr::new(SLEEPER_NAME), crate::embedded::memfd().ok()),
            #[cfg(not(feature = "embedded-sleeper"))]
            Sleeper::Embedded => (OsStr::new(SLEEPER_NAME), None),
            Sleeper::Path(_) => (program.as_os_str(), None),
        };
        let Launched {
            mut child,
            stdout,
            stderr,
            lifeline,
        } = launch(&program, exec_fd, arg0, &env, self.lifeline).map_err(|error| match error {
            LaunchError::Setup(what, source) => Error::io(what, source),
            LaunchError::Spawn(source) => match &sleeper {
                Sleeper::Path(path) => spawn_error(path.clone(), source),
                #[cfg(feature = "embedded-sleeper")]
                Sleeper::Embedded => crate::embedded::exec_error(&program, source),
                #[cfg(not(feature = "embedded-sleeper"))]
                Sleeper::Embedded => unreachable!("Sleeper::program refused it"),
            },
            LaunchError::SigchldIgnored => Error::SigchldIgnored,
        })?;

        handshake(&mut child, stdout, stderr, self.timeout)?;

        let pid = child.pid();
        let root = rustix::fs::open(
            format!("/proc/{pid}/root").as_str(),
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        );
        // The PID cannot have been reused while our child is unreaped, and the pidfd says the
        // child still ran after the open: so `root` is our sleeper's root.
        if !child.is_alive() {
            return Err(died(&mut child));
        }
        let root = match root {
            Ok(root) => own(root),
            // An exiting process loses its root before its pidfd reports the exit: give it a
            // moment to tell a death (reported as such) from a refusal to open (EACCES, ...).
            Err(_) if child.exits_within(EXIT_GRACE) => return Err(died(&mut child)),
            Err(errno) => {
                let what = format!("open the root of sleeper {pid}");
                return Err(Error::io(what, from_errno(errno)));
            }
        };
        let sandbox = Sandbox::held_by_sleeper(child, root, lifeline);
        match self.hold {
            Hold::Fds => sandbox.detach(),
            Hold::Sleeper => Ok(sandbox),
        }
    }
}

/// The sleeper a [`Builder`] runs: see [`Builder::default_sleeper`] for which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sleeper {
    /// A program file.
    Path(PathBuf),
    /// The sleeper built into this crate ([`EMBEDDED_SLEEPER`](crate::EMBEDDED_SLEEPER),
    /// feature `embedded-sleeper`), run from its sealed memfd (execveat; `/proc/self/fd/N`
    /// where clone3 is refused).
    Embedded,
}

impl Sleeper {
    /// The path to execute.
    fn program(&self) -> Result<PathBuf, Error> {
        match self {
            // Command would search PATH for a bare name; we mean a file.
            Sleeper::Path(path) if path.components().count() == 1 && path.is_relative() => {
                Ok(Path::new(".").join(path))
            }
            Sleeper::Path(path) => Ok(path.clone()),
            #[cfg(feature = "embedded-sleeper")]
            Sleeper::Embedded => crate::embedded::program(),
            #[cfg(not(feature = "embedded-sleeper"))]
            Sleeper::Embedded => Err(Error::NoSleeper),
        }
    }
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

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
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
