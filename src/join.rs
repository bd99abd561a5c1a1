//! Joining a namespace by path: open it, then setns(2) into it; setns checks the type for us.

use crate::env::Variable;
use crate::report::fail;
use crate::sys;
use rustix::thread::LinkNameSpaceType as Type;

/// Enters the `kind` namespace at the path `variable` holds, or reports which step failed,
/// on which variable, and exits.
pub fn join(kind: Type, variable: Variable) {
    let fd = sys::open_read_only(variable.value());
    if fd < 0 {
        fail(b"open \"", Some(variable), -fd);
    }
    let joined = sys::setns(fd as i32, kind as i32);
    if joined < 0 {
        fail(b"join \"", Some(variable), -joined);
    }
    // Joined: the fd is not needed any more. Started with stdin closed, it may be fd 0, which
    // the lifeline would otherwise read.
    sys::close(fd as i32);
}
