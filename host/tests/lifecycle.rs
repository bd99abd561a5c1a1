//! Sleepers come and go without leaks: many cycles, many threads at once, and sleepers killed
//! from outside.

mod common;

use common::{assert_no_leaks, child_pids, fd_count, serial, Container, WAIT};
use mntnssandbox_host::{Error, Sandbox};
use std::os::fd::AsRawFd;

const SETUP: &str = "mkdir etc && echo lifecycle > etc/hostname";

fn assert_works(sandbox: &Sandbox) {
    assert_eq!(
        sandbox
            .read("/etc/hostname")
            .expect("read through the sleeper"),
        b"lifecycle\n"
    );
}

#[test]
fn a_thousand_spawn_close_cycles() {
    let _serial = serial();
    let container = Container::new(SETUP);
    let builder = container.builder();
    assert_no_leaks("1000 cycles", || {
        for cycle in 0..1000 {
            let sandbox = builder
                .spawn()
                .unwrap_or_else(|error| panic!("cycle {cycle}: {error}"));
            if cycle % 100 == 0 {
                assert_works(&sandbox);
            }
            if cycle % 2 == 0 {
                sandbox
                    .close()
                    .unwrap_or_else(|error| panic!("cycle {cycle}: {error}"));
            } else {
                drop(sandbox);
            }
        }
    });
}

#[test]
fn thirty_two_threads_at_once() {
    let _serial = serial();
    let container = Container::new(SETUP);
    let builder = container.builder();
    let barrier = std::sync::Barrier::new(32);
    assert_no_leaks("32 threads", || {
        let sandboxes: Vec<Sandbox> = std::thread::scope(|scope| {
            let spawned: Vec<_> = (0..32)
                .map(|_| {
                    scope.spawn(|| {
                        barrier.wait();
                        builder.spawn()
                    })
                })
                .collect();
            spawned
                .into_iter()
                .map(|thread| thread.join().expect("thread").expect("spawn from a thread"))
                .collect()
        });
        let mut pids: Vec<u32> = sandboxes.iter().filter_map(Sandbox::pid).collect();
        pids.sort_unstable();
        pids.dedup();
        assert_eq!(pids.len(), 32);
        // Shared between threads too.
        std::thread::scope(|scope| {
            for sandbox in &sandboxes {
                scope.spawn(move || assert_works(sandbox));
            }
        });
        for sandbox in sandboxes {
            sandbox.close().expect("close");
        }
    });
}

#[test]
fn a_sleeper_killed_from_outside() {
    let _serial = serial();
    let container = Container::new(SETUP);
    let (children_before, fds_before) = (child_pids(), fd_count());
    let sandbox = container.builder().spawn().expect("spawn");
    assert_works(&sandbox);
    let pid = sandbox.pid().expect("held by a sleeper");

    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .expect("kill -9 the sleeper");
    assert!(
        common::wait_readable(
            sandbox.pidfd().expect("held by a sleeper").as_raw_fd(),
            WAIT
        ),
        "sleeper {pid} did not die within {WAIT:?} of SIGKILL"
    );
    assert!(!sandbox.is_alive());

    let error = sandbox.read("/etc/hostname").unwrap_err();
    assert!(
        matches!(error, Error::SleeperGone { pid: gone } if gone == pid),
        "{error:?}"
    );
    assert_eq!(error.to_string(), format!("sleeper {pid} is gone"));
    let error = sandbox.read_dir("/").unwrap_err();
    assert!(matches!(error, Error::SleeperGone { .. }), "{error:?}");

    match sandbox.close() {
        Err(Error::SleeperDied { pid: died, status }) => {
            assert_eq!(died, pid);
            assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&status),
                Some(9)
            );
        }
        other => panic!("close should report the death, got {other:?}"),
    }
    assert_eq!(
        child_pids(),
        children_before,
        "the dead sleeper was not reaped"
    );
    assert_eq!(fd_count(), fds_before, "fds left open");
}

#[test]
fn without_a_lifeline_stdin_is_dev_null() {
    let _serial = serial();
    let container = Container::new(SETUP);
    assert_no_leaks("no lifeline", || {
        let sandbox = container.builder().lifeline(false).spawn().expect("spawn");
        assert_works(&sandbox);
        let stdin = std::fs::read_link(format!(
            "/proc/{}/fd/0",
            sandbox.pid().expect("held by a sleeper")
        ))
        .unwrap();
        assert_eq!(stdin, std::path::Path::new("/dev/null"));
        // The sleeper kept only 0, 1 and 2.
        let fds = std::fs::read_dir(format!(
            "/proc/{}/fd",
            sandbox.pid().expect("held by a sleeper")
        ))
        .unwrap()
        .count();
        assert_eq!(fds, 3);
        sandbox.close().expect("close");
    });
}

#[test]
fn the_sleeper_gets_only_its_own_environment() {
    let _serial = serial();
    let container = Container::new(SETUP);
    let sandbox = container.builder().spawn().expect("spawn");
    let environ = std::fs::read(format!(
        "/proc/{}/environ",
        sandbox.pid().expect("held by a sleeper")
    ))
    .unwrap();
    let mut vars: Vec<&[u8]> = environ
        .split(|&b| b == 0)
        .filter(|v| !v.is_empty())
        .collect();
    vars.sort_unstable();
    let mntns = format!("sleepy_mntns=/proc/{}/ns/mnt", container.pid());
    let mut want = vec![b"sleepy_lifeline=1".as_slice(), mntns.as_bytes()];
    let userns = format!("sleepy_userns=/proc/{}/ns/user", container.pid());
    if container.in_user_ns() {
        want.push(userns.as_bytes());
    }
    want.sort_unstable();
    assert_eq!(vars, want);
    sandbox.close().expect("close");
}
