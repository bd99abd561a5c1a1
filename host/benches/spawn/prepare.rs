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

/// The sleeper named by `$MNTNSSANDBOX_BINARY`, if set (and not empty).
pub fn sleeper_from_env() -> Option<PathBuf> {
    std::env::var_os(mntnssandbox_host::SLEEPER_ENV)
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
}

/// The sleeper: `$MNTNSSANDBOX_BINARY` if set, else built now with cargo.
pub fn sleeper(target: &Path) -> PathBuf {
    if let Some(path) = sleeper_from_env() {
        eprintln!("sleeper: $MNTNSSANDBOX_BINARY = {}", path.display());
        return path;
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

/// Where the floor is linked when the sleeper's layout cannot be followed (a position-
/// independent sleeper, or not a 64-bit ELF file): a default static link's address.
const DEFAULT_FLOOR_ADDRESS: u64 = 0x40_0000;

/// The address of the sleeper's first load segment, from its program headers; `None` where
/// it has none to follow (not a 64-bit ELF file, or position-independent: linked at 0).
fn load_address(sleeper: &Path) -> Option<u64> {
    let elf = std::fs::read(sleeper).unwrap_or_else(|error| panic!("read the sleeper: {error}"));
    if elf.get(..5)? != b"\x7fELF\x02" {
        return None;
    }
    let bytes = |at: usize, n: usize| elf.get(at..at + n);
    let u64_at = |at: usize| Some(u64::from_le_bytes(bytes(at, 8)?.try_into().ok()?));
    let u16_at = |at: usize| Some(u16::from_le_bytes(bytes(at, 2)?.try_into().ok()?));
    // e_phoff at 32, e_phentsize at 54, e_phnum at 56; in a program header, p_type at 0 and
    // p_vaddr at 16.
    let (phoff, size, count) = (u64_at(32)? as usize, u16_at(54)? as usize, u16_at(56)?);
    (0..count as usize)
        .map(|index| phoff + index * size)
        .find(|&header| bytes(header, 4) == Some(&1u32.to_le_bytes()[..]))
        .and_then(|header| u64_at(header + 16))
        .filter(|&address| address >= 0x1_0000)
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
    let address = load_address(sleeper).unwrap_or_else(|| {
        eprintln!(
            "WARNING: {} has no fixed load address to follow: the floor is linked at \
             {DEFAULT_FLOOR_ADDRESS:#x}",
            sleeper.display()
        );
        DEFAULT_FLOOR_ADDRESS
    });
    std::fs::write(&script, floor_linker_script(address)).expect("write the floor's linker script");
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
