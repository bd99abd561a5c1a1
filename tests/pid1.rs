//! The sleeper as PID 1 of its own PID namespace (a holder container, like Kubernetes' pause):
//! SIGTERM ends it with status 0, and orphans reparented to it are reaped.

mod common;

use common::*;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `unshare --pid --fork` running the sleeper as PID 1 of a new PID namespace, joined to
/// the test's own mount namespace; the sleeper's stdout is the pipe unshare hands down.
/// With `lifeline`, `sleepy_lifeline=1` is set and stdin is a pipe whose only write end is
/// the returned `Spawned::stdin` (std makes it close-on-exec, so no child inherits it).
fn sleeper_as_pid1(lifeline: bool) -> (Spawned, u32) {
    let mut unshare = Command::new("unshare");
    unshare.args(["--pid", "--fork", "--kill-child"]);
    let ours = format!("/proc/{}/ns/mnt", std::process::id());
    let mut command = sleeper_through(unshare, [("sleepy_mntns", ours)]);
    if lifeline {
        command.env("sleepy_lifeline", "1").stdin(Stdio::piped());
    }
    let mut unshare = spawn(&mut command, "unshare --pid --fork mntnssandbox");
    unshare.expect_ok();
    let sleeper = wait_until(DEADLINE, "unshare's forked child (the sleeper)", || {
        children(unshare.pid()).first().copied()
    });
    assert_eq!(
        proc_field(sleeper, "status", "NSpid")
            .split_whitespace()
            .last(),
        Some("1"),
        "the sleeper must be PID 1 in its namespace"
    );
    // The sleeper sets its PID 1 signal dispositions before it says OK; asleep, it is in the
    // state the tests mean to signal.
    assert_asleep(sleeper);
    assert_eq!(
        unshare.stdin.is_some(),
        lifeline,
        "the test holds the lifeline's write end exactly when there is a lifeline"
    );
    (unshare, sleeper)
}

/// The children of `pid`, from /proc/<pid>/task/<pid>/children.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|child| child.parse().expect("a pid"))
        .collect()
}

/// Bytes `pid` has read so far, from /proc/<pid>/io.
fn rchar(pid: u32) -> u64 {
    proc_field(pid, "io", "rchar")
        .parse()
        .expect("numeric rchar")
}

/// The sleeper as PID 1 on a lifeline held by the test, checked to be asleep on it: its stdin
/// is the test's pipe, and a byte written into it is read (and ignored) without ending it.
fn pid1_on_lifeline() -> (Spawned, u32) {
    let (mut unshare, sleeper) = sleeper_as_pid1(true);
    let stdin = unshare.stdin.as_mut().expect("the lifeline's write end");
    let ours = std::fs::read_link(format!("/proc/self/fd/{}", stdin.as_raw_fd()))
        .expect("readlink our write end");
    let theirs = std::fs::read_link(format!("/proc/{sleeper}/fd/0")).expect("readlink its stdin");
    assert_eq!(theirs, ours, "the sleeper's stdin must be the test's pipe");
    let before = rchar(sleeper);
    write_all(stdin, b"x");
    wait_until(
        DEADLINE,
        "PID 1 to read the byte written into its lifeline",
        || (rchar(sleeper) == before + 1).then_some(()),
    );
    assert_asleep(sleeper);
    assert_eq!(
        unshare.exited(),
        None,
        "data on the lifeline must not end PID 1"
    );
    (unshare, sleeper)
}

fn send_signal(name: &str, pid: u32) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}: {status}");
}

#[test]
fn sigterm_ends_pid1_with_status_0() {
    if skip_unless_root("sigterm_ends_pid1_with_status_0") {
        return;
    }
    let (mut unshare, sleeper) = sleeper_as_pid1(false);
    assert_asleep(sleeper);
    send_signal("TERM", sleeper);
    // unshare --fork exits with its child's status.
    let status = unshare.wait_exit_within(Duration::from_secs(1), "PID 1 to end on SIGTERM");
    assert_eq!(
        status.code(),
        Some(0),
        "PID 1 must exit 0 on SIGTERM, got {status}"
    );
}

#[test]
fn sigint_ends_pid1_with_status_0() {
    if skip_unless_root("sigint_ends_pid1_with_status_0") {
        return;
    }
    let (mut unshare, sleeper) = sleeper_as_pid1(false);
    send_signal("INT", sleeper);
    let status = unshare.wait_exit_within(Duration::from_secs(1), "PID 1 to end on SIGINT");
    assert_eq!(
        status.code(),
        Some(0),
        "PID 1 must exit 0 on SIGINT, got {status}"
    );
}

#[test]
fn pid1_reaps_orphans() {
    if skip_unless_root("pid1_reaps_orphans") {
        return;
    }
    let (_unshare, sleeper) = sleeper_as_pid1(false);
    // A shell inside the PID namespace backgrounds a short-lived child and exits: the child
    // is orphaned and reparented to the namespace's PID 1, the sleeper.
    let mut shell = Command::new("nsenter");
    shell
        .args(["--target", &sleeper.to_string(), "--pid", "--", "sh", "-c"])
        .arg("sleep 0.5 </dev/null >/dev/null 2>&1 & echo $!")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let outcome = run_to_end(&mut shell, "nsenter sh (makes an orphan)");
    assert!(
        outcome.status.success(),
        "nsenter sh: {:?}",
        show(&outcome.stderr)
    );
    let orphan_in_namespace: u32 = show(&outcome.stdout).trim().parse().expect("sh prints $!");
    let orphan = wait_until(
        DEADLINE,
        "the orphan to be reparented to the sleeper",
        || children(sleeper).first().copied(),
    );
    assert_eq!(
        proc_field(orphan, "status", "NSpid")
            .split_whitespace()
            .last(),
        Some(orphan_in_namespace.to_string().as_str()),
        "the sleeper's child must be the orphan"
    );
    wait_until(
        DEADLINE,
        "the sleeper to reap its orphan (no child, no zombie)",
        || (children(sleeper).is_empty() && state(orphan).is_none()).then_some(()),
    );
    assert_asleep(sleeper);
}

#[test]
fn outside_a_pid_namespace_sigterm_keeps_its_default_action() {
    if skip_unless_root("outside_a_pid_namespace_sigterm_keeps_its_default_action") {
        return;
    }
    let mut sleeper = spawn(
        &mut sleeper_with(&[("sleepy_mntns", "/proc/self/ns/mnt")]),
        "sleeper (not PID 1)",
    );
    sleeper.expect_ok();
    send_signal("TERM", sleeper.pid());
    let status = sleeper.wait_exit_within(DEADLINE, "the sleeper to die of SIGTERM");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(15), "killed by SIGTERM, got {status}");
}

#[test]
fn sigterm_ends_pid1_on_a_lifeline_with_status_0() {
    if skip_unless_root("sigterm_ends_pid1_on_a_lifeline_with_status_0") {
        return;
    }
    let (mut unshare, sleeper) = pid1_on_lifeline();
    send_signal("TERM", sleeper);
    let status = unshare.wait_exit_within(
        Duration::from_secs(1),
        "PID 1, blocked on its lifeline, to end on SIGTERM",
    );
    assert_eq!(
        status.code(),
        Some(0),
        "PID 1 on a lifeline must exit 0 on SIGTERM, got {status}"
    );
    // The write end stayed open throughout: it was the signal, not EOF, that ended it.
    assert!(
        unshare.stdin.is_some(),
        "the lifeline was held until PID 1 ended"
    );
    assert_eq!(show(&unshare.stdout.bytes), "OK\n", "stdout");
}

#[test]
fn lifeline_eof_ends_pid1_with_status_0() {
    if skip_unless_root("lifeline_eof_ends_pid1_with_status_0") {
        return;
    }
    let (mut unshare, _sleeper) = pid1_on_lifeline();
    // Our write end is the pipe's only one: closing it is EOF for PID 1.
    drop(unshare.stdin.take());
    let status =
        unshare.wait_exit_within(Duration::from_secs(1), "PID 1 to end on its lifeline's EOF");
    assert_eq!(
        status.code(),
        Some(0),
        "PID 1 must exit 0 on its lifeline's EOF, got {status}"
    );
    assert_eq!(show(&unshare.stdout.bytes), "OK\n", "stdout");
}

/// A holder container under default capabilities (podman's, a pod's infra container): PID 1
/// without CAP_SYS_ADMIN, told to join its own mount namespace, which setns(2) refuses
/// (EPERM) but it is already in.
#[test]
fn pid1_without_cap_sys_admin_joins_its_own_mount_namespace() {
    if skip_unless_root("pid1_without_cap_sys_admin_joins_its_own_mount_namespace") {
        return;
    }
    let mut unshare = Command::new("unshare");
    unshare
        .args(["--pid", "--fork", "--kill-child", "--mount-proc"])
        .args(["setpriv", "--bounding-set", "-sys_admin", "--"]);
    let mut command = sleeper_through(unshare, [("sleepy_mntns", "/proc/self/ns/mnt")]);
    let mut unshare = spawn(&mut command, "PID 1 without CAP_SYS_ADMIN");
    unshare.expect_ok();
    let sleeper = wait_until(DEADLINE, "unshare's forked child (the sleeper)", || {
        children(unshare.pid()).first().copied()
    });
    let nspid = proc_field(sleeper, "status", "NSpid");
    assert_eq!(nspid.split_whitespace().last(), Some("1"), "PID 1");
    const CAP_SYS_ADMIN: u32 = 21;
    let bounding = u64::from_str_radix(&proc_field(sleeper, "status", "CapBnd"), 16)
        .expect("hexadecimal CapBnd");
    assert_eq!(
        bounding >> CAP_SYS_ADMIN & 1,
        0,
        "CAP_SYS_ADMIN not in {bounding:x}"
    );
    assert_ne!(
        ns_link(sleeper, "mnt"),
        ns_link("self", "mnt"),
        "its own mount namespace, made by unshare --mount-proc"
    );
    assert_eq!(proc_field(sleeper, "status", "CapEff"), "0000000000000000");
    assert_asleep(sleeper);
    assert_eq!(show(&unshare.stderr.bytes), "", "stderr");
}
