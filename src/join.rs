//! Joining a namespace by path: open it, then setns(2) into it; setns checks the type for us.

use crate::report::fail;
use crate::sys;
use core::ffi::CStr;
use rustix::thread::LinkNameSpaceType as Type;

/// Enters the `kind` namespace at `path`, or reports which step failed and exits.
pub fn join(kind: Type, path: &CStr) {
    let (open_failed, join_failed): (&[u8], &[u8]) = match kind {
        Type::User => (b"open user namespace \"", b"join user namespace \""),
        _ => (b"open mount namespace \"", b"join mount namespace \""),
    };
    let fd = sys::open_read_only(path);
    if fd < 0 {
        fail(open_failed, path.to_bytes(), -fd);
    }
    let joined = sys::setns(fd as i32, kind as i32);
    if joined < 0 {
        fail(join_failed, path.to_bytes(), -joined);
    }
    // Joined: the fd is not needed any more. Started with stdin closed, it may be fd 0, which
    // the lifeline would otherwise read.
    sys::close(fd as i32);
}
