//! Sleepers that misbehave — silent, chatty, dying, missing, not executable — each give a
//! clean error, and leave no process and no fd behind. (Fake sleepers are shell scripts; they
//! never join anything, so these tests need no privileges.)

mod common;

use common::{assert_no_leaks, serial, TempDir};
use mntnssandbox_host::{Builder, Error, Hold, NamespaceRef};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// A fake sleeper: a shell script. `exec` so that killing the process kills the script's work
/// too (the real sleeper never forks).
fn fake(dir: &TempDir, name: &str, body: &str) -> std::path::PathBuf {
    dir.write(
        name,
        &format!("#!/bin/sh\nPATH=/usr/bin:/bin\n{body}\n"),
        0o755,
    )
}

fn builder(sleeper: &Path) -> Builder {
    Builder::new(NamespaceRef::Path("/proc/self/ns/mnt".into()))
        .hold(Hold::Sleeper)
        .sleeper(sleeper)
}

#[test]
fn silent_sleeper_times_out() {
    let _serial = serial();
    let dir = TempDir::new("fake");
    let silent = fake(&dir, "silent", "exec sleep 100");
    let started = Instant::now();
    let error = assert_no_leaks("silent", || {
        builder(&silent)
            .timeout(Duration::from_millis(200))
            .spawn()
            .unwrap_err()
    });
    assert!(
        matches!(error, Error::Timeout { timeout, .. } if timeout == Duration::from_millis(200)),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        error.to_string().starts_with("no handshake from sleeper "),
        "{error}"
    );
}

#[test]
fn garbage_handshake_is_refused() {
    let _serial = serial();
    let dir = TempDir::new("fake");
    let garbage = fake(&dir, "garbage", "echo NOPE; exec sleep 100");
    let error = assert_no_leaks("garbage", || builder(&garbage).spawn().unwrap_err());
    match &error {
        Error::UnexpectedHandshake { received, .. } => assert_eq!(received, b"NOPE\n"),
        other => panic!("expected UnexpectedHandshake, got {other:?}"),
    }
    // A handshake that is right but for extra bytes is just as wrong.
    let extra = fake(&dir, "extra", "printf 'OK\\nmore'; exec sleep 100");
    let error = assert_no_leaks("extra", || builder(&extra).spawn().unwrap_err());
    assert!(
        matches!(
            error,
            Error::UnexpectedHandshake { .. } | Error::Timeout { .. }
        ),
        "{error:?}"
    );
    // Half a handshake, then the pipe closes.
    let half = fake(&dir, "half", "printf OK; exec sleep 100 >&-");
    let error = assert_no_leaks("half", || builder(&half).spawn().unwrap_err());
    match &error {
        Error::UnexpectedHandshake { received, .. } => assert_eq!(received, b"OK"),
        other => panic!("expected UnexpectedHandshake, got {other:?}"),
    }
}

#[test]
fn dying_sleeper_reports_its_message_and_status() {
    let _serial = serial();
    let dir = TempDir::new("fake");
    let boom = fake(&dir, "boom", "echo boom >&2; exit 66");
    let error = assert_no_leaks("boom", || builder(&boom).spawn().unwrap_err());
    match &error {
        Error::NamespaceRefused { message, status } => {
            assert_eq!(message, "boom");
            assert_eq!(status.code(), Some(66));
        }
        other => panic!("expected NamespaceRefused, got {other:?}"),
    }
    assert_eq!(error.to_string(), "sleeper failed: boom (exit status: 66)");

    // Says OK, then dies at once: spawn may catch that or not (the race is inherent), but
    // either way the death is reported, with its status, and reaped.
    let fleeting = fake(&dir, "fleeting", "echo OK; exit 3");
    let error = assert_no_leaks("fleeting", || match builder(&fleeting).spawn() {
        Err(error) => error,
        Ok(sandbox) => {
            assert!(
                common::wait_readable(
                    sandbox.pidfd().expect("held by a sleeper").as_raw_fd(),
                    common::WAIT
                ),
                "the fleeting sleeper did not exit"
            );
            sandbox.close().unwrap_err()
        }
    });
    match error {
        Error::SleeperDied { status, .. } => assert_eq!(status.code(), Some(3)),
        other => panic!("expected SleeperDied, got {other:?}"),
    }
}

#[test]
fn real_sleeper_refusal_carries_its_line() {
    let _serial = serial();
    let sleeper = common::sleeper();
    // The host checks the reference first; the sleeper refuses what it may not join: on a
    // thread of its own without CAP_SYS_ADMIN (its sleepers inherit that), a container's.
    let container = common::Container::new("");
    let pid = container.pid();
    let error = std::thread::spawn(move || {
        common::give_up_sys_admin();
        assert_no_leaks("refused", || {
            Builder::new(NamespaceRef::Pid(pid))
                .hold(Hold::Sleeper)
                .sleeper(&sleeper)
                .spawn()
                .unwrap_err()
        })
    })
    .join()
    .expect("the refused spawn");
    match &error {
        Error::NamespaceRefused { message, status } => {
            assert_eq!(
                message,
                &format!(
                    "package mntnssandbox: cannot join mount namespace using reference \
                     \"/proc/{pid}/ns/mnt\": Operation not permitted"
                )
            );
            assert_eq!(status.code(), Some(mntnssandbox_host::FAILURE_EXIT_STATUS));
        }
        other => panic!("expected NamespaceRefused, got {other:?}"),
    }
}

#[test]
fn missing_and_unexecutable_sleepers() {
    let _serial = serial();
    let dir = TempDir::new("fake");
    let missing = dir.path().join("missing");
    let error = assert_no_leaks("missing", || builder(&missing).spawn().unwrap_err());
    assert!(
        matches!(&error, Error::SleeperNotFound { path } if *path == missing),
        "{error:?}"
    );

    let plain = dir.write("plain", "#!/bin/sh\necho OK\n", 0o644);
    let error = assert_no_leaks("not executable", || builder(&plain).spawn().unwrap_err());
    match &error {
        Error::SleeperNotExecutable { path, .. } => assert_eq!(path, &plain),
        other => panic!("expected SleeperNotExecutable, got {other:?}"),
    }
    assert_eq!(error.raw_os_error(), Some(libc::EACCES));
    assert!(
        error
            .to_string()
            .ends_with("is not executable: EACCES (13)"),
        "{error}"
    );

    let garbage = dir.write("elf", "\x7fELF but not really", 0o755);
    let error = assert_no_leaks("not a program", || builder(&garbage).spawn().unwrap_err());
    assert!(
        matches!(error, Error::SleeperNotExecutable { .. }),
        "{error:?}"
    );

    let error = assert_no_leaks("a directory", || builder(dir.path()).spawn().unwrap_err());
    assert!(
        matches!(error, Error::SleeperNotExecutable { .. }),
        "{error:?}"
    );
}

#[test]
fn a_fake_sleeper_that_behaves_gives_a_sandbox() {
    // The whole path without privileges: a script that says OK and sleeps on its lifeline.
    let _serial = serial();
    let dir = TempDir::new("fake");
    let good = fake(&dir, "good", "[ -n \"$sleepy_lifeline\" ] && [ -n \"$sleepy_mntns\" ] && [ -z \"${HOME-}\" ] || exit 9\necho OK\nexec cat >/dev/null");
    assert_no_leaks("good", || {
        let sandbox = builder(&good).spawn().expect("spawn the fake sleeper");
        assert!(sandbox.is_alive());
        // Its root is ours, since it joined nothing.
        assert!(sandbox.metadata("/").unwrap().is_dir());
        sandbox.close().expect("close");
    });
}
