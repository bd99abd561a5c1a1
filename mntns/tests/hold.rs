//! `mntns hold`: the sleeper goes with mntns, however mntns ends — SIGKILL included, which is
//! what the lifeline is for.
//!
//! These tests make this process a child subreaper, so that a sleeper orphaned by the death of
//! mntns is reparented to us: we can then reap it and see its exit status (0: it saw its
//! lifeline close). That is why they live in a test binary of their own.

#[path = "../../host/tests/common/mod.rs"]
mod common;

use common::{serial, Container, WAIT};
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd as _;
use std::process::{Child, Stdio};

fn subreaper() {
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .expect("become a child subreaper");
}

/// Starts `mntns hold` on the container; returns it and the sleeper's PID.
fn hold(container: &Container) -> (Child, u32) {
    let mut command = common::mntns();
    command.arg("--sleeper").arg(common::sleeper());
    if container.in_user_ns() {
        command.args(["--userns", &container.pid().to_string()]);
    }
    let mut mntns = command
        .args(["hold", &container.pid().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn mntns hold");
    let stdout = mntns.stdout.take().unwrap();
    assert!(
        common::wait_readable(stdout.as_raw_fd(), WAIT),
        "no line from mntns hold in {WAIT:?}"
    );
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let (pid, root) = line.trim_end().split_once(' ').expect("<pid> <root>");
    let pid: u32 = pid.parse().expect("a PID");
    assert_eq!(root, format!("/proc/{pid}/root"));
    // The sleeper is really in the container.
    let hostname = std::fs::read_to_string(format!("{root}/etc/hostname")).unwrap();
    assert_eq!(hostname, "held\n");
    (mntns, pid)
}

/// Waits (bounded) for the orphaned sleeper to exit, reaps it (we are its subreaper), and
/// returns its exit code.
fn reap_orphan(pid: u32) -> Option<i32> {
    let rpid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    assert!(
        common::wait_gone(pid, WAIT),
        "sleeper {pid} still running {WAIT:?} after mntns died"
    );
    let status = rustix::process::waitpid(Some(rpid), rustix::process::WaitOptions::empty())
        .expect("reap the orphaned sleeper (we are its subreaper)")
        .map(|(_, status)| status)?;
    status.exit_status()
}

const SETUP: &str = "mkdir etc && echo held > etc/hostname";

#[test]
fn sigkill_of_mntns_takes_the_sleeper_along() {
    let _serial = serial();
    subreaper();
    let container = Container::new(SETUP);
    let (mut mntns, pid) = hold(&container);
    mntns.kill().expect("SIGKILL mntns");
    let status = mntns.wait().expect("reap mntns");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    // Exit status 0: the sleeper saw its lifeline close, nobody had to kill it.
    assert_eq!(reap_orphan(pid), Some(0));
}

#[test]
fn closing_stdin_ends_hold_cleanly() {
    let _serial = serial();
    subreaper();
    let container = Container::new(SETUP);
    let (mut mntns, pid) = hold(&container);
    drop(mntns.stdin.take());
    assert!(common::wait_exit_status(&mut mntns, WAIT).is_some_and(|s| s.success()));
    // mntns reaped its sleeper itself: it is gone, and not a zombie of ours.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "sleeper {pid} remains"
    );
}

#[test]
fn sigterm_and_sigint_end_hold_cleanly() {
    let _serial = serial();
    subreaper();
    let container = Container::new(SETUP);
    for signal in [rustix::process::Signal::TERM, rustix::process::Signal::INT] {
        let (mut mntns, pid) = hold(&container);
        let mntns_pid = rustix::process::Pid::from_raw(mntns.id() as i32).unwrap();
        rustix::process::kill_process(mntns_pid, signal).expect("signal mntns");
        let status = common::wait_exit_status(&mut mntns, WAIT);
        assert!(
            status.is_some_and(|s| s.success()),
            "{signal:?}: {status:?}"
        );
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "sleeper {pid} remains"
        );
    }
}
