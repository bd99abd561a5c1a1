//! Sleeping once joined: in the kernel until a signal ends us; with the lifeline, in a
//! blocking read of stdin until EOF (the host holding its write end is gone, even if it was
//! SIGKILLed). Data on stdin is read and ignored.

use crate::report::fail;
use crate::sys;

/// Sleeps until a signal ends the process, or (if `lifeline`) until EOF on stdin: exit 0.
pub fn sleep(lifeline: bool) -> ! {
    if lifeline {
        let mut sink = [core::mem::MaybeUninit::<u8>::uninit(); 64];
        loop {
            let read = sys::read(0, &mut sink);
            if read < 0 {
                fail(b"read lifeline", None, -read);
            }
            if read == 0 {
                sys::exit_group(0);
            }
        }
    }
    loop {
        rustix::event::pause();
    }
}
