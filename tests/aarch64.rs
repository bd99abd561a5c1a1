//! The aarch64 build, run under qemu-user: a small static aarch64 ELF whose error path,
//! `--version` and own-namespace join work. Joining another namespace cannot be tested there:
//! qemu-user runs threads of its own, and setns(CLONE_NEWNS) refuses multithreaded callers
//! with EINVAL — which the sleeper takes for success when the namespace is its own.
//!
//! Builds `--target aarch64-unknown-linux-musl` itself (or takes MNTNSSANDBOX_AARCH64_BINARY);
//! skips loudly without the rustup target or qemu-aarch64-static (CI installs both).

mod common;

use common::elf::*;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const TARGET: &str = "aarch64-unknown-linux-musl";
const QEMU: &str = "qemu-aarch64-static";

/// The aarch64 binary, built once, or None (after saying why) when this machine can't.
fn aarch64_binary(test: &str) -> Option<&'static Path> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        if let Some(path) = std::env::var_os("MNTNSSANDBOX_AARCH64_BINARY") {
            return Some(PathBuf::from(path));
        }
        match build_release(Some(TARGET)) {
            Ok(path) => Some(path),
            Err(status) => {
                let installed = Command::new("rustup")
                    .args(["target", "list", "--installed"])
                    .output()
                    .map(|out| String::from_utf8_lossy(&out.stdout).contains(TARGET))
                    .unwrap_or(false);
                assert!(!installed, "the {TARGET} build failed: {status}");
                None
            }
        }
    });
    if built.is_none() {
        eprintln!("SKIPPED: {test} needs the {TARGET} rustup target (rustup target add {TARGET})");
    }
    built.as_deref()
}

fn qemu_available(test: &str) -> bool {
    let found = Command::new(QEMU).arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: {test} needs {QEMU} (Debian: qemu-user-static)");
    }
    found
}

/// Runs the aarch64 binary under qemu-user with exactly `env` and `args`.
fn run_under_qemu(binary: &Path, env: &[(&str, &str)], args: &[&str]) -> Outcome {
    let mut command = Command::new(QEMU);
    command.arg(binary).args(args).env_clear();
    for (name, value) in env {
        command.env(name, value);
    }
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    run_to_end(
        &mut command,
        &format!("{QEMU} mntnssandbox {}", args.join(" ")),
    )
}

#[test]
fn is_a_small_static_aarch64_elf() {
    let Some(binary) = aarch64_binary("is_a_small_static_aarch64_elf") else {
        return;
    };
    let elf = assert_static_non_pie(binary);
    assert_eq!(elf.machine, EM_AARCH64, "e_machine");
    assert_size_within_budget(binary);
}

#[test]
fn version_under_qemu() {
    let test = "version_under_qemu";
    let (Some(binary), true) = (aarch64_binary(test), qemu_available(test)) else {
        return;
    };
    let outcome = run_under_qemu(binary, &[], &["--version"]);
    assert_eq!(outcome.status.code(), Some(0));
    assert_eq!(
        show(&outcome.stdout),
        format!("mntnssandbox {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn error_paths_under_qemu() {
    let test = "error_paths_under_qemu";
    let (Some(binary), true) = (aarch64_binary(test), qemu_available(test)) else {
        return;
    };
    run_under_qemu(binary, &[], &[]).assert_failure(&invalid_reference("mount", "", ENOENT));
    run_under_qemu(binary, &[("sleepy_mntns", "/no/such/ns")], &[])
        .assert_failure(&invalid_reference("mount", "/no/such/ns", ENOENT));
    run_under_qemu(
        binary,
        &[("sleepy_userns", "/no/user\nns"), ("sleepy_mntns", "/x")],
        &[],
    )
    .assert_failure(&invalid_reference("user", "/no/user^Jns", ENOENT));
    run_under_qemu(binary, &[("sleepy_mntns", "/proc/self/ns/net")], &[])
        .assert_failure(&cannot_join("mount", "/proc/self/ns/net", EINVAL));
    let usage = run_under_qemu(binary, &[], &["--bogus"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn joins_its_own_mount_namespace_under_qemu() {
    let test = "joins_its_own_mount_namespace_under_qemu";
    let (Some(binary), true) = (aarch64_binary(test), qemu_available(test)) else {
        return;
    };
    // setns(2) fails (EINVAL: qemu-user is multithreaded), but it is the own namespace.
    let mut command = Command::new(QEMU);
    command
        .arg(binary)
        .env_clear()
        .env("sleepy_mntns", "/proc/self/ns/mnt")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut sleeper = spawn(&mut command, "the aarch64 sleeper under qemu-user");
    sleeper.expect_ok();
    assert_eq!(sleeper.exited(), None, "asleep after OK");
}
