//! Sleeping once joined: in the kernel until a signal ends us; with the lifeline, also until
//! stdin reaches EOF (the host holding its write end is gone, even if it was SIGKILLed).
//!
//! As PID 1 of a PID namespace the kernel ignores signals left at their default action and
//! reparents orphans to us. There SIGTERM and SIGINT get a handler that exits 0, and SIGCHLD
//! is ignored, which makes the kernel reap every child that dies. Anywhere else signals keep
//! their default actions. The one handler never returns, so no call is ever restarted or
//! interrupted with EINTR.

use crate::report::fail;
use crate::sys;
use linux_raw_sys::general::{pollfd, POLLIN, SIGCHLD, SIGINT, SIGTERM};

/// Sleeps until a signal, the lifeline's EOF (if `lifeline`), or as PID 1 SIGTERM/SIGINT.
pub fn sleep(lifeline: bool) -> ! {
    if sys::getpid() == 1 {
        // Setting valid signals' actions cannot fail.
        sys::sigaction(SIGCHLD, sys::SIG_IGN);
        sys::sigaction(SIGTERM, exit_0 as *const () as usize);
        sys::sigaction(SIGINT, exit_0 as *const () as usize);
    }
    // Stdin with the lifeline; else fd -1, which poll skips: then it sleeps until a signal.
    let mut stdin = [pollfd {
        fd: i32::from(lifeline) - 1,
        events: POLLIN as i16,
        revents: 0,
    }];
    let mut sink = [core::mem::MaybeUninit::<u8>::uninit(); 64];
    loop {
        sys::poll(&mut stdin);
        if stdin[0].revents != 0 {
            let read = sys::read(0, &mut sink);
            if read < 0 {
                fail(b"read lifeline (stdin)", b"", -read);
            }
            if read == 0 {
                sys::exit_group(0);
            }
        }
    }
}

/// PID 1's handler for SIGTERM and SIGINT: end the sleeper with status 0.
extern "C" fn exit_0(_signal: i32) {
    sys::exit_group(0)
}
