//! Link arguments for the sleeper binary only (not for build scripts, tests or the host crate).
//!
//! The sleeper is static and non-PIE with its own `_start`: nothing for a loader to do, so it
//! runs `FROM scratch`. A two-line linker script folds everything into one read-only, executable
//! segment and drops what a panic-abort program never reads (unwind tables, comments): the ELF
//! headers would otherwise outweigh the code.

use std::{env, fs, path::PathBuf};

const LINKER_SCRIPT: &str = "\
SECTIONS {
  . = 0x400000 + SIZEOF_HEADERS;
  .text : { *(.text .text.*) *(.rodata .rodata.*) *(.got .got.*) }
  /DISCARD/ : { *(.eh_frame*) *(.comment) *(.note*) *(.data .data.* .bss .bss.*) }
}
";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let script = out.join("sleeper.ld");
    fs::write(&script, LINKER_SCRIPT).expect("write the linker script");

    let target = env::var("TARGET").unwrap_or_default();
    // aarch64 links with rust-lld directly (no cross cc needed); elsewhere cc drives the linker.
    let wl = if target.starts_with("aarch64-") { "" } else { "-Wl," };
    if wl.is_empty() {
        link_arg("-static");
        link_arg("--no-pie");
    } else {
        for arg in ["-nostartfiles", "-nostdlib", "-static", "-no-pie"] {
            link_arg(arg);
        }
    }
    for arg in ["-n", "--build-id=none", "-z", "norelro", "-z", "noexecstack", "--gc-sections", "-T"] {
        link_arg(&format!("{wl}{arg}"));
    }
    link_arg(&format!("{wl}{}", script.display()));
    println!("cargo:rerun-if-changed=build.rs");
}

fn link_arg(arg: &str) {
    println!("cargo:rustc-link-arg-bins={arg}");
}
