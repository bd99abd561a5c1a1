//! The built artifacts under test: release builds made once per test run by a nested
//! `cargo build`, and the facts their ELF headers state, parsed by hand.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The size no sleeper build may exceed, on x86_64 (gnu and musl) and aarch64.
pub const SIZE_BUDGET: u64 = 3072;

pub const ET_EXEC: u16 = 2;
pub const PT_DYNAMIC: u32 = 2;
pub const PT_INTERP: u32 = 3;
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;

/// The workspace's target directory (honouring a relative or absolute CARGO_TARGET_DIR).
fn target_dir() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A relative CARGO_TARGET_DIR is relative to where cargo ran: the manifest dir.
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => manifest_dir.join(dir),
        _ => manifest_dir.join("target"),
    }
}

/// Runs `cargo build --release -p mntnssandbox [--target TARGET]` (a nested cargo build from
/// inside `cargo test` works: the outer one has released its lock) and returns the binary's
/// path, or the build's exit status if it failed.
pub fn build_release(target: Option<&str>) -> Result<PathBuf, std::process::ExitStatus> {
    // One nested build at a time within this test binary.
    static BUILDING: Mutex<()> = Mutex::new(());
    let _serialised = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["build", "--release", "-p", "mntnssandbox"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    let mut dir = target_dir();
    if let Some(target) = target {
        command.args(["--target", target]);
        dir.push(target);
    }
    let status = command.status().expect("run cargo build --release");
    if !status.success() {
        return Err(status);
    }
    Ok(dir.join("release").join("mntnssandbox"))
}

/// The host's release binary, built once per test run.
pub fn release_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        build_release(None)
            .unwrap_or_else(|status| panic!("cargo build --release -p mntnssandbox: {status}"))
    })
}

/// What the ELF file header and program headers say.
#[derive(Debug)]
pub struct Elf {
    pub e_type: u16,
    pub machine: u16,
    pub segment_types: Vec<u32>,
}

/// Parses the ELF64 header and program header table by hand; panics on anything else.
pub fn parse_elf64(path: &Path) -> Elf {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        bytes.len() >= 64,
        "{}: too short for an ELF64 header",
        path.display()
    );
    assert_eq!(&bytes[..4], b"\x7fELF", "{}: ELF magic", path.display());
    assert_eq!(
        bytes[4],
        2,
        "{}: EI_CLASS must be ELFCLASS64",
        path.display()
    );
    let little = match bytes[5] {
        1 => true,
        2 => false,
        other => panic!("{}: bad EI_DATA {other}", path.display()),
    };
    let field = |offset: usize, size: usize| -> u64 {
        let slice = bytes
            .get(offset..offset + size)
            .unwrap_or_else(|| panic!("{}: truncated at byte {offset}", path.display()));
        let mut value = 0u64;
        for i in 0..size {
            let byte = if little {
                slice[size - 1 - i]
            } else {
                slice[i]
            };
            value = (value << 8) | u64::from(byte);
        }
        value
    };
    let e_type = field(16, 2) as u16;
    let machine = field(18, 2) as u16;
    let e_phoff = field(32, 8) as usize;
    let e_phentsize = field(54, 2) as usize;
    let e_phnum = field(56, 2) as usize;
    assert!(e_phnum > 0, "{}: no program headers", path.display());
    assert!(
        e_phentsize >= 56,
        "{}: e_phentsize {e_phentsize}",
        path.display()
    );
    let segment_types = (0..e_phnum)
        .map(|i| field(e_phoff + i * e_phentsize, 4) as u32)
        .collect();
    Elf {
        e_type,
        machine,
        segment_types,
    }
}

/// ET_EXEC (non-PIE), no PT_INTERP, no PT_DYNAMIC: nothing for a loader to do.
pub fn assert_static_non_pie(path: &Path) -> Elf {
    let elf = parse_elf64(path);
    eprintln!("{}: {elf:?}", path.display());
    assert_eq!(
        elf.e_type,
        ET_EXEC,
        "{}: e_type must be ET_EXEC (non-PIE)",
        path.display()
    );
    assert!(
        !elf.segment_types.contains(&PT_INTERP),
        "{}: has PT_INTERP",
        path.display()
    );
    assert!(
        !elf.segment_types.contains(&PT_DYNAMIC),
        "{}: has PT_DYNAMIC",
        path.display()
    );
    elf
}

/// The file is within SIZE_BUDGET.
pub fn assert_size_within_budget(path: &Path) {
    let size = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .len();
    eprintln!("{}: {size} bytes", path.display());
    assert!(
        size <= SIZE_BUDGET,
        "{}: {size} bytes > {SIZE_BUDGET}",
        path.display()
    );
}

/// The binary CI asked to test (the musl build), if any.
pub fn test_binary_from_env() -> Option<PathBuf> {
    std::env::var_os("MNTNSSANDBOX_TEST_BINARY")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
}
