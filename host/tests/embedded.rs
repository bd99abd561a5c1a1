//! The embedded sleeper (feature `embedded-sleeper`): what is embedded, how it runs, and how
//! a refusal to run it reads. Real kernel: the sleepers join a real mount namespace.

#![cfg(feature = "embedded-sleeper")]

mod common;

use common::{mntns, run, sleeper};
use mntnssandbox_host::{
    Builder, Error, Hold, NamespaceRef, Sleeper, EMBEDDED_SLEEPER, SLEEPER_ENV,
};
use std::os::fd::AsRawFd;
use std::process::Command;

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
    let error = Builder::new(NamespaceRef::Pid(1))
        .hold(Hold::Sleeper)
        .sleeper("/nonexistent/mntnssandbox")
        .spawn()
        .expect_err("no such sleeper");
    assert!(matches!(error, Error::SleeperNotFound { .. }));
    assert_eq!(format!("{error:?}"), error.to_string());
    assert_eq!(
        format!("{error:?}"),
        r#"sleeper "/nonexistent/mntnssandbox" not found"#
    );
}

/// `vm.memfd_noexec = 2` is per PID namespace (Linux 6.3+) and inherited by new ones: set in
/// a fresh one, it touches nothing else on the machine.
#[test]
fn a_refused_memfd_names_the_setting_and_the_ways_out() {
    require_root!("a_refused_memfd_names_the_setting_and_the_ways_out");
    if !std::path::Path::new("/proc/sys/vm/memfd_noexec").exists() {
        eprintln!("SKIPPED: no vm.memfd_noexec before Linux 6.3");
        return;
    }
    let outside = std::fs::read_to_string("/proc/sys/vm/memfd_noexec").expect("read sysctl");
    let in_noexec_pid_ns = |mntns_args: &str| {
        let mut command = Command::new("unshare");
        command
            .args(["--pid", "--fork", "--kill-child", "sh", "-c"])
            .arg(format!(
                "echo 2 > /proc/sys/vm/memfd_noexec && exec \"$0\" {mntns_args}"
            ))
            .arg(mntns().get_program())
            .env_remove(SLEEPER_ENV);
        run(command)
    };

    // `hold` always spawns a sleeper (as root, `cat` and `ls` enter by a thread).
    let (status, stdout, stderr) = in_noexec_pid_ns("hold /proc/self/ns/mnt");
    assert_eq!(
        status.code(),
        Some(1),
        "stdout {stdout:?}, stderr {stderr:?}"
    );
    assert_eq!(
        stderr,
        "mntns: create an executable memfd for the embedded sleeper: vm.memfd_noexec = 2 \
         forbids it; give a sleeper file with Builder::sleeper(path) or $MNTNSSANDBOX_BINARY: \
         EACCES (13)\n"
    );

    // The way out works there.
    let way_out = format!("--sleeper {} hold /proc/self/ns/mnt", sleeper().display());
    let (status, stdout, stderr) = in_noexec_pid_ns(&way_out);
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stdout.ends_with("/root\n"),
        "no \"<pid> <root>\" line: {stdout:?}"
    );

    let after = std::fs::read_to_string("/proc/sys/vm/memfd_noexec").expect("read sysctl");
    assert_eq!(
        after, outside,
        "the setting outside the PID namespace changed"
    );
}
