//! x86_64: `_start` and the system call instruction.

// The kernel enters `_start` with the stack pointer at argc (argv and envp follow it), and
// rbp zero: the frame chain already ends here. Hand that address to Rust with the stack
// 16-byte aligned, as the ABI requires at a call.
core::arch::global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym crate::start::entry,
);

/// The `sa_restorer` a handler returns into, which x86_64 signal delivery requires
/// (SA_RESTORER): rt_sigreturn. (Our only handler exits, so it is never reached.)
pub const SIGNAL_RESTORER: Option<unsafe extern "C" fn()> = Some(restore_rt);

extern "C" {
    fn restore_rt();
}

core::arch::global_asm!(
    ".globl restore_rt",
    ".type restore_rt,@function",
    "restore_rt:",
    "mov eax, {rt_sigreturn}",
    "syscall",
    rt_sigreturn = const linux_raw_sys::general::__NR_rt_sigreturn,
);

/// A raw system call; returns the kernel's result (≥ 0, or -errno). Unused trailing
/// arguments are left as they are: the kernel does not read them.
///
/// # Safety
/// The arguments must be valid for system call `nr`.
#[inline(always)]
pub unsafe fn syscall<const N: usize>(nr: u32, args: [usize; N]) -> isize {
    let ret: isize;
    let arg = |i: usize| args.get(i).copied();
    // SAFETY: the caller vouches for the arguments; `syscall` clobbers only rcx and r11.
    unsafe {
        match (arg(0), arg(1), arg(2), arg(3)) {
            (Some(a0), Some(a1), Some(a2), Some(a3)) => core::arch::asm!(
                "syscall", inlateout("rax") nr as isize => ret,
                in("rdi") a0, in("rsi") a1, in("rdx") a2, in("r10") a3,
                lateout("rcx") _, lateout("r11") _, options(nostack, preserves_flags),
            ),
            (Some(a0), Some(a1), Some(a2), None) => core::arch::asm!(
                "syscall", inlateout("rax") nr as isize => ret,
                in("rdi") a0, in("rsi") a1, in("rdx") a2,
                lateout("rcx") _, lateout("r11") _, options(nostack, preserves_flags),
            ),
            (Some(a0), Some(a1), None, None) => core::arch::asm!(
                "syscall", inlateout("rax") nr as isize => ret,
                in("rdi") a0, in("rsi") a1,
                lateout("rcx") _, lateout("r11") _, options(nostack, preserves_flags),
            ),
            (Some(a0), None, None, None) => core::arch::asm!(
                "syscall", inlateout("rax") nr as isize => ret,
                in("rdi") a0,
                lateout("rcx") _, lateout("r11") _, options(nostack, preserves_flags),
            ),
            _ => core::arch::asm!(
                "syscall", inlateout("rax") nr as isize => ret,
                lateout("rcx") _, lateout("r11") _, options(nostack, preserves_flags),
            ),
        }
    }
    ret
}
