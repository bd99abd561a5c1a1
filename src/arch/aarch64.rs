//! aarch64: `_start` and the system call instruction.

// The kernel enters `_start` with sp (always 16-byte aligned on aarch64) at argc, and every
// other register zero: the frame chain (x29, x30) already ends here.
core::arch::global_asm!(
    ".globl _start",
    ".type _start,%function",
    "_start:",
    "mov x0, sp",
    "bl {entry}",
    "udf #0",
    entry = sym crate::start::entry,
);

/// No `sa_restorer`: without SA_RESTORER, aarch64 returns from a handler through the vDSO's
/// rt_sigreturn trampoline.
pub const SIGNAL_RESTORER: Option<unsafe extern "C" fn()> = None;

/// A raw system call; returns the kernel's result (≥ 0, or -errno). Unused trailing
/// arguments are left as they are: the kernel does not read them.
///
/// # Safety
/// The arguments must be valid for system call `nr`.
#[inline(always)]
pub unsafe fn syscall<const N: usize>(nr: u32, args: [usize; N]) -> isize {
    let ret: isize;
    let arg = |i: usize| args.get(i).copied();
    // SAFETY: the caller vouches for the arguments; `svc 0` clobbers only x0.
    unsafe {
        match (arg(0), arg(1), arg(2), arg(3)) {
            (Some(a0), Some(a1), Some(a2), Some(a3)) => core::arch::asm!(
                "svc 0", in("x8") nr as usize, inlateout("x0") a0 as isize => ret,
                in("x1") a1, in("x2") a2, in("x3") a3, options(nostack, preserves_flags),
            ),
            (Some(a0), Some(a1), Some(a2), None) => core::arch::asm!(
                "svc 0", in("x8") nr as usize, inlateout("x0") a0 as isize => ret,
                in("x1") a1, in("x2") a2, options(nostack, preserves_flags),
            ),
            (Some(a0), Some(a1), None, None) => core::arch::asm!(
                "svc 0", in("x8") nr as usize, inlateout("x0") a0 as isize => ret,
                in("x1") a1, options(nostack, preserves_flags),
            ),
            (Some(a0), None, None, None) => core::arch::asm!(
                "svc 0", in("x8") nr as usize, inlateout("x0") a0 as isize => ret,
                options(nostack, preserves_flags),
            ),
            _ => core::arch::asm!(
                "svc 0", in("x8") nr as usize, lateout("x0") ret,
                options(nostack, preserves_flags),
            ),
        }
    }
    ret
}
