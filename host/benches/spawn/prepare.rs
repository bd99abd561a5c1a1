//! Preparation: the sleeper (built with cargo), the floor (compiled with rustc, linked like the
//! sleeper), and what machine this is.

use crate::harness::{measure, namespace, How};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub fn target_dir() -> PathBuf {
    // The bench runs as <target>/<profile>/deps/spawn-HASH.
    let exe = std::env::current_exe().expect("the bench's own path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(option_env!("CARGO").unwrap_or("cargo")))
}

/// The sleeper: `$MNTNSSANDBOX_BINARY` if set, else built now with cargo.
pub fn sleeper(target: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("MNTNSSANDBOX_BINARY").filter(|path| !path.is_empty()) {
        eprintln!(
            "sleeper: $MNTNSSANDBOX_BINARY = {}",
            Path::new(&path).display()
        );
        return PathBuf::from(path);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    eprintln!("sleeper: cargo build --release -p mntnssandbox");
    let status = Command::new(cargo())
        .args(["build", "--release", "-p", "mntnssandbox"])
        .current_dir(&workspace)
        .stdout(Stdio::null())
        .status();
    let path = target.join("release/mntnssandbox");
    match status {
        Ok(status) if status.success() => {}
        other => {
            assert!(
                path.exists(),
                "building the sleeper failed ({other:?}) and there is none at {}: \
                 run `cargo build --release -p mntnssandbox` first",
                path.display()
            );
            eprintln!(
                "WARNING: building the sleeper failed ({other:?}); using the existing {}",
                path.display()
            );
        }
    }
    path
}

fn rustc() -> PathBuf {
    if let Some(rustc) = std::env::var_os("RUSTC").filter(|rustc| !rustc.is_empty()) {
        return rustc.into();
    }
    let beside_cargo = cargo().with_file_name("rustc");
    if beside_cargo.is_file() {
        return beside_cargo;
    }
    PathBuf::from("rustc")
}

/// The address of the sleeper's one load segment, from its program header.
fn load_address(sleeper: &Path) -> u64 {
    let elf = std::fs::read(sleeper).unwrap_or_else(|error| panic!("read the sleeper: {error}"));
    // e_phoff at 32; in the first program header (PT_LOAD), p_vaddr at 16.
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().expect("8 bytes"));
    let phoff = u64_at(32) as usize;
    assert_eq!(&elf[phoff..phoff + 4], &1u32.to_le_bytes(), "PT_LOAD first");
    u64_at(phoff + 16)
}

/// The floor's layout is the sleeper's: one read+execute load segment, headers included, at
/// the sleeper's address (a default link makes three segments at 0x400000, which costs the
/// kernel more to map and made the sleeper look cheaper than it is against its floor).
fn floor_linker_script(address: u64) -> String {
    format!(
        "PHDRS {{ image PT_LOAD FILEHDR PHDRS FLAGS(5); stack PT_GNU_STACK FLAGS(6); }}\n\
         SECTIONS {{\n\
           . = {address:#x} + SIZEOF_HEADERS;\n\
           .image : {{ *(.text .text.*) *(.rodata .rodata.*) }} :image\n\
           /DISCARD/ : {{ *(.eh_frame*) *(.comment) *(.note*) *(.data .data.* .bss .bss.*) }}\n\
         }}\n"
    )
}

/// Compiles benches/floor.rs to `<target>/bench-floor`, laid out like `sleeper`, and checks
/// that it says OK.
pub fn floor(target: &Path, sleeper: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/floor.rs");
    let output = target.join("bench-floor");
    let script = target.join("bench-floor.ld");
    std::fs::write(&script, floor_linker_script(load_address(sleeper)))
        .expect("write the floor's linker script");
    let rustc = rustc();
    eprintln!("floor: {} {}", rustc.display(), source.display());
    let status = Command::new(&rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "bin",
            "--crate-name",
            "bench_floor",
        ])
        .args([
            "-C",
            "panic=abort",
            "-C",
            "opt-level=z",
            "-C",
            "debuginfo=0",
        ])
        .args(["-C", "relocation-model=static", "-C", "strip=symbols"])
        .args(["-C", "link-arg=-nostartfiles", "-C", "link-arg=-nostdlib"])
        .args(["-C", "link-arg=-static", "-C", "link-arg=-no-pie"])
        .args(["-C", "link-arg=-Wl,--build-id=none,-T"])
        .arg("-C")
        .arg(format!("link-arg={}", script.display()))
        .arg("-o")
        .arg(&output)
        .arg(&source)
        .status()
        .unwrap_or_else(|error| panic!("run {}: {error}", rustc.display()));
    assert!(status.success(), "compiling the floor failed: {status}");
    let sample = measure(&How::raw(&output));
    let joining = measure(&How::Raw {
        program: output.clone(),
        join: true,
    });
    eprintln!(
        "floor: {} ({} bytes) says OK in {:?} ({:?} joining {} first)",
        output.display(),
        file_size(&output),
        sample.spawn_to_ok,
        joining.spawn_to_ok,
        namespace(),
    );
    output
}

pub fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0)
}

pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    pub kernel: String,
    pub thp: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_else(|| "?".into());
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|text| text.trim().to_owned())
            .unwrap_or_else(|_| "?".into())
    };
    Machine {
        nproc: std::thread::available_parallelism().map_or(0, usize::from),
        cpu,
        kernel: read("/proc/sys/kernel/osrelease"),
        thp: read("/sys/kernel/mm/transparent_hugepage/enabled"),
    }
}
