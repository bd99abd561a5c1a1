//! The floor of the spawn benchmark: the least a sleeper can be. A static, libc-free program
//! whose `_start` writes `OK\n` to stdout and pauses forever, with no namespace to join and no
//! environment to read. `benches/spawn.rs` compiles it with `rustc` at start-up.
//!
//! Given an argument, it first joins the mount namespace that argument names (openat(2) and
//! setns(2), errors ignored, nothing else): the *floor + join* row, which tells what joining
//! costs by itself apart from everything else a sleeper does.
//!
//! Cargo also finds this file as a bench target of its own (benches/*.rs); built that way (as a
//! test harness, `cfg(test)`) it is an empty crate, so that it never gets in the way.

#![cfg_attr(not(test), no_std, no_main)]

#[cfg(all(not(test), target_arch = "x86_64"))]
core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "mov rdi, [rsp]", // argc
    "cmp rdi, 2",
    "jb 1f",
    "mov eax, 257", // fd = openat(AT_FDCWD, argv[1], O_RDONLY | O_CLOEXEC)
    "mov edi, -100",
    "mov rsi, [rsp + 16]",
    "mov edx, 0x80000",
    "syscall",
    "mov edi, eax", // setns(fd, CLONE_NEWNS)
    "mov eax, 308",
    "mov esi, 0x20000",
    "syscall",
    "1:",
    "mov eax, 1", // write(1, "OK\n", 3)
    "mov edi, 1",
    "lea rsi, [rip + 3f]",
    "mov edx, 3",
    "syscall",
    "2:",
    "mov eax, 34", // pause()
    "syscall",
    "jmp 2b",
    "3:",
    ".ascii \"OK\\n\"",
);

#[cfg(all(not(test), target_arch = "aarch64"))]
core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "ldr x9, [sp]", // argc
    "cmp x9, #2",
    "b.lt 1f",
    "mov x0, #-100", // fd = openat(AT_FDCWD, argv[1], O_RDONLY | O_CLOEXEC)
    "ldr x1, [sp, #16]",
    "mov x2, #0x80000",
    "mov x3, #0",
    "mov x8, #56",
    "svc #0",
    "mov x1, #0x20000", // setns(fd, CLONE_NEWNS)
    "mov x8, #268",
    "svc #0",
    "1:",
    "mov x0, #1", // write(1, "OK\n", 3)
    "adr x1, 3f",
    "mov x2, #3",
    "mov x8, #64",
    "svc #0",
    "2:",
    "mov x0, #0", // ppoll(NULL, 0, NULL, NULL): no pause(2) on aarch64
    "mov x1, #0",
    "mov x2, #0",
    "mov x3, #0",
    "mov x8, #73",
    "svc #0",
    "b 2b",
    "3:",
    ".ascii \"OK\\n\"",
);

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
