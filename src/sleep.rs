//! Sleeping once joined: in the kernel until a signal ends us; with the lifeline, in a
//! blocking read of stdin until EOF (the host holding its write end is gone, even if it was
//! SIGKILLed). Data on stdin is read and ignored.
//!
//! The lifeline engages only on a pipe or a socket: a host that never meant one (lxkns gives
//! `/dev/null`) but passes on an inherited `sleepy_lifeline` must not see its sleeper exit.

use crate::report::fail;
use crate::sys;
use core::mem::MaybeUninit;
use linux_raw_sys::general::{AT_EMPTY_PATH, S_IFIFO, S_IFMT, S_IFSOCK};

/// Sleeps until a signal ends the process, or (if `lifeline` and stdin is a pipe or a
/// socket) until EOF on stdin: exit 0.
pub fn sleep(lifeline: bool) -> ! {
    if lifeline && stdin_is_pipe_or_socket() {
        let mut sink = [MaybeUninit::<u8>::uninit(); 64];
        loop {
            let read = sys::read(0, &mut sink);
            if read < 0 {
                fail(b"cannot read lifeline", read.wrapping_neg());
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

/// A closed stdin is neither.
fn stdin_is_pipe_or_socket() -> bool {
    let mut stat = MaybeUninit::uninit();
    if sys::fstatat(0, c"", AT_EMPTY_PATH, &mut stat) < 0 {
        return false;
    }
    // SAFETY: the call succeeded, so the kernel filled it in.
    let file_type = unsafe { stat.assume_init() }.st_mode & S_IFMT;
    file_type == S_IFIFO || file_type == S_IFSOCK
}
