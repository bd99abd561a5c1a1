//! Deterministic budgets of the shipped (release) binary: a static, non-PIE ELF64 executable
//! of at most 2048 bytes, with a resident set of at most 12 KiB while it sleeps.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const MAX_FILE_SIZE: u64 = 2048;
const MAX_RSS_KIB: u64 = 12;

const ET_EXEC: u16 = 2;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;

/// Builds the release binary once per test run and returns its path.
fn release_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "-p", "mntnssandbox"])
            .current_dir(manifest_dir)
            .status()
            .expect("run cargo build --release");
        assert!(
            status.success(),
            "cargo build --release -p mntnssandbox: {status}"
        );
        // A relative CARGO_TARGET_DIR is relative to where cargo ran: the manifest dir.
        let target_dir = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => manifest_dir.join(dir),
            _ => manifest_dir.join("target"),
        };
        target_dir.join("release").join("mntnssandbox")
    })
}

/// The binary CI asked to test (the musl build), if any.
fn test_binary_from_env() -> Option<PathBuf> {
    std::env::var_os("MNTNSSANDBOX_TEST_BINARY")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
}

/// What the ELF file header and program headers say.
#[derive(Debug)]
struct Elf {
    e_type: u16,
    segment_types: Vec<u32>,
}

/// Parses the ELF64 header and program header table by hand; panics on anything else.
fn parse_elf64(path: &Path) -> Elf {
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
        segment_types,
    }
}

fn assert_static_non_pie(path: &Path) {
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
}

fn assert_small(path: &Path) {
    let size = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .len();
    eprintln!("{}: {size} bytes", path.display());
    assert!(
        size <= MAX_FILE_SIZE,
        "{}: {size} bytes > {MAX_FILE_SIZE}",
        path.display()
    );
}

#[test]
fn release_binary_is_a_static_non_pie_elf64() {
    assert_static_non_pie(release_binary());
}

#[test]
fn release_binary_fits_in_2048_bytes() {
    assert_small(release_binary());
}

#[test]
fn test_binary_from_env_is_a_small_static_non_pie_elf64() {
    let Some(path) = test_binary_from_env() else {
        eprintln!("SKIPPED: test_binary_from_env_is_a_small_static_non_pie_elf64: MNTNSSANDBOX_TEST_BINARY not set");
        return;
    };
    assert_static_non_pie(&path);
    assert_small(&path);
}

/// VmRSS of a sleeper of `binary` after its handshake, in KiB.
fn sleeping_rss_kib(binary: &Path) -> u64 {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("sleepy_mntns", "/proc/self/ns/mnt")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut sleeper = spawn(&mut command, &format!("sleeper {}", binary.display()));
    sleeper.expect_ok();
    assert_asleep(sleeper.pid());
    let rss = proc_field(sleeper.pid(), "status", "VmRSS");
    let kib = rss
        .strip_suffix(" kB")
        .and_then(|number| number.trim().parse().ok())
        .unwrap_or_else(|| panic!("unexpected VmRSS {rss:?}"));
    eprintln!("{}: VmRSS {kib} KiB while asleep", binary.display());
    kib
}

#[test]
fn release_binary_sleeps_in_at_most_12_kib_of_rss() {
    if skip_unless_root("release_binary_sleeps_in_at_most_12_kib_of_rss") {
        return;
    }
    let mut binaries = vec![release_binary().to_path_buf()];
    binaries.extend(test_binary_from_env());
    for binary in binaries {
        let kib = sleeping_rss_kib(&binary);
        assert!(
            kib > 0,
            "{}: VmRSS of 0 means we measured nothing",
            binary.display()
        );
        assert!(
            kib <= MAX_RSS_KIB,
            "{}: VmRSS {kib} KiB > {MAX_RSS_KIB} KiB",
            binary.display()
        );
    }
}
