//! Sleeping once joined: in the kernel until a signal ends us; with the lifeline, also until
//! stdin reaches EOF (the host holding its write end is gone, even if it was SIGKILLed).
//!
//! As PID 1 of a PID namespace the kernel ignores default-action signals and orphans are
//! reparented to us, so there SIGTERM and SIGINT, read from a signalfd, end the sleeper with
//! status 0, and SIGCHLD is ignored, which makes the kernel reap every child that dies.
//! Anywhere else signals keep their default actions. No signal has a handler, so no call here
//! is ever interrupted with EINTR.

use crate::report::fail;
use crate::sys::{self, sig};
use core::mem::MaybeUninit;
use linux_raw_sys::general::{pollfd, POLLIN, SIGCHLD, SIGINT, SIGTERM};

/// Sleeps until a signal, the lifeline's EOF (if `lifeline`), or as PID 1 SIGTERM/SIGINT.
pub fn sleep(lifeline: bool) -> ! {
    let signals = if sys::getpid() == 1 {
        init_signals()
    } else {
        -1
    };
    let watch = |fd| pollfd {
        fd,
        events: POLLIN as i16,
        revents: 0,
    };
    // Stdin (0) with the lifeline, else -1: nothing.
    let mut fds = [watch(signals), watch(i32::from(lifeline) - 1)];
    let mut sink = [MaybeUninit::<u8>::uninit(); 64];
    loop {
        // Entries with fd -1 are skipped: with neither, this sleeps until a signal kills us.
        sys::poll(&mut fds);
        if fds[0].revents != 0 {
            sys::exit_group(0); // SIGTERM or SIGINT is pending
        }
        if fds[1].revents != 0 {
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

/// Ignores SIGCHLD (so the kernel reaps our children), blocks SIGTERM and SIGINT and returns a
/// signalfd that becomes readable when one of them arrives.
fn init_signals() -> i32 {
    // Ignoring valid signals and blocking them cannot fail.
    sys::ignore_signal(SIGCHLD);
    let set = sig(SIGTERM) | sig(SIGINT);
    sys::block_signals(&set);
    let fd = sys::signalfd(&set);
    if fd < 0 {
        fail(b"signalfd", b"", -fd);
    }
    fd as i32
}
