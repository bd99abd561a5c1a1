//! The floor of the spawn benchmark: the least a sleeper can be. A static, libc-free program
//! whose `_start` writes `OK\n` to stdout and pauses forever, with no namespace to join and no
//! environment to read. `benches/spawn.rs` compiles it with `rustc` at start-up.
//!
//! Cargo also finds this file as a bench target of its own (benches/*.rs); built that way (as a
//! test harness, `cfg(test)`) it is an empty crate, so that it never gets in the way.

#![cfg_attr(not(test), no_std, no_main)]

#[cfg(all(not(test), target_arch = "x86_64"))]
core::arch::global_asm!(
    ".globl _start",
    "_start:",
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
