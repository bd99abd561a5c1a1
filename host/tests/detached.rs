//! Sandboxes held by descriptors: they outlive every process of their namespace (mounts made
//! later included), the thread that enters never moves its caller, an unprivileged host falls
//! back to a sleeper that it then lets go, and nothing is left behind over thousands of cycles.

mod common;

use common::{as_user, assert_no_leaks, child_pids, serial, sleeper, Container, NOBODY, WAIT};
use mntnssandbox_host::{Builder, Error, Hold, NamespaceRef, Sandbox, Way};
use std::path::PathBuf;
use std::process::Command;

const SETUP: &str = "mkdir etc && echo detached > etc/hostname";

/// Every child of ours that is not in `before` (a sleeper let go, reaped off our path) exits,
/// bounded.
fn assert_sleepers_go(before: &[u32], what: &str) {
    for pid in child_pids().into_iter().filter(|pid| !before.contains(pid)) {
        assert!(common::wait_gone(pid, WAIT), "{what}: process {pid} stayed");
    }
}

fn assert_fd_held(sandbox: &Sandbox) {
    assert_eq!(sandbox.hold(), Hold::Fds);
    assert_eq!(sandbox.pid(), None);
    assert!(sandbox.is_alive());
    assert_eq!(
        sandbox.read("/etc/hostname").expect("read /etc/hostname"),
        b"detached\n"
    );
}

/// Mounts a tmpfs at `/late` in the holder's mount namespace, with a file in it, from a
/// thread of ours that enters the namespace (the container has no programs to run).
fn mount_late(holder: u32) {
    let namespace = std::fs::File::open(format!("/proc/{holder}/ns/mnt")).expect("open the ns");
    std::thread::spawn(move || {
        use std::os::fd::AsRawFd;
        // SAFETY: plain system calls on this thread's own file-system context and namespace
        // (a thread that ends right after), with valid NUL-terminated strings.
        unsafe {
            assert_eq!(libc::unshare(libc::CLONE_FS), 0, "unshare CLONE_FS");
            assert_eq!(
                libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNS),
                0,
                "setns"
            );
            assert_eq!(libc::mkdir(c"/late".as_ptr(), 0o755), 0, "mkdir /late");
            let tmpfs = c"tmpfs".as_ptr();
            let mounted = libc::mount(tmpfs, c"/late".as_ptr(), tmpfs, 0, std::ptr::null());
            assert_eq!(mounted, 0, "mount a tmpfs at /late");
        }
        std::fs::write("/late/file", "late\n").expect("write /late/file");
    })
    .join()
    .expect("the mounting thread");
}

#[test]
fn an_fd_held_sandbox_outlives_every_process_of_its_namespace() {
    require_root!("an_fd_held_sandbox_outlives_every_process_of_its_namespace");
    let _serial = serial();
    for (how, threads) in [("thread", true), ("sleeper let go", false)] {
        let container = Container::new(SETUP);
        let holder = container.pid();
        let children = child_pids();
        let sandbox = container
            .fd_builder()
            .threads(threads)
            .spawn()
            .unwrap_or_else(|error| panic!("{how}: {error}"));
        assert_fd_held(&sandbox);
        assert_sleepers_go(&children, how);

        // A mount made after the sandbox was taken, then the namespace's last process goes.
        mount_late(holder);
        drop(container);
        assert!(common::wait_gone(holder, WAIT), "{how}: the holder stayed");
        assert!(!PathBuf::from(format!("/proc/{holder}")).exists());

        assert_fd_held(&sandbox);
        assert_eq!(
            sandbox.read("/late/file").expect("read the late mount"),
            b"late\n",
            "{how}"
        );
        sandbox.close().expect("close");
    }
}

/// The mount namespace of a thread, as its `/proc/thread-self/ns/mnt` names it.
fn thread_namespace() -> PathBuf {
    std::fs::read_link("/proc/thread-self/ns/mnt").expect("read our thread's namespace")
}

#[test]
fn the_thread_path_never_moves_its_caller() {
    require_root!("the_thread_path_never_moves_its_caller");
    let _serial = serial();
    let container = Container::new(SETUP);
    let target = std::fs::read_link(format!("/proc/{}/ns/mnt", container.pid())).unwrap();
    let ours = thread_namespace();
    assert_ne!(ours, target);

    // Another thread watches its own namespace while the sandboxes are opened.
    let (opened, watch) = std::sync::mpsc::channel::<()>();
    let (seen, report) = std::sync::mpsc::channel();
    let watcher = std::thread::spawn(move || {
        while watch.recv().is_ok() {
            seen.send(thread_namespace()).expect("report");
        }
    });
    let children = child_pids();
    for _ in 0..50 {
        let sandbox = container.fd_builder().spawn().expect("spawn");
        assert_fd_held(&sandbox);
        assert_eq!(thread_namespace(), ours, "the calling thread moved");
        opened.send(()).expect("ask the watcher");
        let other = report.recv_timeout(WAIT).expect("the watcher's namespace");
        assert_eq!(other, ours, "another thread moved");
        // Every thread, the one that entered included: none stays in the container's.
        for task in std::fs::read_dir("/proc/self/task").expect("list our threads") {
            let task = task.expect("a thread").path();
            if let Ok(namespace) = std::fs::read_link(task.join("ns/mnt")) {
                assert_eq!(
                    namespace,
                    ours,
                    "thread {} stayed in {target:?}",
                    task.display()
                );
            }
        }
    }
    assert_eq!(child_pids(), children, "the thread path spawned a process");
    drop(opened);
    watcher.join().expect("watcher");
}

/// Tells the unprivileged scenario which container to enter.
const HOLDER_ENV: &str = "DETACHED_TEST_HOLDER";

#[test]
fn an_unprivileged_host_falls_back_to_a_sleeper_it_lets_go() {
    require_root!("an_unprivileged_host_falls_back_to_a_sleeper_it_lets_go");
    let _serial = serial();
    // Nobody's rootless container, entered by nobody: no thread may setns there.
    let container = Container::as_user(SETUP, NOBODY);
    let mut command = Command::new("setpriv");
    command
        .args(as_user(NOBODY))
        .arg(std::env::current_exe().expect("the test binary's path"))
        .args(["--ignored", "--exact", "--nocapture", "--test-threads=1"])
        .arg("scenario_unprivileged_fallback")
        .env(HOLDER_ENV, container.pid().to_string())
        .env("MNTNSSANDBOX_TEST_BINARY", sleeper());
    let (status, out, err) = common::run(command);
    assert!(
        status.success() && out.contains("1 passed"),
        "scenario failed ({status}):\n{out}\n{err}"
    );
}

#[test]
#[ignore = "run by an_unprivileged_host_falls_back_to_a_sleeper_it_lets_go, as nobody"]
fn scenario_unprivileged_fallback() {
    let holder: u32 = std::env::var(HOLDER_ENV)
        .ok()
        .and_then(|pid| pid.parse().ok())
        .expect("run by its driver test");
    assert!(!common::is_root());
    let builder = Builder::new(NamespaceRef::Pid(holder)).sleeper(sleeper());
    assert_no_leaks("a sleeper let go", || {
        let sandbox = builder
            .clone()
            .user_namespace(NamespaceRef::Pid(holder))
            .spawn()
            .expect("spawn through the user namespace");
        assert_fd_held(&sandbox);
        sandbox.close().expect("close");
    });

    // By its PID, nobody reads its own container through the holder's root: no sleeper.
    assert_no_leaks("through the process's root", || {
        let sandbox = builder.spawn().expect("open through /proc/<pid>/root");
        assert_eq!(sandbox.way(), Way::ProcessRoot);
        assert_fd_held(&sandbox);
    });

    // Entered instead, without the user namespace, the thread is refused, and so is the
    // sleeper, which says why.
    let builder = builder.process_root(false);
    match assert_no_leaks("refused", || builder.spawn()) {
        Err(Error::NamespaceRefused { message, .. }) => {
            assert!(
                message.contains("EPERM") || message.contains("not permitted"),
                "{message}"
            )
        }
        other => panic!("want the sleeper's refusal, got {other:?}"),
    }
}

#[test]
fn nothing_is_left_behind_over_thousands_of_cycles() {
    let _serial = serial();
    let container = Container::new(SETUP);
    for (how, threads, cycles) in [("thread", true, 3000), ("sleeper let go", false, 1000)] {
        let builder = container.fd_builder().threads(threads);
        assert_no_leaks(how, || {
            for cycle in 0..cycles {
                let sandbox = builder
                    .spawn()
                    .unwrap_or_else(|error| panic!("{how}, cycle {cycle}: {error}"));
                if cycle % 100 == 0 {
                    assert_fd_held(&sandbox);
                }
                if cycle % 2 == 0 {
                    sandbox.close().expect("close");
                }
            }
        });
    }
}

#[test]
fn a_sleeper_held_sandbox_detaches() {
    let _serial = serial();
    let container = Container::new(SETUP);
    let children = child_pids();
    let sandbox = container.builder().spawn().expect("spawn");
    let pid = sandbox.pid().expect("held by a sleeper");
    let sandbox = sandbox.detach().expect("detach");
    assert_fd_held(&sandbox);
    assert!(common::wait_gone(pid, WAIT), "sleeper {pid} stayed");
    sandbox.close().expect("close");
    // Reaped by the time the sandbox is closed, if not before.
    assert_eq!(child_pids(), children);
}
