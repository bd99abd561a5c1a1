//! Link arguments for the sleeper binary only (not for build scripts, tests or the host crate).
//!
//! The sleeper is static and non-PIE with its own `_start` and its own ELF header
//! (src/elf.rs): it is linked as a flat image at a fixed address, everything in one read-only,
//! executable segment, and nothing for a loader to do, so it runs `FROM scratch`. Code and
//! read-only data are sorted by alignment, largest first, so that nothing is padded between
//! them (10 bytes on aarch64, where code is 4-byte and some data 8-byte aligned). Unwind
//! tables and comments are dropped: a panic-abort program never reads them (debug builds of
//! core still point at the unwinding personality: that pointer is read-only data here). Writable data
//! would have no segment to live in, so the script refuses to link any.
//!
//! Two more things, for builds outside this workspace (from a registry, or nested in
//! mntnssandbox-host's build script), where `.cargo/config.toml` does not apply:
//! - `cargo:source` hands this package's directory to dependents (the `links` key), so that
//!   mntnssandbox-host's build.rs can build the sleeper from this very source and embed it;
//!   `cargo:musl_rustflags` tells it what the musl targets need.
//! - A musl build without those flags would fail to link much later with `multiple definition
//!   of _start`: the binary stops at once with a `compile_error!` naming what to set.

use std::{env, fs, path::PathBuf};

/// Where the image is linked. On x86_64, 0x7ff000000000 lies in the same 512 GiB as the stack
/// (which the kernel places just below 0x7fffffffffff), so the sleeper's image and stack share
/// the upper page-table pages: one page-table page (4 KiB of kernel memory) less per sleeper
/// than at the classic 0x400000, measured from the memory cgroup by the spawn benchmark. On
/// aarch64 the stack's 512 GiB is the top of a 48-bit address space (0xff80_0000_0000 up), which
/// kernels with 39-bit virtual addresses (and qemu-user on an x86_64 host) do not have: the
/// image stays at 0x400000 there.
fn image_address(target_arch: &str) -> u64 {
    match target_arch {
        "x86_64" => 0x7ff0_0000_0000,
        _ => 0x40_0000,
    }
}

const LINKER_SCRIPT: &str = "\
SECTIONS {
  . = IMAGE_ADDRESS;
  .image : {
    KEEP(*(.elf_header))
    *(SORT_BY_ALIGNMENT(.text .text.* .rodata .rodata.*))
    *(.data.rel.ro .data.rel.ro.*) *(.got .got.*)
    *(.data.DW.ref.rust_eh_personality)
  }
  __image_size = . - IMAGE_ADDRESS;
  .writable : { *(.data .data.* .bss .bss.* .tdata .tdata.* .tbss .tbss.*) }
  /DISCARD/ : { *(.eh_frame*) *(.gcc_except_table*) *(.comment) *(.note*) }
}
ASSERT(SIZEOF(.writable) == 0, \"the sleeper must not have writable data\");
ASSERT(ADDR(.image) == IMAGE_ADDRESS, \"the ELF header must start the image\");
";

/// The rustc flags a musl build of the sleeper cannot do without: no self-contained crt1.o
/// (its `_start` clashes with ours). Mirrored in .cargo/config.toml.
const MUSL_RUSTFLAGS: [&str; 2] = ["-C", "link-self-contained=no"];

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:source={manifest_dir}");
    println!("cargo:musl_rustflags={}", MUSL_RUSTFLAGS.join(" "));
    fs::write(out.join("target_check.rs"), target_check()).expect("write target_check.rs");
    let script = out.join("sleeper.ld");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    let address = format!("{:#x}", image_address(&arch));
    fs::write(&script, LINKER_SCRIPT.replace("IMAGE_ADDRESS", &address))
        .expect("write the linker script");

    // The musl targets link with rust-lld itself (.cargo/config.toml): no cross cc needed for
    // aarch64, and unlike GNU ld, lld's --gc-sections still drops unused global functions
    // (memcmp, ...) in a flat image. Elsewhere cc drives the linker.
    let lld_directly = env::var("RUSTC_LINKER").is_ok_and(|linker| linker.ends_with("rust-lld"));
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let (driver_args, wl): (&[&str], &str) = if lld_directly {
        (&["-static", "--no-pie"], "")
    } else {
        (
            &["-nostartfiles", "-nostdlib", "-static", "-no-pie"],
            "-Wl,",
        )
    };
    for arg in driver_args {
        link_arg(arg);
    }
    for arg in ["--oformat=binary", "--build-id=none", "--gc-sections", "-T"] {
        link_arg(&format!("{wl}{arg}"));
    }
    link_arg(&format!("{wl}{}", script.display()));
    println!("cargo:rerun-if-changed=build.rs");
}

/// Included by src/main.rs: empty, or a `compile_error!` for a musl build without the flags
/// it needs (as in `cargo install mntnssandbox --target x86_64-unknown-linux-musl`).
fn target_check() -> String {
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let rustflags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let rustflags: Vec<&str> = rustflags.split('\x1f').collect();
    let has = |flag: &str| {
        rustflags.windows(2).any(|pair| pair == ["-C", flag])
            || rustflags.contains(&format!("-C{flag}").as_str())
    };
    let missing = !has(MUSL_RUSTFLAGS[1]);
    if !target.ends_with("-musl") || !missing {
        return String::new();
    }
    let var = target.to_uppercase().replace('-', "_");
    format!(
        "compile_error!(\"the sleeper for {target} needs rustc flags that only this \
         repository's .cargo/config.toml sets: set CARGO_TARGET_{var}_LINKER=rust-lld and \
         CARGO_TARGET_{var}_RUSTFLAGS='{flags}' (or build for the default gnu target: its \
         sleeper is just as static and libc-free)\");\n",
        flags = MUSL_RUSTFLAGS.join(" "),
    )
}

fn link_arg(arg: &str) {
    println!("cargo:rustc-link-arg-bins={arg}");
}
