//! Deterministic budgets of the shipped (release) binary: a static, non-PIE ELF64 executable
//! within its size budget (3072 bytes), sleeping in 12 KiB of resident memory.

mod common;

use common::elf::*;
use common::*;
use std::path::Path;
use std::process::Command;

const MAX_RSS_KIB: u64 = 12;

#[test]
fn release_binary_is_a_static_non_pie_elf64() {
    let elf = assert_static_non_pie(release_binary());
    #[cfg(target_arch = "x86_64")]
    assert_eq!(elf.machine, EM_X86_64, "e_machine");
    #[cfg(target_arch = "aarch64")]
    assert_eq!(elf.machine, EM_AARCH64, "e_machine");
}

#[test]
fn release_binary_fits_its_size_budget() {
    assert_size_within_budget(release_binary());
}

#[test]
fn test_binary_from_env_is_a_small_static_non_pie_elf64() {
    let Some(path) = test_binary_from_env() else {
        eprintln!("SKIPPED: test_binary_from_env_is_a_small_static_non_pie_elf64: MNTNSSANDBOX_TEST_BINARY not set");
        return;
    };
    assert_static_non_pie(&path);
    assert_size_within_budget(&path);
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

/// How many sleepers the RSS test samples.
const RSS_SAMPLES: usize = 9;

/// One page of code and one or two of stack, depending on where the kernel's random stack
/// offset puts the initial stack relative to a page boundary: 8 or 12 KiB, and now and then a
/// third stack page. The typical (median) sleeper must be within 12 KiB, and none over 16.
#[test]
fn release_binary_sleeps_in_at_most_12_kib_of_rss() {
    if skip_unless_root("release_binary_sleeps_in_at_most_12_kib_of_rss") {
        return;
    }
    let mut binaries = vec![release_binary().to_path_buf()];
    binaries.extend(test_binary_from_env());
    for binary in binaries {
        let mut samples: Vec<u64> = (0..RSS_SAMPLES)
            .map(|_| sleeping_rss_kib(&binary))
            .collect();
        samples.sort_unstable();
        let median = samples[RSS_SAMPLES / 2];
        eprintln!(
            "{}: VmRSS samples {samples:?} KiB, median {median}",
            binary.display()
        );
        assert!(
            samples[0] > 0,
            "{}: VmRSS of 0 means we measured nothing",
            binary.display()
        );
        assert!(
            median <= MAX_RSS_KIB,
            "{}: median VmRSS {median} KiB > {MAX_RSS_KIB} KiB ({samples:?})",
            binary.display()
        );
        assert!(
            samples[RSS_SAMPLES - 1] <= MAX_RSS_KIB + 4,
            "{}: a sleeper with {} KiB of VmRSS ({samples:?})",
            binary.display(),
            samples[RSS_SAMPLES - 1]
        );
    }
}
