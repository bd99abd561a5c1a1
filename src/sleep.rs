//! Sleeping once joined: in the kernel until a signal ends us; with the lifeline, also until
//! stdin reaches EOF (the host holding its write end is gone, even if it was SIGKILLed).

use crate::report::fail;
use crate::sys;
use linux_raw_sys::general::{pollfd, POLLIN};

/// Sleeps until a signal ends the process, or (if `lifeline`) until EOF on stdin: exit 0.
pub fn sleep(lifeline: bool) -> ! {
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
