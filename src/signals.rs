//! Signal dispositions, set before the handshake so that they hold once `OK` is out.
//!
//! A host that closed our stdout must see exit 66, not a death by SIGPIPE: SIGPIPE is
//! ignored. As PID 1 of a PID namespace the kernel ignores signals left at their default
//! action and reparents orphans to us: there SIGTERM and SIGINT get a handler that exits 0,
//! and SIGCHLD is ignored, which makes the kernel reap every child that dies. Anywhere else
//! the other signals keep their default actions. The one handler never returns, so no call
//! is ever restarted or interrupted with EINTR.

use crate::sys::{self, SIG_IGN};
use linux_raw_sys::general::{SIGCHLD, SIGINT, SIGPIPE, SIGTERM};

/// SIGPIPE ignored; as PID 1, also SIGCHLD ignored and SIGTERM, SIGINT handled by `exit_0`.
pub fn set_dispositions() {
    // Setting valid signals' actions cannot fail.
    sys::sigaction(SIGPIPE, SIG_IGN);
    if sys::getpid() == 1 {
        sys::sigaction(SIGCHLD, SIG_IGN);
        sys::sigaction(SIGTERM, exit_0 as *const () as usize);
        sys::sigaction(SIGINT, exit_0 as *const () as usize);
    }
}

/// PID 1's handler for SIGTERM and SIGINT: end the sleeper with status 0.
extern "C" fn exit_0(_signal: i32) {
    sys::exit_group(0)
}
