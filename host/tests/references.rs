//! Namespace references are checked before anything is entered or spawned: a FIFO, a regular
//! file, a directory or a user namespace given as the mount namespace fails at once, with one
//! line, and nothing blocks. The entering thread blocks every signal, is waited for no longer
//! than the builder's timeout, and is replaced when it does not come back.

mod common;

use common::{assert_no_leaks, within_wait, TempDir, WAIT};
use mntnssandbox_host::{Builder, Error, NamespaceRef};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn refusal(reference: &str, user: Option<&str>) -> Error {
    let reference = reference.to_owned();
    let user = user.map(str::to_owned);
    within_wait(&format!("a sandbox on {reference}"), move || {
        let mut builder = Builder::new(NamespaceRef::Path(reference.into()))
            .sleeper(common::sleeper())
            .timeout(Duration::from_secs(1));
        if let Some(user) = user {
            builder = builder.user_namespace(NamespaceRef::Path(user.into()));
        }
        builder.spawn().expect_err("not a namespace")
    })
}

#[test]
fn references_that_are_not_namespaces_fail_at_once() {
    let _serial = common::serial();
    let dir = TempDir::new("references");
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let file = dir.write("file", "not a namespace\n", 0o644);
    let cases = [
        (fifo.display().to_string(), "a FIFO"),
        (file.display().to_string(), "a regular file"),
        (dir.path().display().to_string(), "a directory"),
        ("/proc/self/ns/user".to_owned(), "a user namespace"),
        ("/proc/self/ns/net".to_owned(), "a network namespace"),
        ("/proc/self/fd/0".to_owned(), ""),
    ];
    for (reference, found) in &cases {
        let started = Instant::now();
        let error = assert_no_leaks(reference, || refusal(reference, None));
        assert!(
            started.elapsed() < WAIT,
            "{reference}: took {:?}",
            started.elapsed()
        );
        if found.is_empty() {
            // stdin: /dev/null, a pipe or a terminal, whatever the harness gave.
            assert!(matches!(error, Error::NotANamespace { .. }), "{error}");
            continue;
        }
        assert!(
            matches!(&error, Error::NotANamespace { wanted: "mount", found: f, .. } if f == found),
            "{reference}: {error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "invalid mount namespace reference {reference:?}: {found}, not a mount namespace"
            )
        );
    }
}

/// The entering threads of this process now (one is kept for 200 ms after a request; one
/// abandoned may linger), by thread id.
fn entering_threads() -> Vec<u32> {
    let mut threads: Vec<u32> = std::fs::read_dir("/proc/self/task")
        .expect("list our threads")
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == "mntnssandbox-en")
        })
        .filter_map(|task| task.file_name().to_str()?.parse().ok())
        .collect();
    threads.sort();
    threads
}

#[test]
fn the_entering_thread_blocks_every_signal() {
    require_root!("the_entering_thread_blocks_every_signal");
    let _serial = common::serial();
    let sandbox = Builder::new(NamespaceRef::Path("/proc/self/ns/mnt".into()))
        .spawn()
        .expect("enter by a thread");
    let tid = entering_threads()[..]
        .first()
        .copied()
        .expect("the entering thread, kept for 200 ms after a request");
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))
        .expect("the thread's status");
    let blocked = status
        .lines()
        .find_map(|line| line.strip_prefix("SigBlk:"))
        .map(|mask| u64::from_str_radix(mask.trim(), 16).expect("a hexadecimal mask"))
        .expect("SigBlk");
    // All but what cannot be blocked (SIGKILL, SIGSTOP) and glibc's own two (32, 33), which
    // pthread_sigmask leaves out.
    let unblockable = [9, 19, 32, 33]
        .iter()
        .fold(0u64, |mask, sig| mask | 1 << (sig - 1));
    assert_eq!(blocked | unblockable, u64::MAX, "SigBlk {blocked:016x}");
    drop(sandbox);
}

/// This test binary, run again for `scenario`; its stdin and stdout piped.
fn scenario(name: &str) -> std::process::Child {
    Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "--ignored",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            name,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run the scenario")
}

#[test]
fn an_entering_thread_that_does_not_come_back_is_abandoned_and_replaced() {
    require_root!("an_entering_thread_that_does_not_come_back_is_abandoned_and_replaced");
    let mut child = scenario("scenario_enter_until_stdin_closes");
    let stdout = child.stdout.take().expect("piped");
    let (lines, from_child) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end whether or not anyone listens, so that the scenario can finish.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let next = |what: &str| -> String {
        loop {
            let line = from_child
                .recv_timeout(WAIT)
                .unwrap_or_else(|_| panic!("no {what} from the scenario within {WAIT:?}"));
            if line.starts_with("entered ") || line == "abandoned" {
                return line;
            }
        }
    };
    let first = next("entering thread")
        .strip_prefix("entered ")
        .map(str::to_owned);
    let tid: libc::pid_t = first
        .and_then(|tid| tid.parse().ok())
        .expect("one thread id");

    // Stop that one thread (and only it) as a kernel lock held for long would: ptrace.
    // SAFETY: plain ptrace requests on a thread of our child; no memory is passed.
    unsafe {
        assert_eq!(
            libc::ptrace(libc::PTRACE_SEIZE, tid, 0, 0),
            0,
            "PTRACE_SEIZE"
        );
        assert_eq!(
            libc::ptrace(libc::PTRACE_INTERRUPT, tid, 0, 0),
            0,
            "PTRACE_INTERRUPT"
        );
    }
    let deadline = Instant::now() + WAIT;
    loop {
        // SAFETY: waitpid with a valid status pointer.
        let stopped = unsafe { libc::waitpid(tid, &mut 0, libc::__WALL | libc::WNOHANG) };
        if stopped == tid {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "thread {tid} did not stop within {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // Requests now wait for it no longer than their timeout (1 s), then a new thread serves.
    let started = Instant::now();
    let mut outcome = next("outcome");
    while outcome == format!("entered {tid}") {
        outcome = next("outcome");
    }
    assert_eq!(outcome, "abandoned", "a request after the stop");
    assert!(
        started.elapsed() < WAIT,
        "abandoned after {:?}",
        started.elapsed()
    );
    // The stopped thread lingers beside the new one that served.
    let replaced = next("a new entering thread");
    assert_eq!(
        replaced.matches(' ').count(),
        2,
        "not two threads: {replaced}"
    );
    assert!(replaced.contains(&tid.to_string()), "{replaced}");

    // SAFETY: the tracee is stopped; detaching lets it run on (it finds no one waiting).
    unsafe { libc::ptrace(libc::PTRACE_DETACH, tid, 0, 0) };
    drop(child.stdin.take());
    let status = common::wait_exit_status(&mut child, WAIT).expect("the scenario ended");
    assert!(status.success(), "scenario: {status}");
}

#[test]
#[ignore = "run by an_entering_thread_that_does_not_come_back_is_abandoned_and_replaced"]
fn scenario_enter_until_stdin_closes() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    loop {
        match Builder::new(NamespaceRef::Path("/proc/self/ns/mnt".into()))
            .timeout(Duration::from_secs(1))
            .spawn()
        {
            Ok(sandbox) => {
                let threads: Vec<String> = entering_threads().iter().map(u32::to_string).collect();
                writeln!(out, "entered {}", threads.join(" ")).expect("stdout");
                drop(sandbox);
            }
            Err(Error::EnterTimeout { .. }) => writeln!(out, "abandoned").expect("stdout"),
            Err(other) => panic!("{other}"),
        }
        out.flush().expect("stdout");
        if common::wait_readable(
            std::os::fd::AsRawFd::as_raw_fd(&stdin),
            Duration::from_millis(20),
        ) {
            return;
        }
    }
}

/// A process in a PID namespace of its own that mounted no procfs for it sees its parent's
/// `/proc`, where `/proc/1` is someone else: a PID reference is refused there, not misread.
#[test]
fn a_procfs_of_another_pid_namespace_is_refused() {
    require_root!("a_procfs_of_another_pid_namespace_is_refused");
    let mut command = Command::new("unshare");
    command
        .args(["--pid", "--fork", "--kill-child"])
        .arg(std::env::current_exe().expect("the test binary's path"))
        .args(["--ignored", "--exact", "--nocapture", "--test-threads=1"])
        .arg("scenario_a_pid_in_a_foreign_procfs");
    let (status, out, err) = common::run(command);
    assert!(
        status.success() && out.contains("1 passed"),
        "scenario failed ({status}):\n{out}\n{err}"
    );
}

#[test]
#[ignore = "run by a_procfs_of_another_pid_namespace_is_refused in a PID namespace of its own"]
fn scenario_a_pid_in_a_foreign_procfs() {
    assert_eq!(
        std::process::id(),
        1,
        "not PID 1 of a PID namespace of its own"
    );
    let error = Builder::new(NamespaceRef::Pid(1))
        .spawn()
        .expect_err("PID 1 of the parent's procfs is not us");
    match &error {
        Error::ForeignProcfs { seen, pid: 1 } => {
            assert_ne!(seen, "1");
            assert_eq!(
                error.to_string(),
                format!(
                    "/proc belongs to another PID namespace (/proc/self is {seen:?}, this \
                     process is PID 1): a PID would name someone else; mount a procfs of this \
                     PID namespace"
                )
            );
        }
        other => panic!("expected ForeignProcfs, got {other:?}"),
    }
}
