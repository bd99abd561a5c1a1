//! The way of reading: a held mount namespace, and file access inside its root with container
//! semantics.
//!
//! The rooms: this file holds the sandbox itself, its lifetime and path resolution;
//! `content.rs` reads file content (regular files only, bounded); `names.rs` answers about
//! names (metadata, links, canonical paths); `dir.rs` lists directories; `walk/` walks trees;
//! `policy.rs` holds the reading policy and the pseudo-filesystem list; `authority.rs` bounds
//! every operation by the authority of the namespace's own root.

pub(crate) mod authority;
mod content;
mod dir;
mod names;
pub(crate) mod policy;
mod walk;

pub use dir::{DirEntry, FileKind, ReadDir};
pub use walk::{NotDescended, Stat, Walk, WalkEntry, WalkError};

use crate::enter::owner::Owner;
use crate::enter::reaper::Reaped;
use crate::enter::slots::Lease;
use crate::enter::Child;
use crate::error::{from_errno, Error};
use crate::fd::{lend, own};
use crate::sandbox::authority::{Authority, IdMap};
use crate::ReadPolicy;
use rustix::fs::{openat2, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How paths are resolved: inside the root, as a process in the namespace would, and never
/// through a magic link (`/proc/self/root/...`), which could lead anywhere.
const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// How often openat2 is retried when the kernel reports a rename or mount race (`EAGAIN`).
const RACE_RETRIES: usize = 16;

/// A sleeper holding a mount namespace open, with file access inside that namespace's root.
///
/// Paths given to the access methods ([`open`](Sandbox::open), [`read`](Sandbox::read),
/// [`read_dir`](Sandbox::read_dir), [`metadata`](Sandbox::metadata), ...) are resolved as a
/// process inside the namespace would resolve them: relative to its root (a relative path is
/// taken from the root too), with absolute symlinks and `..` staying inside that root. Magic
/// links such as `/proc/self/root` are refused (`ELOOP`), because they could lead out of it.
/// Resolution is done by the kernel: openat2(2) with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`
/// on a file descriptor of the sleeper's root, opened once after the handshake.
///
/// Every file in the namespace is treated as hostile. Content is read from regular files
/// only: the path is resolved to an `O_PATH` handle, which is checked (a regular file, not on a
/// kernel pseudo-filesystem) and then reopened itself, never looked up by name again, so a
/// container swapping the name for a FIFO or a device between the check and the open gets
/// nothing. Whole-file reads are capped; see [`ReadPolicy`] for the rules and how to change
/// them. Names ([`metadata`](Sandbox::metadata), [`read_link`](Sandbox::read_link),
/// [`read_dir`](Sandbox::read_dir), [`canonicalize`](Sandbox::canonicalize)) work on every kind
/// of file, since they never open content.
///
/// Access is read-only.
///
/// # How the namespace is held
///
/// - **By descriptors** ([`Hold::Fds`], the default): the sandbox keeps a descriptor of the
///   mount namespace and one of its root directory, and no process at all. It lives exactly
///   as long as the `Sandbox` does: the namespace descriptor keeps the namespace and all its
///   mounts whole even after every process in it is gone, mounts made later included. There
///   is no PID and nothing that can die under it.
/// - **By a sleeper** ([`Hold::Sleeper`]): the sleeper process stays in the namespace, for
///   consumers that need a PID or a path (`/proc/<pid>/root`) to hand to other programs. Each
///   operation first checks through the pidfd that the sleeper is still alive, and fails with
///   [`Error::SleeperGone`] if not. [`close`](Sandbox::close) (or drop) kills it with SIGKILL
///   through its pidfd and reaps it; [`detach`](Sandbox::detach) lets it go and keeps the
///   descriptors.
///
/// A `Sandbox` can be shared between threads.
pub struct Sandbox {
    holder: Holder,
    way: Way,
    root: OwnedFd,
    policy: ReadPolicy,
    owner: Owner,
    /// Keeps the spawner's low descriptor slots while any sandbox is alive (slots.rs).
    _lease: Lease,
}

/// How a [`Sandbox`] holds its mount namespace; chosen with
/// [`Builder::hold`](crate::Builder::hold).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Hold {
    /// By a descriptor of the namespace and one of its root: no process (a thread of ours
    /// enters the namespace where this process may; elsewhere a sleeper is spawned and let go
    /// once joined). What reading files needs, at the least cost.
    #[default]
    Fds,
    /// By a sleeper process kept in the namespace, for a PID and a `/proc/<pid>/root` path.
    Sleeper,
}

/// How a [`Sandbox`] was opened (see [`Builder`](crate::Builder)), cheapest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Way {
    /// Through the root of the process a reference named (`/proc/<pid>/root`): no thread, no
    /// process, no setns. What that process sees as `/`, its chroot included.
    ProcessRoot,
    /// By a thread of ours that entered the namespace and opened its root.
    Thread,
    /// By a sleeper that joined the namespace (kept, or let go once its root and namespace
    /// were taken).
    Sleeper,
}

enum Holder {
    Sleeper {
        child: Child,
        _lifeline: Option<OwnedFd>,
    },
    Fds {
        _namespace: OwnedFd,
        /// The sleeper it was opened by, if any: killed, reaped by the reaper thread.
        let_go: Option<Arc<Reaped>>,
    },
}

impl Sandbox {
    pub(crate) fn held_by_sleeper(
        child: Child,
        root: OwnedFd,
        lifeline: Option<OwnedFd>,
        owner: Owner,
    ) -> Self {
        Sandbox {
            holder: Holder::Sleeper {
                child,
                _lifeline: lifeline,
            },
            way: Way::Sleeper,
            root,
            policy: ReadPolicy::new(),
            owner,
            _lease: Lease::take(),
        }
    }

    pub(crate) fn held_by_fds(namespace: OwnedFd, root: OwnedFd, owner: Owner, way: Way) -> Self {
        Sandbox {
            holder: Holder::Fds {
                _namespace: namespace,
                let_go: None,
            },
            way,
            root,
            policy: ReadPolicy::new(),
            owner,
            _lease: Lease::take(),
        }
    }

    /// Lets a sleeper go and keeps the namespace by its descriptors ([`Hold::Fds`]); every
    /// file operation works as before. Does nothing to a sandbox held by descriptors already.
    ///
    /// The sleeper is killed and reaped by a thread of ours within about a millisecond, off
    /// the caller's path (signalling it and waiting for its exit is most of what letting it go
    /// costs); dropping or closing the sandbox kills and reaps it there if that has not
    /// happened yet, so nothing is left behind once the sandbox is gone.
    ///
    /// Fails, and kills and reaps the sleeper, if it died before its namespace was taken.
    pub fn detach(mut self) -> Result<Sandbox, Error> {
        let Holder::Sleeper { child, .. } = &mut self.holder else {
            return Ok(self);
        };
        let pid = child.pid();
        let namespace = child.mount_namespace();
        // Our unreaped child cannot have been replaced: the namespace is the sleeper's if it
        // still ran after the open.
        if !child.is_alive() {
            return Err(self.shut_down().err().unwrap_or(Error::SleeperGone { pid }));
        }
        let namespace = namespace
            .map_err(|error| Error::io(format!("open the namespace of sleeper {pid}"), error))?;
        Ok(self.let_go(namespace))
    }

    /// Lets the sleeper go, keeping `namespace`, its mount namespace, taken while it ran.
    pub(crate) fn let_go(mut self, namespace: OwnedFd) -> Sandbox {
        let holder = Holder::Fds {
            _namespace: namespace,
            let_go: None,
        };
        if let Holder::Sleeper { child, _lifeline } = std::mem::replace(&mut self.holder, holder) {
            let reaped = crate::enter::reaper::let_go(child);
            if let Holder::Fds { let_go, .. } = &mut self.holder {
                *let_go = Some(reaped);
            }
        }
        self
    }

    /// How this sandbox holds its namespace.
    pub fn hold(&self) -> Hold {
        match self.holder {
            Holder::Sleeper { .. } => Hold::Sleeper,
            Holder::Fds { .. } => Hold::Fds,
        }
    }

    /// How this sandbox was opened.
    pub fn way(&self) -> Way {
        self.way
    }

    /// The sleeper's process ID; `None` for a sandbox held by descriptors.
    pub fn pid(&self) -> Option<u32> {
        self.sleeper().map(Child::pid)
    }

    /// The sleeper's pidfd, for poll(2) (readable once the sleeper has exited) and
    /// pidfd_send_signal(2); `None` for a sandbox held by descriptors.
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.sleeper().map(Child::pidfd)
    }

    /// `/proc/<pid>/root` of the sleeper: the namespace's root as a path from the host (`None`
    /// for a sandbox held by descriptors: use [`root_fd`](Sandbox::root_fd)). Beware: paths
    /// below it are resolved by the kernel with the *host's* root for absolute symlinks, and
    /// open whatever they name (FIFOs, devices, procfs), which is what the access methods of
    /// `Sandbox` are for.
    pub fn root(&self) -> Option<PathBuf> {
        self.pid()
            .map(|pid| PathBuf::from(format!("/proc/{pid}/root")))
    }

    fn sleeper(&self) -> Option<&Child> {
        match &self.holder {
            Holder::Sleeper { child, .. } => Some(child),
            Holder::Fds { .. } => None,
        }
    }

    /// The `O_PATH` descriptor of the namespace's root directory that all access goes through.
    pub fn root_fd(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Whether the namespace is still held: whether the sleeper is still running, or always
    /// for a sandbox held by descriptors (it lives as long as they do).
    pub fn is_alive(&self) -> bool {
        self.sleeper().is_none_or(Child::is_alive)
    }

    /// The policy every operation applies (the default until changed): which file systems it
    /// may look at, and how much a whole-file read may return.
    pub fn read_policy(&self) -> ReadPolicy {
        self.policy
    }

    /// Changes the policy of every operation; [`open_with`](Sandbox::open_with),
    /// [`read_with`](Sandbox::read_with) and [`copy_to`](Sandbox::copy_to) take one per call.
    pub fn set_read_policy(&mut self, policy: ReadPolicy) {
        self.policy = policy;
    }

    /// Whose authority this sandbox's operations have: this process's own, or at most that
    /// of the root of the user namespace owning the mount namespace (see [`Authority`]).
    pub fn authority(&self) -> Authority {
        self.owner.authority
    }

    /// How the user namespace owning the mount namespace maps uids: the identity for a
    /// namespace of this process's own user namespace; empty where it could not be read (no
    /// process of that user namespace was at hand). [`IdMap::to_inside`] turns a file's owner
    /// as this process sees it into the owner a process in the container sees.
    pub fn uid_map(&self) -> &IdMap {
        &self.owner.uid_map
    }

    /// How the user namespace owning the mount namespace maps gids, as
    /// [`uid_map`](Sandbox::uid_map).
    pub fn gid_map(&self) -> &IdMap {
        &self.owner.gid_map
    }

    /// Runs `operation` (`op` on `path`) on the calling thread within this sandbox's
    /// authority; a refusal (EACCES) within a bound says so.
    fn bounded<T>(
        &self,
        op: &'static str,
        path: &Path,
        operation: impl FnOnce() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let authority = self.owner.authority;
        let bound = authority.enter().map_err(|error| access(op, path, error))?;
        let result = operation();
        drop(bound);
        result.map_err(|error| self.explain(error))
    }

    /// `error`, or where it is a refusal (EACCES) within the authority bound, one that says so.
    pub(crate) fn explain(&self, error: Error) -> Error {
        match (error, self.owner.authority) {
            (Error::Access { op, path, source }, Authority::NamespaceRoot { uid, gid })
                if source.raw_os_error() == Some(libc::EACCES) =>
            {
                Error::BeyondAuthority { op, path, uid, gid }
            }
            (error, _) => error,
        }
    }

    /// Refuses `fd` (named `path`) if it lies on a kernel pseudo-filesystem that `policy`
    /// does not allow.
    fn check_filesystem(
        &self,
        op: &'static str,
        path: &Path,
        fd: &OwnedFd,
        policy: ReadPolicy,
    ) -> Result<(), Error> {
        match policy
            .refused_filesystem(fd)
            .map_err(|errno| access(op, path, from_errno(errno)))?
        {
            Some(filesystem) => Err(Error::PseudoFilesystem {
                path: path.to_owned(),
                filesystem,
            }),
            None => Ok(()),
        }
    }

    /// The namespace file at `path` inside this sandbox (a bind mount of one: a chained
    /// reference), resolved as file reads are (in the root, no magic links, within the
    /// sandbox's authority) and checked to be a namespace of `kind`.
    pub(crate) fn open_namespace_file(
        &self,
        path: &Path,
        kind: crate::enter::nsfs::Kind,
    ) -> Result<OwnedFd, Error> {
        self.bounded("open", path, || {
            let handle = self.resolve("open", path, OFlags::PATH)?;
            crate::enter::nsfs::checked(handle, path, kind)
        })
    }

    /// Releases the namespace: closes the descriptors, and kills the sleeper (SIGKILL through
    /// its pidfd) and reaps it.
    ///
    /// Fails with [`Error::SleeperDied`] if the sleeper had died before (killed from outside,
    /// for instance), since then the namespace may have been gone for a while. A sandbox held
    /// by descriptors cannot have lost its namespace.
    pub fn close(mut self) -> Result<(), Error> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<(), Error> {
        let child = match &mut self.holder {
            Holder::Sleeper { child, .. } => child,
            Holder::Fds { let_go, .. } => {
                if let Some(reaped) = let_go.take() {
                    reaped.finish();
                }
                return Ok(());
            }
        };
        let pid = child.pid();
        let was_alive = child.is_alive();
        let status = child
            .kill_and_reap()
            .map_err(|source| Error::io(format!("reap sleeper {pid}"), source))?;
        match status {
            Some(status) if !was_alive => Err(Error::SleeperDied { pid, status }),
            Some(_) => Ok(()),
            None if !was_alive => Err(Error::SleeperGone { pid }),
            None => Ok(()),
        }
    }

    fn resolve(&self, op: &'static str, path: &Path, flags: OFlags) -> Result<OwnedFd, Error> {
        self.resolve_with(op, path, flags, ResolveFlags::empty())
    }

    fn resolve_with(
        &self,
        op: &'static str,
        path: &Path,
        flags: OFlags,
        extra: ResolveFlags,
    ) -> Result<OwnedFd, Error> {
        if let Some(sleeper) = self.sleeper().filter(|sleeper| !sleeper.is_alive()) {
            return Err(Error::SleeperGone { pid: sleeper.pid() });
        }
        let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            access(
                op,
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
            )
        })?;
        let mut retries = 0;
        loop {
            match openat2(
                lend(&self.root),
                c_path.as_c_str(),
                flags | OFlags::CLOEXEC,
                Mode::empty(),
                RESOLVE | extra,
            ) {
                Ok(fd) => return Ok(own(fd)),
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) if retries < RACE_RETRIES => retries += 1,
                // Out of descriptors: once the soft limit is raised to the hard one, again.
                Err(Errno::MFILE) if crate::enter::privilege::raise_open_files_limit() => {}
                Err(Errno::NOSYS) => return Err(Error::Openat2Unsupported),
                Err(errno) => return Err(access(op, path, from_errno(errno))),
            }
        }
    }
}

/// A `Sandbox` is shared between threads by reference and moved between them.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Sandbox>();
};

impl Drop for Sandbox {
    /// Kills and reaps the sleeper if [`close`](Sandbox::close) did not; never panics.
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("way", &self.way)
            .field("hold", &self.hold())
            .field("pid", &self.pid())
            .field("root", &self.root.as_raw_fd())
            .field("authority", &self.owner.authority)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn access(op: &'static str, path: &Path, source: io::Error) -> Error {
    Error::Access {
        op,
        path: path.to_owned(),
        source,
    }
}
