//! Joining a namespace by path: open it, then setns(2) into it; setns checks the type for us.

use crate::report::{refuse, Step};
use crate::sys;
use core::ffi::CStr;
use core::mem::MaybeUninit;
use linux_raw_sys::general::{AT_EMPTY_PATH, AT_FDCWD, CLONE_NEWNS, CLONE_NEWUSER};

/// A kind of namespace the sleeper joins.
pub struct Namespace {
    /// setns(2)'s `nstype`.
    nstype: u32,
    /// Its word in the failure line.
    name: &'static [u8],
    /// The sleeper's own one.
    own: &'static CStr,
}

pub const USER: Namespace = Namespace {
    nstype: CLONE_NEWUSER,
    name: b"user",
    own: c"/proc/self/ns/user",
};

pub const MOUNT: Namespace = Namespace {
    nstype: CLONE_NEWNS,
    name: b"mount",
    own: c"/proc/self/ns/mnt",
};

/// Enters the namespace at `path`, or reports which step failed on which path, and exits.
/// A namespace the sleeper is already in counts as joined, whatever setns(2) says of it.
pub fn join(namespace: &Namespace, path: &CStr) {
    let fd = sys::open_read_only(path);
    let (step, error) = if fd < 0 {
        (Step::Open, fd)
    } else {
        let joined = sys::setns(fd as i32, namespace.nstype as i32);
        // Checked on the failure path only: setns(2) refuses the own user namespace (EINVAL),
        // and the own mount namespace without CAP_SYS_ADMIN (EPERM), as in a holder container.
        if joined == 0 || is_own(fd as i32, namespace.own) {
            // Joined: the fd is not needed any more. Started with stdin closed, it may be fd
            // 0, which the lifeline would otherwise read.
            sys::close(fd as i32);
            return;
        }
        (Step::Join, joined)
    };
    refuse(step, namespace.name, path, error.wrapping_neg())
}

/// Whether `fd` is the namespace file `own` names (same device and inode): then it is of the
/// same type, and the sleeper is in it.
fn is_own(fd: i32, own: &CStr) -> bool {
    let (mut theirs, mut ours) = (MaybeUninit::uninit(), MaybeUninit::uninit());
    if sys::fstatat(fd, c"", AT_EMPTY_PATH, &mut theirs) < 0
        || sys::fstatat(AT_FDCWD, own, 0, &mut ours) < 0
    {
        return false;
    }
    // SAFETY: both calls succeeded, so the kernel filled in both.
    let (theirs, ours) = unsafe { (theirs.assume_init(), ours.assume_init()) };
    (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino)
}
