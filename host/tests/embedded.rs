//! The embedded sleeper (feature `embedded-sleeper`): what is embedded, how it runs, and how
//! a refusal to run it reads. Real kernel: the sleepers join a real mount namespace.

#![cfg(feature = "embedded-sleeper")]

mod common;

use common::sleeper;
use mntnssandbox_host::{
    Builder, Error, Hold, NamespaceRef, Sleeper, EMBEDDED_SLEEPER, SLEEPER_ENV,
};
use std::os::fd::AsRawFd;

#[test]
fn the_embedded_sleeper_is_this_source_built_for_this_target() {
    // Built by build.rs from the same source, with the same toolchain and flags, as the
    // workspace's release build: byte for byte the same program.
    let built = std::fs::read(sleeper()).expect("read the release sleeper");
    if std::env::var_os("MNTNSSANDBOX_TEST_BINARY").is_none() {
        assert!(
            EMBEDDED_SLEEPER == built.as_slice(),
            "the embedded sleeper ({} bytes) differs from target/release/mntnssandbox ({} bytes)",
            EMBEDDED_SLEEPER.len(),
            built.len()
        );
    }
    assert!(EMBEDDED_SLEEPER.starts_with(b"\x7fELF"));
    assert!(
        EMBEDDED_SLEEPER.len() <= 3072,
        "embedded sleeper: {} bytes",
        EMBEDDED_SLEEPER.len()
    );
    eprintln!("embedded sleeper: {} bytes", EMBEDDED_SLEEPER.len());
}

#[test]
fn the_default_sleeper_is_the_embedded_one_unless_the_variable_names_one() {
    let expected = match std::env::var_os(SLEEPER_ENV).filter(|path| !path.is_empty()) {
        Some(path) => Sleeper::Path(path.into()),
        None => Sleeper::Embedded,
    };
    assert_eq!(
        Builder::default_sleeper().expect("a default sleeper"),
        expected
    );
}

#[test]
fn the_embedded_sleeper_runs_from_a_sealed_memfd() {
    require_root!("the_embedded_sleeper_runs_from_a_sealed_memfd");
    if std::env::var_os(SLEEPER_ENV).is_some() {
        eprintln!("SKIPPED: ${SLEEPER_ENV} is set, so the embedded sleeper is not the default");
        return;
    }
    let sandbox = Builder::new(NamespaceRef::Path("/proc/self/ns/mnt".into()))
        .hold(Hold::Sleeper)
        .spawn()
        .expect("spawn the embedded sleeper");
    let pid = sandbox.pid().expect("held by a sleeper");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("the sleeper's exe");
    assert_eq!(exe.to_str(), Some("/memfd:mntnssandbox (deleted)"));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("the sleeper's cmdline");
    assert_eq!(cmdline, b"mntnssandbox\0");

    let exe = std::fs::File::open(format!("/proc/{pid}/exe")).expect("open the sleeper's exe");
    // SAFETY: `exe` stays open for the borrow, which ends with the call.
    let borrowed = unsafe { rustix::fd::BorrowedFd::borrow_raw(exe.as_raw_fd()) };
    let seals = rustix::fs::fcntl_get_seals(borrowed).expect("F_GET_SEALS on the memfd");
    use rustix::fs::SealFlags;
    let wanted = SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL;
    assert!(seals.contains(wanted), "seals {seals:?}, wanted {wanted:?}");
    assert_eq!(
        exe.metadata().expect("fstat the memfd").len(),
        EMBEDDED_SLEEPER.len() as u64
    );
    assert!(sandbox.metadata("/").expect("stat / through it").is_dir());
    sandbox.close().expect("close");
}

#[test]
fn debug_reads_like_display_for_main_returning_an_error() {
    let error = Builder::new(NamespaceRef::Path("/proc/self/ns/mnt".into()))
        .hold(Hold::Sleeper)
        .sleeper("/nonexistent/mntnssandbox")
        .spawn()
        .expect_err("no such sleeper");
    assert!(matches!(error, Error::SleeperNotFound { .. }), "{error}");
    assert_eq!(format!("{error:?}"), error.to_string());
    assert_eq!(
        format!("{error:?}"),
        r#"sleeper "/nonexistent/mntnssandbox" not found"#
    );
}
