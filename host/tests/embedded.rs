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
    let _serial = common::serial();
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

/// Our descriptors whose link reads `target`.
fn fds_naming(target: &str) -> Vec<i32> {
    std::fs::read_dir("/proc/self/fd")
        .expect("list our fds")
        .flatten()
        .filter(|fd| std::fs::read_link(fd.path()).is_ok_and(|link| link.as_os_str() == target))
        .filter_map(|fd| fd.file_name().to_str()?.parse().ok())
        .collect()
}

/// A host that closes descriptors it does not own (a daemon's "close everything above 2")
/// may leave the memfd's number to another file: the crate must not execute that file, nor
/// close it, but make its memfd anew.
#[test]
fn a_memfd_whose_number_was_reused_is_made_anew() {
    require_root!("a_memfd_whose_number_was_reused_is_made_anew");
    // Alone: no other spawn of the embedded sleeper while its number names another file.
    let _serial = common::serial();
    if std::env::var_os(SLEEPER_ENV).is_some() {
        eprintln!("SKIPPED: ${SLEEPER_ENV} is set, so the embedded sleeper is not the default");
        return;
    }
    let spawn = || {
        Builder::new(NamespaceRef::Path("/proc/self/ns/mnt".into()))
            .hold(Hold::Sleeper)
            .spawn()
            .expect("spawn the embedded sleeper")
    };
    spawn().close().expect("close");
    let memfd = *fds_naming("/memfd:mntnssandbox (deleted)")
        .first()
        .expect("the embedded sleeper's memfd");
    // Another file under its number, in one step (dup2 closes the memfd).
    let other = std::fs::File::open("/dev/null").expect("open /dev/null");
    // SAFETY: both are open descriptors; dup2 replaces `memfd`, which we no longer use.
    assert_eq!(unsafe { libc::dup2(other.as_raw_fd(), memfd) }, memfd);

    let sandbox = spawn();
    let pid = sandbox.pid().expect("held by a sleeper");
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("the sleeper's exe");
    assert_eq!(exe.to_str(), Some("/memfd:mntnssandbox (deleted)"));
    sandbox.close().expect("close");
    assert_eq!(
        std::fs::read_link(format!("/proc/self/fd/{memfd}")).expect("still open"),
        std::path::Path::new("/dev/null"),
        "the other file at {memfd} was closed or replaced"
    );
    // SAFETY: our own duplicate of /dev/null.
    unsafe { libc::close(memfd) };
}
