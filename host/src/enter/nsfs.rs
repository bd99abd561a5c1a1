//! Namespace files: a reference opened without blocking and checked to be a namespace of the
//! kind wanted; the nsfs ioctls; and `/proc` checked to be our PID namespace's before a PID
//! is looked up there.

use crate::error::{from_errno, Error};
use crate::fd::{identity, lend, own, reopen};
use crate::FileKind;
use rustix::fs::{Mode, OFlags};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `NSFS_MAGIC` of <linux/magic.h>.
const NSFS_MAGIC: u32 = 0x6e73_6673;

/// A kind of namespace a reference must name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Mount,
    User,
}

impl Kind {
    fn clone_flag(self) -> libc::c_int {
        match self {
            Kind::Mount => libc::CLONE_NEWNS,
            Kind::User => libc::CLONE_NEWUSER,
        }
    }

    /// What failed, for messages about the reference `path` to a namespace of this kind.
    fn invalid_reference(self, path: &Path) -> String {
        format!("invalid {} namespace reference {path:?}", self.name())
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Mount => "mount",
            Kind::User => "user",
        }
    }
}

/// Opens the namespace file at `path`, which must be a namespace of `kind`: non-blocking
/// (a FIFO given by mistake opens at once, and is refused), without a controlling terminal,
/// then checked to be on nsfs and of that kind (`NS_GET_NSTYPE`). For references given by the
/// caller; a path named inside a container goes through [`checked`], which opens nothing but
/// a namespace file.
pub(crate) fn open_namespace(path: &Path, kind: Kind) -> Result<OwnedFd, Error> {
    let what = || kind.invalid_reference(path);
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        let error = io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte");
        Error::io(what(), error)
    })?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let namespace = rustix::fs::open(c_path.as_c_str(), flags, Mode::empty())
        .map(own)
        .map_err(|errno| Error::io(what(), from_errno(errno)))?;
    check_type(&namespace, path, kind)?;
    Ok(namespace)
}

/// The namespace file an `O_PATH` `handle` names (`path`, for messages), checked to be on
/// nsfs before anything is opened, then reopened for reading through this thread's
/// `/proc/thread-self/fd`, non-blocking and without a controlling terminal, and checked to be
/// a namespace of `kind`: what a container names is never opened unless it is a namespace.
pub(crate) fn checked(handle: OwnedFd, path: &Path, kind: Kind) -> Result<OwnedFd, Error> {
    let what = || kind.invalid_reference(path);
    if !on_nsfs(&handle).map_err(|errno| Error::io(what(), from_errno(errno)))? {
        return Err(not_a_namespace(&handle, path, kind));
    }
    let namespace = reopen(&handle).map_err(|error| Error::io(what(), error))?;
    if identity(&namespace).ok() != identity(&handle).ok() {
        let error = io::Error::other("reopening the checked reference led to another file");
        return Err(Error::io(what(), error));
    }
    check_type(&namespace, path, kind)?;
    Ok(namespace)
}

fn on_nsfs(fd: &OwnedFd) -> rustix::io::Result<bool> {
    Ok(rustix::fs::fstatfs(lend(fd))?.f_type as u32 == NSFS_MAGIC)
}

/// The error for `fd` (named `path`), which is not a namespace of `kind`: what it is instead.
fn not_a_namespace(fd: &OwnedFd, path: &Path, kind: Kind) -> Error {
    let found = match rustix::fs::fstat(lend(fd)) {
        Ok(stat) => FileKind::from_mode(stat.st_mode).to_string(),
        Err(_) => "of an unknown kind".into(),
    };
    Error::NotANamespace {
        path: path.to_owned(),
        wanted: kind.name(),
        found,
    }
}

/// Fails unless the open file `namespace` (named `path`) is a namespace of `kind` on nsfs.
fn check_type(namespace: &OwnedFd, path: &Path, kind: Kind) -> Result<(), Error> {
    let what = || kind.invalid_reference(path);
    if !on_nsfs(namespace).map_err(|errno| Error::io(what(), from_errno(errno)))? {
        return Err(not_a_namespace(namespace, path, kind));
    }
    // SAFETY: NS_GET_NSTYPE takes no argument (0 is passed) and returns a CLONE_NEW* flag or -1.
    let nstype = unsafe { libc::ioctl(namespace.as_raw_fd(), libc::NS_GET_NSTYPE, 0) };
    let found = match nstype {
        nstype if nstype == kind.clone_flag() => return Ok(()),
        // On nsfs, but no namespace (ENOTTY).
        nstype if nstype < 0 => "an nsfs file that is no namespace".to_owned(),
        nstype => format!("a {} namespace", type_name(nstype)),
    };
    Err(Error::NotANamespace {
        path: path.to_owned(),
        wanted: kind.name(),
        found,
    })
}

fn type_name(nstype: libc::c_int) -> &'static str {
    match nstype {
        libc::CLONE_NEWNS => "mount",
        libc::CLONE_NEWUSER => "user",
        libc::CLONE_NEWPID => "PID",
        libc::CLONE_NEWNET => "network",
        libc::CLONE_NEWUTS => "UTS",
        libc::CLONE_NEWIPC => "IPC",
        libc::CLONE_NEWCGROUP => "cgroup",
        libc::CLONE_NEWTIME => "time",
        _ => "other",
    }
}

/// An nsfs ioctl that returns a new namespace descriptor (`NS_GET_USERNS`, `NS_GET_PARENT`).
pub(crate) fn ns_ioctl(namespace: &OwnedFd, request: libc::Ioctl) -> io::Result<OwnedFd> {
    // SAFETY: these requests take no argument (0 is passed) and return a new descriptor or -1.
    let fd = unsafe { libc::ioctl(namespace.as_raw_fd(), request, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The user namespace that owns `namespace` (`NS_GET_USERNS`).
pub(crate) fn owner(namespace: &OwnedFd) -> io::Result<OwnedFd> {
    ns_ioctl(namespace, libc::NS_GET_USERNS)
}

/// The uid of the creator of a user namespace, as this process sees it (`NS_GET_OWNER_UID`).
pub(crate) fn creator_uid(user_namespace: &OwnedFd) -> io::Result<u32> {
    let mut uid: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t to the address given.
    let done = unsafe {
        libc::ioctl(
            user_namespace.as_raw_fd(),
            libc::NS_GET_OWNER_UID,
            &mut uid as *mut libc::uid_t,
        )
    };
    if done < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(uid)
}

/// Which user namespace this process is in: the device and inode of its nsfs file, looked up
/// once. A process only ever moves down the tree of user namespaces (joining one needs
/// CAP_SYS_ADMIN in it, which a process has in none above its own), so one that moved since
/// has less authority than the one remembered, never more: the bound can only err on the safe
/// side.
pub(crate) fn own_user_namespace() -> io::Result<(u64, u64)> {
    static OURS: std::sync::OnceLock<(u64, u64)> = std::sync::OnceLock::new();
    if let Some(ours) = OURS.get() {
        return Ok(*ours);
    }
    let stat = rustix::fs::stat("/proc/thread-self/ns/user").map_err(from_errno)?;
    Ok(*OURS.get_or_init(|| (stat.st_dev, stat.st_ino)))
}

/// Fails unless `/proc` is the procfs of this process's PID namespace: only then does
/// `/proc/<pid>` name the process that has `pid` here. (A process in a PID namespace of its
/// own that did not mount a procfs for it sees its parent's, where every number differs.)
pub(crate) fn check_procfs() -> Result<(), Error> {
    let pid = std::process::id();
    let seen = match std::fs::read_link("/proc/self") {
        Ok(seen) => seen.to_string_lossy().into_owned(),
        // There, but pointing nowhere: a procfs of a PID namespace we are not in.
        Err(_) if Path::new("/proc/self").symlink_metadata().is_ok() => String::new(),
        Err(error) => return Err(Error::io("read /proc/self (is /proc mounted?)", error)),
    };
    if seen == pid.to_string() {
        Ok(())
    } else {
        Err(Error::ForeignProcfs { seen, pid })
    }
}
