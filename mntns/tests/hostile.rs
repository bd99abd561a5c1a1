//! `mntns cat` and `ls` on a hostile container's files: FIFOs, devices, kernel
//! pseudo-filesystems, huge files and names full of escapes are refused at once with one line,
//! or printed escaped; nothing hangs. (The library's side: host/tests/hostile.rs.)

#[path = "../../host/tests/common/mod.rs"]
mod common;

use common::{run_bounded, Container};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Asserts that `mntns` failed at once with one line naming `path` and `why`, printing nothing.
fn assert_refused(outcome: common::Bounded, path: &str, why: &str) {
    let status = outcome.status.expect("mntns hung and was killed");
    assert_eq!(status.code(), Some(1), "stderr: {}", outcome.err);
    assert!(
        outcome.out.is_empty(),
        "printed {} bytes",
        outcome.out.len()
    );
    assert_eq!(
        outcome.err.lines().count(),
        1,
        "not one line: {:?}",
        outcome.err
    );
    let expected = format!("mntns: {path:?}: {why}");
    assert!(
        outcome.err.starts_with(&expected),
        "{:?} does not start with {expected:?}",
        outcome.err
    );
}

#[test]
fn fifos_are_refused_without_blocking() {
    let container = Container::new("mkfifo fifo; ln -s /fifo fifo-link; echo ok > file");
    let pid = container.pid().to_string();
    for path in ["/fifo", "/fifo-link"] {
        let outcome = run_bounded(container.mntns(&["cat", &pid, path]), 1 << 20);
        assert_refused(outcome, path, "not a regular file: a FIFO");
    }
    let outcome = run_bounded(container.mntns(&["cat", &pid, "/file"]), 1 << 20);
    assert!(outcome.status.expect("exited").success(), "{}", outcome.err);
    assert_eq!(outcome.out, b"ok\n");
}

#[test]
fn devices_are_refused_unopened() {
    require_root!("devices_are_refused_unopened");
    let container = Container::new(
        "mknod null c 1 3; mknod zero c 1 5; mknod kmsg c 1 11; ln -s /zero zero-link",
    );
    let pid = container.pid().to_string();
    for path in ["/null", "/zero", "/kmsg", "/zero-link"] {
        let outcome = run_bounded(container.mntns(&["cat", &pid, path]), 1 << 20);
        assert_refused(outcome, path, "not a regular file: a character device");
    }
}

#[test]
fn pseudo_filesystems_are_refused_by_default() {
    require_root!("pseudo_filesystems_are_refused_by_default");
    let container = Container::new(common::PSEUDO_SETUP);
    // A secret in mntns' environment does not come back, unless asked for.
    let pid = container.pid().to_string();
    let secret = "MNTNS_TEST_SECRET=hunter2-0d4e";
    let mut cat = container.mntns(&["cat", &pid, "/etc/os-release"]);
    cat.env("MNTNS_TEST_SECRET", "hunter2-0d4e");
    assert_refused(
        run_bounded(cat, 1 << 20),
        "/etc/os-release",
        "on procfs, a kernel pseudo-filesystem",
    );
    let mut cat = container.mntns(&["cat", "--allow-pseudo-filesystems", &pid, "/etc/os-release"]);
    cat.env("MNTNS_TEST_SECRET", "hunter2-0d4e");
    let outcome = run_bounded(cat, 1 << 20);
    assert!(outcome.status.expect("exited").success(), "{}", outcome.err);
    assert!(outcome
        .out
        .windows(secret.len())
        .any(|w| w == secret.as_bytes()));
}

#[test]
fn huge_files_are_refused_by_size_and_ordinary_ones_streamed_whole() {
    let source = common::TempDir::new("hostile-large");
    // 70 MiB of varied bytes: over the library's default cap of read(), streamed whole by cat.
    let large = common::varied_bytes(70 << 20);
    std::fs::write(source.path().join("large"), &large).expect("write the large file");
    let setup = format!(
        "truncate -s 100G sparse; cp {}/large large",
        source.path().display()
    );
    let container = Container::new(&setup);
    let pid = container.pid().to_string();
    let outcome = run_bounded(
        container.mntns(&["cat", "--max-bytes", "1048576", &pid, "/sparse"]),
        1 << 20,
    );
    assert_refused(
        outcome,
        "/sparse",
        "too large: 107374182400 bytes, over the limit of 1048576",
    );
    let outcome = run_bounded(container.mntns(&["cat", &pid, "/large"]), 80 << 20);
    assert!(outcome.status.expect("exited").success(), "{}", outcome.err);
    assert!(outcome.out == large, "mntns cat of 70 MiB differs");
}

#[test]
fn ls_escapes_names_as_ls_b_and_zero_prints_them_raw() {
    const NAMES: &[&[u8]] = &[
        b"a\x1b]0;pwned\x07b",
        b"\x1b[2J",
        b"two\nlines",
        b"sp ace",
        b"back\\slash",
        b"tab\there",
        b"caf\xc3\xa9",
        b"plain",
    ];
    // The same names in a host directory, for GNU ls to escape.
    let host = common::TempDir::new("hostile-names");
    let mut setup = String::new();
    for name in NAMES {
        std::fs::write(host.path().join(OsStr::from_bytes(name)), "").expect("create a name");
        let octal: String = name.iter().map(|byte| format!("\\{byte:03o}")).collect();
        setup.push_str(&format!("touch \"$(printf '{octal}')\"\n"));
    }
    let container = Container::new(&setup);
    let pid = container.pid().to_string();

    let outcome = run_bounded(container.mntns(&["ls", &pid, "/"]), 1 << 20);
    assert!(outcome.status.expect("exited").success(), "{}", outcome.err);
    let gnu = std::process::Command::new("ls")
        .args(["-b", "-1", "-A"])
        .arg(host.path())
        .env("LC_ALL", "C")
        .output()
        .expect("run ls -b");
    assert!(gnu.status.success());
    assert_eq!(
        String::from_utf8_lossy(&outcome.out),
        String::from_utf8_lossy(&gnu.stdout)
    );
    assert_eq!(
        outcome.out.iter().filter(|&&b| b == b'\n').count(),
        NAMES.len()
    );
    assert!(outcome
        .out
        .iter()
        .all(|&b| b == b'\n' || (0x20..0x7f).contains(&b)));

    let outcome = run_bounded(container.mntns(&["ls", "-z", &pid, "/"]), 1 << 20);
    assert!(outcome.status.expect("exited").success(), "{}", outcome.err);
    let mut raw: Vec<&[u8]> = outcome.out.split(|&b| b == 0).collect();
    assert_eq!(raw.pop(), Some(&b""[..]), "every name ends in NUL");
    let mut expected = NAMES.to_vec();
    expected.sort();
    assert_eq!(raw, expected);
}

#[test]
fn ls_refuses_pseudo_filesystems_by_default() {
    require_root!("ls_refuses_pseudo_filesystems_by_default");
    let container = Container::new(common::PSEUDO_SETUP);
    let pid = container.pid().to_string();
    for (dir, filesystem) in [("/proc/self/fd", "procfs"), ("/sys/kernel", "sysfs")] {
        let outcome = run_bounded(container.mntns(&["ls", &pid, dir]), 1 << 20);
        assert_refused(
            outcome,
            dir,
            &format!("on {filesystem}, a kernel pseudo-filesystem"),
        );
    }
    let outcome = run_bounded(container.mntns(&["ls", &pid, "/"]), 1 << 20);
    assert!(outcome.status.expect("exited").success(), "{}", outcome.err);
    assert_eq!(outcome.out, b"cmdline\netc\nproc\nseqnum\nsys\n");
    let allowed = ["ls", "--allow-pseudo-filesystems", &pid, "/proc/self/fd"];
    let outcome = run_bounded(container.mntns(&allowed), 1 << 20);
    assert!(outcome.status.expect("exited").success(), "{}", outcome.err);
    assert!(!outcome.out.is_empty(), "mntns' own descriptors");
}

#[test]
fn references_that_are_not_namespaces_fail_at_once_in_one_line() {
    let dir = common::TempDir::new("mntns-references");
    let fifo = dir.path().join("a-fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let fifo = fifo.display().to_string();
    // The case: this hung for good before, whatever --timeout said.
    let mut command = common::mntns();
    command.args(["--timeout", "1", "cat", &fifo, "/etc/hostname"]);
    let outcome = run_bounded(command, 1 << 20);
    assert_eq!(outcome.status.expect("mntns hung").code(), Some(1));
    assert_eq!(
        outcome.err,
        format!(
            "mntns: invalid mount namespace reference {fifo:?}: a FIFO, not a mount namespace\n"
        )
    );
    let mut command = common::mntns();
    command.args(["ls", "/proc/self/ns/user", "/"]);
    let outcome = run_bounded(command, 1 << 20);
    assert_eq!(
        outcome.err,
        "mntns: invalid mount namespace reference \"/proc/self/ns/user\": a user namespace, not \
         a mount namespace\n"
    );
}
