//! The ELF file header and program headers, written by hand.
//!
//! The sleeper is linked as a flat image (`--oformat=binary`, see build.rs) that starts with
//! these 176 bytes, so the file carries no section headers, no section names and no padding:
//! a linker's own ELF output would spend about 200 of the 3072 bytes the binary may take on
//! things no loader reads. What the kernel needs is all here: one read+execute `PT_LOAD` of
//! the whole file at a fixed address (static, non-PIE, nothing to relocate), no `PT_INTERP`,
//! no `PT_DYNAMIC`, and a `PT_GNU_STACK` that keeps the stack non-executable.

#[cfg(target_arch = "aarch64")]
const MACHINE: u16 = 183; // EM_AARCH64
#[cfg(target_arch = "x86_64")]
const MACHINE: u16 = 62; // EM_X86_64

core::arch::global_asm!(
    ".pushsection .elf_header, \"a\"",
    "2:",
    // e_ident: magic, 64-bit, little-endian, version 1, System V ABI, padding.
    ".byte 0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0",
    ".quad 0",
    ".short 2",         // e_type: ET_EXEC
    ".short {machine}", // e_machine
    ".long 1",          // e_version
    ".quad _start",     // e_entry
    ".quad 64",         // e_phoff: right after this header
    ".quad 0",          // e_shoff: no section headers
    ".long 0",          // e_flags
    ".short 64",        // e_ehsize
    ".short 56",        // e_phentsize
    ".short 2",         // e_phnum
    ".short 64",        // e_shentsize
    ".short 0",         // e_shnum
    ".short 0",         // e_shstrndx
    // PT_LOAD, read + execute: the whole file, at the address the linker script links it for.
    ".long 1, 5",
    ".quad 0, 2b, 2b",
    ".quad __image_size, __image_size",
    ".quad 0x1000",
    // PT_GNU_STACK, read + write: a non-executable stack.
    ".long 0x6474e551, 6",
    ".quad 0, 0, 0, 0, 0, 16",
    ".popsection",
    machine = const MACHINE,
);
