//! `sleepy_lifeline`: sleep reading stdin, ignore data, exit 0 on EOF; without it, stdin's
//! EOF means nothing.

mod common;

use common::*;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Bytes `pid` has read so far, from /proc/<pid>/io.
fn rchar(pid: u32) -> u64 {
    proc_field(pid, "io", "rchar")
        .parse()
        .expect("numeric rchar")
}

/// A sleeper whose stdin is a pipe whose only write end is held by a `cat` (the holder); what
/// we write to the holder's stdin, cat forwards into the sleeper's lifeline.
fn sleeper_on_lifeline_held_by_cat(lifeline: &str) -> (Spawned, Spawned) {
    let (reader, writer) = cloexec_pipe();
    let mut cat = Command::new("cat");
    cat.stdin(Stdio::piped())
        .stdout(writer)
        .stderr(Stdio::piped());
    let holder = spawn(&mut cat, "cat holding the lifeline's write end");
    // Our copy of the write end went away with the Command.
    drop(cat);

    let mut command = sleeper_with(&[
        ("sleepy_mntns", "/proc/self/ns/mnt"),
        ("sleepy_lifeline", lifeline),
    ]);
    command.stdin(reader);
    let sleeper = spawn(&mut command, "sleeper on a lifeline");
    drop(command);
    (holder, sleeper)
}

#[test]
fn lifeline_ignores_data_and_exits_zero_soon_after_its_holder_is_killed() {
    if skip_unless_root("lifeline_ignores_data_and_exits_zero_soon_after_its_holder_is_killed") {
        return;
    }
    let (mut holder, mut sleeper) = sleeper_on_lifeline_held_by_cat("1");
    sleeper.expect_ok();
    let pid = sleeper.pid();
    // Bytes read so far (exec itself counts), as the baseline.
    let before = rchar(pid);

    // Data on the lifeline is read and ignored: the sleeper reads it all and stays.
    let data = [b'x'; 1000];
    write_all(holder.stdin.as_mut().expect("cat's stdin"), &data);
    wait_until(
        DEADLINE,
        "the sleeper to read all 1000 bytes from its lifeline",
        || (rchar(pid) == before + 1000).then_some(()),
    );
    assert_asleep(pid);
    assert_eq!(
        sleeper.exited(),
        None,
        "data on the lifeline must not end the sleeper"
    );
    assert_eq!(show(&sleeper.stdout.bytes), "OK\n", "stdout");

    // SIGKILL the holder: the pipe's last writer is gone, the sleeper sees EOF and exits 0.
    holder.child.kill().expect("kill the holder");
    let holder_status = holder.wait_exit_within(DEADLINE, "the killed holder to be reaped");
    assert_eq!(
        holder_status.signal(),
        Some(9),
        "the holder died of SIGKILL"
    );
    let killed = Instant::now();
    let status = sleeper.wait_exit_within(
        Duration::from_secs(1),
        "the sleeper to exit after the lifeline's holder was killed",
    );
    eprintln!(
        "sleeper exited {:?} after its holder was killed",
        killed.elapsed()
    );
    assert_eq!(
        status.code(),
        Some(0),
        "exit status on lifeline EOF: {status:?}"
    );
    let outcome = sleeper.finish("the sleeper's output to end");
    assert_eq!(show(&outcome.stdout), "OK\n", "stdout");
    assert_eq!(show(&outcome.stderr), "", "stderr");
}

/// A lifeline on anything but a pipe or a socket is no lifeline: lxkns gives `/dev/null`, and
/// a `sleepy_lifeline` its host inherited must not end the sleeper.
fn stays_asleep_with_lifeline_on(stdin: Stdio, what: &str) {
    let mut command = sleeper_with(&[
        ("sleepy_mntns", "/proc/self/ns/mnt"),
        ("sleepy_lifeline", "1"),
    ]);
    command.stdin(stdin);
    let mut sleeper = spawn(&mut command, what);
    sleeper.expect_ok();
    let before = rchar(sleeper.pid());
    // Watching for something that must not happen: give it the quiet period to exit.
    assert_eq!(
        show(&sleeper.stdout.news_within_quiet_period()),
        "",
        "stdout"
    );
    assert_eq!(
        sleeper.exited(),
        None,
        "{what}: the sleeper must keep sleeping"
    );
    assert_asleep(sleeper.pid());
    assert_eq!(
        rchar(sleeper.pid()),
        before,
        "{what}: it never read its stdin"
    );
    assert_eq!(show(&sleeper.stderr.bytes), "", "stderr");
}

#[test]
fn a_lifeline_on_dev_null_is_no_lifeline() {
    if skip_unless_root("a_lifeline_on_dev_null_is_no_lifeline") {
        return;
    }
    stays_asleep_with_lifeline_on(Stdio::null(), "sleeper with a lifeline on /dev/null");
}

#[test]
fn a_lifeline_on_a_regular_file_is_no_lifeline() {
    if skip_unless_root("a_lifeline_on_a_regular_file_is_no_lifeline") {
        return;
    }
    let file = std::fs::File::open("/proc/self/exe").expect("open a regular file");
    stays_asleep_with_lifeline_on(file.into(), "sleeper with a lifeline on a regular file");
}

#[test]
fn a_lifeline_on_a_closed_stdin_is_no_lifeline() {
    if skip_unless_root("a_lifeline_on_a_closed_stdin_is_no_lifeline") {
        return;
    }
    let mut command = sleeper_with(&[
        ("sleepy_mntns", "/proc/self/ns/mnt"),
        ("sleepy_lifeline", "1"),
    ]);
    close_in_child(&mut command, 0);
    let mut sleeper = spawn(&mut command, "sleeper with a lifeline and stdin closed");
    sleeper.expect_ok();
    assert_eq!(
        show(&sleeper.stdout.news_within_quiet_period()),
        "",
        "stdout"
    );
    assert_eq!(sleeper.exited(), None, "the sleeper must keep sleeping");
    assert_asleep(sleeper.pid());
}

#[test]
fn a_lifeline_on_a_socket_ends_the_sleep_at_eof() {
    if skip_unless_root("a_lifeline_on_a_socket_ends_the_sleep_at_eof") {
        return;
    }
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    let mut command = sleeper_with(&[
        ("sleepy_mntns", "/proc/self/ns/mnt"),
        ("sleepy_lifeline", "1"),
    ]);
    command.stdin(std::os::fd::OwnedFd::from(theirs));
    let mut sleeper = spawn(&mut command, "sleeper with a lifeline on a socket");
    drop(command);
    sleeper.expect_ok();
    assert_asleep(sleeper.pid());
    assert_eq!(sleeper.exited(), None, "asleep while we hold our end");
    drop(ours);
    let status = sleeper.wait_exit_within(DEADLINE, "the sleeper to exit on the socket's EOF");
    assert_eq!(status.code(), Some(0), "status {status:?}");
}

/// The lifeline is a blocking read: a non-blocking stdin (a host's mistake) is not slept on but
/// fails at once, after the handshake, with EAGAIN.
#[test]
fn lifeline_on_a_non_blocking_stdin_fails_at_once_after_ok() {
    if skip_unless_root("lifeline_on_a_non_blocking_stdin_fails_at_once_after_ok") {
        return;
    }
    let (reader, writer) = cloexec_pipe();
    set_nonblocking(&reader);
    let mut command = sleeper_with(&[
        ("sleepy_mntns", "/proc/self/ns/mnt"),
        ("sleepy_lifeline", "1"),
    ]);
    command.stdin(reader);
    // We hold the write end throughout: no EOF, nothing to read.
    let outcome = run_to_end(&mut command, "sleeper on a non-blocking lifeline");
    drop(writer);
    outcome.assert_failure_after_ok(&format!(
        "package mntnssandbox: cannot read lifeline: {}",
        strerror(EAGAIN)
    ));
}

/// Without a (non-empty) lifeline, the sleeper outlives EOF on its stdin; the same setup with a
/// lifeline (the control) exits.
fn stays_asleep_after_stdin_eof(lifeline: Option<&str>) {
    let mut env = vec![("sleepy_mntns", "/proc/self/ns/mnt")];
    if let Some(value) = lifeline {
        env.push(("sleepy_lifeline", value));
    }
    let mut command = sleeper_with(&env);
    command.stdin(Stdio::piped());
    let mut sleeper = spawn(&mut command, "sleeper with stdin from us");
    sleeper.expect_ok();
    let before = rchar(sleeper.pid());
    write_all(sleeper.stdin.as_mut().expect("stdin"), b"some data\n");
    drop(sleeper.stdin.take());
    // Watching for something that must not happen: give it the quiet period to exit.
    assert_eq!(
        show(&sleeper.stdout.news_within_quiet_period()),
        "",
        "stdout after OK"
    );
    assert_eq!(
        sleeper.exited(),
        None,
        "the sleeper must not exit on EOF without a lifeline"
    );
    assert_asleep(sleeper.pid());
    assert_eq!(rchar(sleeper.pid()), before, "it never read its stdin");
}

#[test]
fn without_lifeline_eof_on_stdin_does_not_end_the_sleep() {
    if skip_unless_root("without_lifeline_eof_on_stdin_does_not_end_the_sleep") {
        return;
    }
    stays_asleep_after_stdin_eof(None);
}

#[test]
fn an_empty_lifeline_counts_as_none() {
    if skip_unless_root("an_empty_lifeline_counts_as_none") {
        return;
    }
    stays_asleep_after_stdin_eof(Some(""));
}

#[test]
fn control_with_lifeline_eof_on_stdin_ends_the_sleep() {
    if skip_unless_root("control_with_lifeline_eof_on_stdin_ends_the_sleep") {
        return;
    }
    let mut command = sleeper_with(&[
        ("sleepy_mntns", "/proc/self/ns/mnt"),
        ("sleepy_lifeline", "1"),
    ]);
    command.stdin(Stdio::piped());
    let mut sleeper = spawn(&mut command, "sleeper with a lifeline from us");
    sleeper.expect_ok();
    drop(sleeper.stdin.take());
    let status = sleeper.wait_exit_within(DEADLINE, "the sleeper to exit on lifeline EOF");
    assert_eq!(status.code(), Some(0), "status {status:?}");
}
