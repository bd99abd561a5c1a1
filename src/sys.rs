//! The system calls rustix does not offer publicly, or only for owned or borrowed fds (fds 0–2
//! may be closed here), or only at a cost (getuid and prctl: its `process` feature, and 8 to 16
//! bytes more), as thin wrappers named after the kernel's calls. They keep the
//! kernel's convention — a result ≥ 0, or `-errno` — which costs a fraction of a `Result` at
//! every call site in a 3 KiB program.

use crate::arch::syscall;
use core::ffi::CStr;
use core::mem::MaybeUninit;
use linux_raw_sys::general::*;
use linux_raw_sys::prctl::PR_SET_DUMPABLE;

/// exit_group(2): ends the process. Not inlined: one copy serves every exit.
#[inline(never)]
pub fn exit_group(status: i32) -> ! {
    // SAFETY: exit_group takes a plain integer.
    unsafe { syscall(__NR_exit_group, [status as usize]) };
    // SAFETY: exit_group never returns.
    unsafe { core::hint::unreachable_unchecked() }
}

/// openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC): a new fd, or -errno.
#[inline(always)]
pub fn open_read_only(path: &CStr) -> isize {
    let flags = O_RDONLY | O_CLOEXEC;
    // SAFETY: `path` is a valid NUL-terminated string during the call.
    unsafe {
        syscall(
            __NR_openat,
            [AT_FDCWD as usize, path.as_ptr() as usize, flags as usize],
        )
    }
}

/// newfstatat(2): `stat` of `path` relative to `dirfd` (with AT_EMPTY_PATH and an empty path,
/// of `dirfd` itself, which may be a closed fd 0: -EBADF). Inlined: its three callers pass
/// constants or values already in registers, and a system call clobbers fewer registers than
/// a function call (16 bytes less on x86_64 than one shared copy, 40 on aarch64).
#[inline(always)]
pub fn fstatat(dirfd: i32, path: &CStr, flags: u32, stat: &mut MaybeUninit<stat>) -> isize {
    // SAFETY: `path` is NUL-terminated; the kernel writes at most one `struct stat` into `stat`.
    unsafe {
        syscall(
            __NR_newfstatat,
            [
                dirfd as usize,
                path.as_ptr() as usize,
                stat.as_mut_ptr() as usize,
                flags as usize,
            ],
        )
    }
}

/// setns(2): moves this (only) thread into the namespace `fd` refers to, if of type `nstype`.
#[inline(always)]
pub fn setns(fd: i32, nstype: i32) -> isize {
    // SAFETY: plain integers.
    unsafe { syscall(__NR_setns, [fd as usize, nstype as usize]) }
}

/// write(2) of `bytes` to `fd`; a closed fd gives -EBADF.
#[inline(always)]
pub fn write(fd: i32, bytes: &[u8]) -> isize {
    // SAFETY: the kernel reads at most `bytes.len()` bytes from a valid slice.
    unsafe {
        syscall(
            __NR_write,
            [fd as usize, bytes.as_ptr() as usize, bytes.len()],
        )
    }
}

/// read(2) from `fd` into `buf` (which need not be initialised); a closed fd gives -EBADF.
#[inline(always)]
pub fn read<T>(fd: i32, buf: &mut [MaybeUninit<T>]) -> isize {
    let len = core::mem::size_of_val(buf);
    // SAFETY: the kernel writes at most `len` bytes into a valid, exclusive buffer.
    unsafe { syscall(__NR_read, [fd as usize, buf.as_mut_ptr() as usize, len]) }
}

/// close(2) of `fd`, which this process must not use afterwards.
#[inline(always)]
pub fn close(fd: i32) -> isize {
    // SAFETY: a plain integer; closing an fd nobody uses (or one not open) is harmless.
    unsafe { syscall(__NR_close, [fd as usize]) }
}

/// close_range(first, ~0U, 0): closes every fd from `first` on (Linux 5.9+).
#[inline(always)]
pub fn close_range_from(first: u32) -> isize {
    // SAFETY: plain integers; the caller uses no fd from `first` on.
    unsafe { syscall(__NR_close_range, [first as usize, u32::MAX as usize, 0]) }
}

/// The `SIG_IGN` disposition for [`sigaction`].
pub const SIG_IGN: usize = 1;

/// rt_sigaction(signal, {handler, flags, restorer}, NULL): `handler` is `SIG_IGN` or the
/// address of an `extern "C" fn(i32)` of this program.
#[inline(never)]
pub fn sigaction(signal: u32, handler: usize) -> isize {
    let (flags, restorer) = match crate::arch::SIGNAL_RESTORER {
        Some(restorer) => (SA_RESTORER as usize, restorer as usize),
        None => (0, 0),
    };
    // struct sigaction as the kernel reads it (the libc one differs): handler, flags,
    // restorer, mask.
    let action = [handler, flags, restorer, 0];
    // SAFETY: `action` is a valid kernel sigaction during the call, whose handler, if any,
    // is a function of this program; no old action is written.
    unsafe {
        syscall(
            __NR_rt_sigaction,
            [signal as usize, action.as_ptr() as usize, 0, 8],
        )
    }
}

/// getpid(2).
#[inline(always)]
pub fn getpid() -> isize {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { syscall(__NR_getpid, []) }
}

/// getuid(2): the real user id, as the caller's user namespace maps it.
#[inline(always)]
pub fn getuid() -> isize {
    // SAFETY: getuid takes no arguments and cannot fail.
    unsafe { syscall(__NR_getuid, []) }
}

/// prctl(PR_SET_DUMPABLE, dumpable). A process that is not dumpable can be ptraced, and its
/// `/proc/<pid>/root`, `environ`, `fd`, ... read, only by a process with CAP_SYS_PTRACE in the
/// user namespace it was started in. The kernel resets the flag at some credential changes
/// (setns(2) into a user namespace another user owns, for one): set it after them.
#[inline(always)]
pub fn prctl_set_dumpable(dumpable: bool) -> isize {
    // SAFETY: plain integers; PR_SET_DUMPABLE reads no memory.
    unsafe {
        syscall(
            __NR_prctl,
            [PR_SET_DUMPABLE as usize, usize::from(dumpable)],
        )
    }
}
