//! The way in: how a [`Sandbox`] is opened on a mount namespace.
//!
//! The rooms: this file holds [`Builder`] and picks the way; `thread.rs` enters with a thread
//! of ours; `sleeper.rs` spawns the sleeper and waits for its handshake, by `launch.rs`
//! (`clone3.rs`, or `Command`) with its stdio in low slots (`slots.rs`), named by a pidfd
//! (`child.rs`), let go to `reaper.rs`; `embedded.rs` is the sleeper this crate carries;
//! `privilege.rs` asks the kernel what this process may do itself.

mod child;
mod clone3;
#[cfg(feature = "embedded-sleeper")]
pub(crate) mod embedded;
pub(crate) mod launch;
pub(crate) mod nsfs;
pub(crate) mod owner;
mod pid;
pub(crate) mod privilege;
pub(crate) mod reaper;
mod sleeper;
pub(crate) mod slots;
mod thread;

pub(crate) use child::Child;

use crate::error::Error;
use crate::{Hold, NamespaceRef, Sandbox, Way};
use nsfs::Kind;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environment variable naming the sleeper binary, consulted when no
/// [`Builder::sleeper`] is given.
pub const SLEEPER_ENV: &str = "MNTNSSANDBOX_BINARY";

/// The sleeper's file name, looked for beside the current executable and on `PATH`.
pub const SLEEPER_NAME: &str = "mntnssandbox";

/// How long [`Builder::spawn`] waits for the handshake unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// Where `mount` is to be found: mount namespaces, outermost first, each named inside the
    /// one before (lxkns' chained references).
    within: Vec<NamespaceRef>,
    user: Option<NamespaceRef>,
    sleeper: Option<PathBuf>,
    timeout: Duration,
    lifeline: bool,
    hold: Hold,
    threads: bool,
    process_root: bool,
}

impl Builder {
    /// A sleeper for the mount namespace `mount`, with the defaults: no user namespace, the
    /// sleeper found by [`Builder::default_sleeper`], a 5 s handshake timeout, a lifeline.
    pub fn new(mount: impl Into<NamespaceRef>) -> Self {
        Builder {
            mount: mount.into(),
            within: Vec::new(),
            user: None,
            sleeper: None,
            timeout: DEFAULT_TIMEOUT,
            lifeline: true,
            hold: Hold::Fds,
            threads: true,
            process_root: true,
        }
    }

    /// Finds the reference inside the mount namespace `outer` rather than here: a namespace
    /// file bind-mounted inside another mount namespace (lxkns' chained references). The
    /// reference must then be a path, resolved inside `outer`'s root with the rules of file
    /// reads (in the root, no magic links, within its authority) and required to be a mount
    /// namespace's file. Called again, it adds the next hop: outermost first, each named
    /// inside the one before.
    ///
    /// ```no_run
    /// # use mntnssandbox_host::{Builder, NamespaceRef};
    /// // `/run/ns/inner` exists only inside the mount namespace of process 42.
    /// let sandbox = Builder::new(NamespaceRef::Path("/run/ns/inner".into()))
    ///     .within(NamespaceRef::Pid(42))
    ///     .spawn()?;
    /// # Ok::<(), mntnssandbox_host::Error>(())
    /// ```
    pub fn within(mut self, outer: impl Into<NamespaceRef>) -> Self {
        self.within.push(outer.into());
        self
    }

    /// How the sandbox holds the namespace: by its descriptors, no process ([`Hold::Fds`], the
    /// default: all that reading files needs, at the least cost), or by a sleeper kept in it
    /// ([`Hold::Sleeper`], for a PID or a `/proc/<pid>/root` path to hand to others).
    pub fn hold(mut self, hold: Hold) -> Self {
        self.hold = hold;
        self
    }

    /// Whether a [`Hold::Fds`] sandbox may be opened without a sleeper (the default): through
    /// the root of the process a reference names, or by a thread of ours where this process
    /// may enter the namespace by itself. `false` always spawns a sleeper (then let go).
    pub fn threads(mut self, threads: bool) -> Self {
        self.threads = threads;
        self
    }

    /// Whether a reference that names a process ([`NamespaceRef::Pid`], or a path of the form
    /// `/proc/<pid>/ns/mnt`) is opened through that process's root, `/proc/<pid>/root` (the
    /// default, and the cheapest way: no thread, no process, no setns), where this process
    /// may (ptrace access to it: its own processes, or root). That reads what the process sees
    /// as `/`, its chroot included; a namespace file of another form reads the namespace's
    /// root. `false` enters the namespace instead.
    pub fn process_root(mut self, process_root: bool) -> Self {
        self.process_root = process_root;
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
            Err(error) if out_of_fds(&error) && privilege::raise_open_files_limit() => {
                self.spawn_once()
            }
            result => result,
        };
        result.map_err(|error| match error {
            Error::Io { what, source } if source.raw_os_error() == Some(libc::EMFILE) => {
                let limit = privilege::open_files_limit();
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
        match self.within.split_first() {
            None => self.open_reference(),
            Some((outermost, hops)) => self.open_within(outermost, hops),
        }
    }

    /// Opens the sandbox of this builder's reference, named here.
    fn open_reference(&self) -> Result<Sandbox, Error> {
        let process = self.mount.process();
        if process.is_some() {
            nsfs::check_procfs()?;
        }
        let shortcut = self.hold == Hold::Fds && self.threads && self.process_root;
        if let Some(pid) = process.filter(|_| shortcut) {
            // Refused (another user's process): entered another way below.
            if let Some(sandbox) = pid::open(self, pid)? {
                return Ok(sandbox);
            }
        }
        let mount = self.mount.mount_path();
        let namespace = nsfs::open_namespace(&mount, Kind::Mount)?;
        self.enter(namespace, &mount, process)
    }

    /// Opens the sandbox of this builder's reference as named inside `outermost`, then
    /// `hops` (each a path inside the one before).
    fn open_within(
        &self,
        outermost: &NamespaceRef,
        hops: &[NamespaceRef],
    ) -> Result<Sandbox, Error> {
        let hop = Builder {
            mount: outermost.clone(),
            within: Vec::new(),
            user: None,
            hold: Hold::Fds,
            ..self.clone()
        };
        let mut outer = hop.open_reference()?;
        for (at, next) in hops.iter().chain([&self.mount]).enumerate() {
            let NamespaceRef::Path(path) = next else {
                return Err(Error::NotANamespace {
                    path: PathBuf::from(next.to_string()),
                    wanted: "mount",
                    found: "a PID, which names no file inside another namespace".into(),
                });
            };
            let namespace = outer.open_namespace_file(path, Kind::Mount)?;
            // For a sleeper: this very file, through our descriptor table.
            let name = PathBuf::from(format!(
                "/proc/{}/fd/{}",
                std::process::id(),
                std::os::fd::AsRawFd::as_raw_fd(&namespace)
            ));
            let last = at == hops.len();
            outer = if last { self } else { &hop }.enter(namespace, &name, None)?;
        }
        Ok(outer)
    }

    /// The owner of `namespace`, its id maps read from one of `processes`, else from a
    /// sleeper that joins its user namespace for a moment (else unknown: the overflow ids).
    fn owner_of(&self, namespace: &OwnedFd, processes: &[u32]) -> Result<owner::Owner, Error> {
        let mut owner = owner::owner_of(namespace, processes)?;
        let Some(user) = &owner.unmapped else {
            return Ok(owner);
        };
        match sleeper::probe_id_maps(self, user) {
            Ok(maps) => Ok(owner.with_maps(maps)),
            // The least authority is left, and still reads what anyone may.
            Err(_) => {
                owner.unmapped = None;
                Ok(owner)
            }
        }
    }

    /// Enters the checked mount namespace `namespace` (named `mount` for a sleeper); `process`
    /// is the process its reference named, if any.
    fn enter(
        &self,
        namespace: OwnedFd,
        mount: &Path,
        process: Option<u32>,
    ) -> Result<Sandbox, Error> {
        // A privileged host enters by itself: its sleeper stays out of the container's reach.
        let user = match &self.user {
            Some(user) if !privilege::enters_without_userns(&namespace) => {
                let path = user.user_path();
                nsfs::open_namespace(&path, Kind::User)?;
                Some(path)
            }
            _ => None,
        };
        if self.hold == Hold::Fds && self.threads && user.is_none() && privilege::may_setns() {
            match thread::enter_in_thread(&namespace, self.timeout) {
                Ok(root) => {
                    let owner = self.owner_of(&namespace, process.as_slice())?;
                    return Ok(Sandbox::held_by_fds(namespace, root, owner, Way::Thread));
                }
                Err(error @ Error::EnterTimeout { .. }) => return Err(error),
                // Refused (EPERM, ...): the sleeper below says why in its own words.
                Err(_) => {}
            }
        }
        // The sleeper opens the reference itself; ours stays open until it has.
        let sandbox = sleeper::spawn(self, mount, user.as_deref(), process);
        drop(namespace);
        sandbox
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
            Sleeper::Embedded => embedded::program(),
            #[cfg(not(feature = "embedded-sleeper"))]
            Sleeper::Embedded => Err(Error::NoSleeper),
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
