//! Sleeping once joined: forever in pause(2), or on the lifeline until its writer is gone.

use crate::report::Failure;
use crate::sys::exit_group;
use rustix::io::Errno;

/// Sleeps until a signal ends the process.
pub fn forever() -> ! {
    loop {
        rustix::event::pause();
    }
}

/// Sleeps in read(2) on stdin, ignoring any data; EOF means the host that held the pipe's
/// write end is gone (exited or killed), so the sleeper exits 0 with it.
pub fn until_lifeline_closes() -> Failure {
    // SAFETY: fd 0 is only borrowed here; if it is not open, read fails with EBADF.
    let stdin = unsafe { rustix::fd::BorrowedFd::borrow_raw(0) };
    let mut sink = [0u8; 64];
    loop {
        match rustix::io::read(stdin, &mut sink) {
            Ok(0) => exit_group(0),
            Ok(_) | Err(Errno::INTR) => continue,
            Err(errno) => return Failure::Lifeline(errno),
        }
    }
}
