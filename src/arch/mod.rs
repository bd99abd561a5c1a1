//! The only architecture-specific code: the `_start` entry and a raw system call for the calls
//! rustix does not offer publicly (`exit_group`, `close_range`, `rt_sigprocmask`).

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::syscall;

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::syscall;

extern "C" {
    /// rt_sigreturn, for `sa_restorer`: the code a signal handler returns into.
    pub fn restore_rt();
}
