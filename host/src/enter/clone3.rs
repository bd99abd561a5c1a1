//! Starting a program the cheapest way Linux offers: clone3(2) with
//! `CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_CLEAR_SIGHAND`, then execve(2).
//!
//! Why not `std::process::Command`: glibc's posix_spawn child resets every signal disposition
//! one rt_sigaction(2) at a time (about 120 calls, a third of a spawn); `CLONE_CLEAR_SIGHAND`
//! has the kernel do it in one step. `CLONE_PIDFD` hands over the pidfd with the child, so
//! no PID is ever looked up (no window for PID reuse).
//!
//! The child shares our memory (`CLONE_VM`) until it execs, and we are suspended until then
//! (`CLONE_VFORK`), like musl's posix_spawn. So everything it needs (paths, argv, envp, fd
//! numbers) is prepared before the clone in a [`Plan`]; the child runs [`child_main`] on a stack
//! of its own carved out of this thread's stack (unused while we are suspended) and makes raw
//! system calls only: no allocation, no locks, no Rust drop glue. If execve fails, the child
//! writes the errno into the plan, which we read once it has exited.
//!
//! The child shares our descriptor table too (`CLONE_FILES`) where the kernel lets it take a
//! table of its own holding only the few it needs (`close_range(K, ~0, CLOSE_RANGE_UNSHARE)`,
//! Linux 5.9; slots.rs puts them below K): so a spawn costs the same whether this process holds
//! ten descriptors or ten thousand, where a plain clone would copy them all into the child.
//!
//! The exit signal is SIGCHLD, as with fork: execve(2) would make it SIGCHLD anyway. So a host
//! that ignores SIGCHLD (or sets `SA_NOCLDWAIT`) has the kernel reap the sleeper, and a host
//! that reaps any child (`waitpid(-1)`) may take its status; child.rs then reads the status
//! from the pidfd.

use std::ffi::{c_char, c_int, c_long, CString};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::ptr;

const CLONE_VM: u64 = 0x100;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;
const CLONE_FILES: u64 = 0x400;
const FLAGS: u64 = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | CLONE_CLEAR_SIGHAND;
const CLOSE_RANGE_UNSHARE: c_long = 1 << 1;

/// The child's stack: it makes a handful of system calls through libc's `syscall`, so a few
/// hundred bytes would do; musl's posix_spawn gives its child 5 KiB of the caller's stack.
const CHILD_STACK: usize = 8192;

/// The first arguments of `struct clone_args`, enough for these flags (`CLONE_ARGS_SIZE_VER0`,
/// Linux 5.3; `CLONE_CLEAR_SIGHAND` needs 5.5).
#[repr(C, align(8))]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

#[repr(C, align(16))]
struct ChildStack([MaybeUninit<u8>; CHILD_STACK]);

/// A program to run: its path, argument and environment vectors, and the descriptors that
/// become its stdin, stdout and stderr, all prepared before the clone.
pub(crate) struct Plan {
    program: CString,
    /// Where set, the program is this open file instead (execveat with `AT_EMPTY_PATH`).
    exec_fd: c_int,
    // Owned strings behind the pointer vectors below.
    _arg0: CString,
    _strings: Vec<CString>,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
}

impl Plan {
    /// Runs the open file `fd` rather than looking `program` up (execveat with `AT_EMPTY_PATH`;
    /// the file may be close-on-exec: it is an ELF program, not a script).
    pub(crate) fn exec_fd(mut self, fd: RawFd) -> Plan {
        self.exec_fd = fd;
        self
    }

    /// The descriptor the child must keep to exec, if any.
    pub(crate) fn needs_fd(&self) -> Option<RawFd> {
        (self.exec_fd >= 0).then_some(self.exec_fd)
    }

    /// `program` run with `argv[0]` = `arg0` and exactly `env` (`NAME=value` strings).
    pub(crate) fn new(program: CString, arg0: CString, env: Vec<CString>) -> Plan {
        let mut argv = vec![arg0.as_ptr(), ptr::null()];
        argv.shrink_to_fit();
        let mut envp: Vec<*const c_char> = env.iter().map(|entry| entry.as_ptr()).collect();
        envp.push(ptr::null());
        Plan {
            program,
            exec_fd: -1,
            _arg0: arg0,
            _strings: env,
            argv,
            envp,
        }
    }
}

/// What the child reads, and where it writes its exec failure.
#[repr(C)]
struct Shared {
    program: *const c_char,
    exec_fd: c_int,
    argv: *const *const c_char,
    envp: *const *const c_char,
    /// For fd 0, 1 and 2: the descriptor to dup there (all ≥ 3, so no dup3 clobbers another).
    fds: [c_int; 3],
    /// With `CLONE_FILES`: the child keeps our descriptors below this one only; else -1.
    keep_below: c_int,
    /// 0, or the errno of the step that failed in the child.
    errno: c_int,
    /// Whether that step was taking a descriptor table of its own.
    unshare_failed: c_int,
}

/// Why no child runs.
pub(crate) enum Failure {
    /// clone3 is not available here (too old a kernel, or a seccomp filter said ENOSYS or
    /// EPERM, as some container runtimes do): spawn another way.
    Refused(c_int),
    /// The clone failed for another reason (EAGAIN, ENOMEM, ...).
    Clone(io::Error),
    /// The child could not run the program (execve or dup3 failed: ENOENT, EACCES, ...).
    /// The child has exited; its pidfd is given back so that it is reaped.
    Exec(io::Error, OwnedFd),
    /// The child could not take a descriptor table of its own (close_range refused: a kernel
    /// before 5.9, or a seccomp filter): spawn without sharing ours. The child has exited
    /// without touching any descriptor; its pidfd is given back so that it is reaped.
    Unshare(io::Error, OwnedFd),
}

/// Runs `plan` with `stdio` as fds 0, 1 and 2 (each must be ≥ 3 and close-on-exec; they are
/// dup'ed without the flag). With `keep_below`, the child shares our descriptor table until it
/// takes its own with only the descriptors below that number (which `stdio` must be). Returns
/// the child's PID and pidfd once it has exec'ed.
pub(crate) fn spawn(
    plan: &Plan,
    stdio: [RawFd; 3],
    keep_below: Option<RawFd>,
) -> Result<(u32, OwnedFd), Failure> {
    debug_assert!(stdio.iter().all(|&fd| fd > 2));
    debug_assert!(keep_below.is_none_or(|below| stdio.iter().all(|&fd| fd < below)));
    let mut shared = Shared {
        program: plan.program.as_ptr(),
        exec_fd: plan.exec_fd,
        argv: plan.argv.as_ptr(),
        envp: plan.envp.as_ptr(),
        fds: stdio,
        keep_below: keep_below.unwrap_or(-1),
        errno: 0,
        unshare_failed: 0,
    };
    let mut stack = ChildStack([MaybeUninit::uninit(); CHILD_STACK]);
    let mut pidfd: c_int = -1;
    let mut args = CloneArgs {
        flags: if keep_below.is_some() {
            FLAGS | CLONE_FILES
        } else {
            FLAGS
        },
        pidfd: ptr::addr_of_mut!(pidfd) as u64,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.0.as_mut_ptr() as u64,
        stack_size: CHILD_STACK as u64,
        tls: 0,
    };
    // SAFETY: `args` describes a valid stack (ours, unused by this thread while it is
    // suspended by CLONE_VFORK) and a valid pidfd slot; `shared` and everything it points to
    // stay alive and unmoved until the child has exec'ed or exited, which is when the call
    // returns; `child_main` is async-signal-safe and never returns.
    let result = unsafe { clone3(&mut args, ptr::addr_of_mut!(shared)) };
    // The child is done with its stack and with `shared` once we run again.
    std::hint::black_box(&mut stack);
    if result < 0 {
        return Err(match -result as c_int {
            // EINVAL: a kernel without CLONE_CLEAR_SIGHAND (before 5.5); E2BIG: one that
            // wants a smaller clone_args than even version 0.
            libc::ENOSYS | libc::EPERM | libc::EINVAL | libc::E2BIG => {
                Failure::Refused(-result as c_int)
            }
            errno => Failure::Clone(io::Error::from_raw_os_error(errno)),
        });
    }
    // SAFETY: CLONE_PIDFD stored a new close-on-exec pidfd that nothing else owns.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    // SAFETY: the child has exec'ed or exited, so nothing writes `shared` any more.
    let (errno, unshare_failed) = unsafe {
        (
            ptr::read_volatile(ptr::addr_of!(shared.errno)),
            ptr::read_volatile(ptr::addr_of!(shared.unshare_failed)),
        )
    };
    if unshare_failed != 0 {
        return Err(Failure::Unshare(io::Error::from_raw_os_error(errno), pidfd));
    }
    if errno != 0 {
        return Err(Failure::Exec(io::Error::from_raw_os_error(errno), pidfd));
    }
    Ok((result as u32, pidfd))
}

/// The child: take a descriptor table of its own first if it shares ours (nothing below may
/// touch ours: the dup3s would replace our 0, 1 and 2), unblock every signal (the dispositions
/// were reset by CLONE_CLEAR_SIGHAND, but ignored ones stay ignored: SIGPIPE goes back to
/// default, as std's `Command` does), move the descriptors into place, exec. Raw system calls
/// only; `errno` is the calling thread's, which is suspended meanwhile, as in glibc's and
/// musl's posix_spawn.
#[inline(never)]
extern "C" fn child_main(shared: *mut Shared) -> ! {
    // SAFETY: `shared` points at the parent's `Shared`, valid until we exec or exit; every call
    // below passes valid pointers or none, and none of them allocates or locks.
    unsafe {
        let keep_below = ptr::addr_of!((*shared).keep_below).read();
        if keep_below >= 0 {
            let failed = sys(
                libc::SYS_close_range,
                [
                    keep_below as c_long,
                    c_long::from(!0u32),
                    CLOSE_RANGE_UNSHARE,
                    0,
                ],
            );
            if failed != 0 {
                ptr::addr_of_mut!((*shared).errno).write_volatile(failed);
                ptr::addr_of_mut!((*shared).unshare_failed).write_volatile(1);
                libc::syscall(libc::SYS_exit, 127);
                #[allow(clippy::empty_loop)]
                loop {}
            }
        }
        let empty_set: u64 = 0;
        let default_action: [u64; 4] = [0; 4]; // SIG_DFL, no flags, no restorer, empty mask
        let mut failed = sys(
            libc::SYS_rt_sigprocmask,
            [
                libc::SIG_SETMASK as c_long,
                ptr::addr_of!(empty_set) as c_long,
                0,
                8,
            ],
        );
        if failed == 0 {
            failed = sys(
                libc::SYS_rt_sigaction,
                [
                    libc::SIGPIPE as c_long,
                    default_action.as_ptr() as c_long,
                    0,
                    8,
                ],
            );
        }
        let fds = ptr::addr_of!((*shared).fds).read();
        for (target, source) in (0..).zip(fds) {
            if failed == 0 {
                failed = sys(libc::SYS_dup3, [source as c_long, target, 0, 0]);
            }
        }
        if failed == 0 {
            let exec_fd = ptr::addr_of!((*shared).exec_fd).read();
            if exec_fd >= 0 {
                libc::syscall(
                    libc::SYS_execveat,
                    exec_fd,
                    c"".as_ptr(),
                    (*shared).argv,
                    (*shared).envp,
                    libc::AT_EMPTY_PATH,
                );
            } else {
                libc::syscall(
                    libc::SYS_execve,
                    (*shared).program,
                    (*shared).argv,
                    (*shared).envp,
                );
            }
            failed = *libc::__errno_location();
        }
        ptr::addr_of_mut!((*shared).errno).write_volatile(if failed == 0 {
            libc::EIO
        } else {
            failed
        });
        libc::syscall(libc::SYS_exit, 127);
        #[allow(clippy::empty_loop)]
        loop {}
    }
}

/// A system call with up to four arguments; 0 on success, else the errno.
///
/// SAFETY: as for the system call itself.
unsafe fn sys(number: c_long, args: [c_long; 4]) -> c_int {
    if libc::syscall(number, args[0], args[1], args[2], args[3]) == -1 {
        *libc::__errno_location()
    } else {
        0
    }
}

/// clone3(2), with the child calling `child_main(shared)` on the stack in `args`.
/// Returns the child's PID, or a negated errno.
///
/// SAFETY: `args` must name a usable stack and pidfd slot, and `shared` must be valid for the
/// child until it execs or exits.
#[cfg(target_arch = "x86_64")]
unsafe fn clone3(args: *mut CloneArgs, shared: *mut Shared) -> isize {
    let result: isize;
    // The child returns from the syscall with rax = 0 on the new stack (16-byte aligned, so
    // right for a call), clears the frame pointer so that nothing unwinds into our frames,
    // and calls child_main, which never returns. rcx and r11 are clobbered by `syscall`.
    core::arch::asm!(
        "syscall",
        "test rax, rax",
        "jnz 2f",
        "xor ebp, ebp",
        "mov rdi, r12",
        "call r13",
        "ud2",
        "2:",
        inlateout("rax") libc::SYS_clone3 as isize => result,
        in("rdi") args,
        in("rsi") std::mem::size_of::<CloneArgs>(),
        in("r12") shared,
        in("r13") child_main as extern "C" fn(*mut Shared) -> !,
        lateout("rcx") _,
        lateout("r11") _,
        options(nostack),
    );
    result
}

/// clone3(2), with the child calling `child_main(shared)` on the stack in `args`.
/// Returns the child's PID, or a negated errno.
///
/// SAFETY: `args` must name a usable stack and pidfd slot, and `shared` must be valid for the
/// child until it execs or exits.
#[cfg(target_arch = "aarch64")]
unsafe fn clone3(args: *mut CloneArgs, shared: *mut Shared) -> isize {
    let result: isize;
    // The child returns from the syscall with x0 = 0 on the new stack, clears the frame
    // pointer and link register so that nothing unwinds into our frames, and calls child_main,
    // which never returns.
    core::arch::asm!(
        "svc #0",
        "cbnz x0, 2f",
        "mov x29, xzr",
        "mov x30, xzr",
        "mov x0, x20",
        "blr x21",
        "brk #1",
        "2:",
        inlateout("x0") args => result,
        in("x1") std::mem::size_of::<CloneArgs>(),
        in("x8") libc::SYS_clone3,
        in("x20") shared,
        in("x21") child_main as extern "C" fn(*mut Shared) -> !,
        options(nostack),
    );
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn clone_args_is_version_zero() {
        assert_eq!(std::mem::size_of::<CloneArgs>(), 64);
    }

    #[test]
    fn argv_and_envp_end_in_null() {
        let plan = Plan::new(
            c"/bin/true".to_owned(),
            c"true".to_owned(),
            vec![c"A=1".to_owned()],
        );
        assert_eq!(plan.argv.len(), 2);
        assert!(plan.argv[1].is_null());
        assert_eq!(plan.envp.len(), 2);
        assert!(plan.envp[1].is_null());
        // SAFETY: the pointer is into `plan`, alive here.
        assert_eq!(unsafe { CStr::from_ptr(plan.envp[0]) }, c"A=1");
    }
}
