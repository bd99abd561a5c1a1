//! The system calls rustix does not offer publicly, as small typed wrappers over `arch::syscall4`.

use crate::arch::syscall4;
use linux_raw_sys::general::{__NR_close_range, __NR_exit_group, __NR_rt_sigprocmask};
use rustix::io::Errno;

/// exit_group(2): ends the process.
pub fn exit_group(status: i32) -> ! {
    // SAFETY: exit_group takes a plain integer and does not return.
    unsafe { syscall4(__NR_exit_group, status as usize, 0, 0, 0) };
    // SAFETY: exit_group never returns.
    unsafe { core::hint::unreachable_unchecked() }
}

/// close_range(2) over `first..=u32::MAX`: closes every fd from `first` on (Linux 5.9+).
pub fn close_from(first: u32) -> Result<(), Errno> {
    // SAFETY: close_range takes plain integers; closing fds we do not use is our intent.
    let ret = unsafe { syscall4(__NR_close_range, first as usize, u32::MAX as usize, 0, 0) };
    result(ret)
}

/// rt_sigprocmask(SIG_BLOCK, 1 << (signal - 1)): block `signal` for this (single) thread.
pub fn block_signal(signal: u32) -> Result<(), Errno> {
    let set: u64 = 1 << (signal - 1);
    const SIG_BLOCK: usize = linux_raw_sys::general::SIG_BLOCK as usize;
    // SAFETY: `set` is a valid 8-byte sigset_t for the duration of the call; no old set is read.
    let ret = unsafe {
        syscall4(__NR_rt_sigprocmask, SIG_BLOCK, (&raw const set) as usize, 0, 8)
    };
    result(ret)
}

fn result(ret: isize) -> Result<(), Errno> {
    if ret < 0 {
        Err(Errno::from_raw_os_error(-ret as i32))
    } else {
        Ok(())
    }
}
