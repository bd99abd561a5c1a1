//! The only architecture-specific code: the `_start` entry, a raw system call for the calls
//! rustix does not offer publicly (`exit_group`, `close_range`, `rt_sigaction`, ...), and
//! what a signal handler returns into.

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::{syscall, SIGNAL_RESTORER};

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::{syscall, SIGNAL_RESTORER};
