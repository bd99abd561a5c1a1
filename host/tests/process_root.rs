//! References that name a process are read through that process's root (`/proc/<pid>/root`):
//! no thread, no sleeper, and what that process sees as `/`, its chroot included. A namespace
//! file of another form reads the namespace's root. Chained references reach a namespace
//! file that exists only inside another namespace.

mod common;

use common::{child_pids, Container, TempDir, WAIT};
use mntnssandbox_host::{Builder, Error, NamespaceRef, Way};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn a_pid_is_read_through_its_root_without_thread_or_sleeper() {
    let _serial = common::serial();
    let container = Container::new("echo by-pid > file");
    let children = child_pids();
    for reference in [
        NamespaceRef::Pid(container.pid()),
        NamespaceRef::Path(format!("/proc/{}/ns/mnt", container.pid()).into()),
    ] {
        let sandbox = Builder::new(reference.clone())
            .spawn()
            .expect("open by PID");
        assert_eq!(sandbox.way(), Way::ProcessRoot, "{reference}");
        assert_eq!(sandbox.read("/file").expect("read"), b"by-pid\n");
        assert!(
            format!("{sandbox:?}").contains("way: ProcessRoot"),
            "{sandbox:?}"
        );
        // It outlives nothing it needs: its namespace is held by a descriptor.
        assert_eq!(sandbox.pid(), None);
    }
    assert_eq!(child_pids(), children, "a process was spawned");
}

/// This test binary, run again for `scenario`, with stdin and stdout piped, once it said
/// `ready`; the rest of its stdout is drained by a thread, so that it can finish.
fn start_scenario(scenario: &str, env: (&str, &str)) -> std::process::Child {
    let mut child = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([
            "--ignored",
            "--exact",
            "--nocapture",
            "--test-threads=1",
            scenario,
        ])
        .env(env.0, env.1)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the scenario");
    let stdout = child.stdout.take().expect("piped");
    let fd = std::os::fd::AsRawFd::as_raw_fd(&stdout);
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    // libtest prints the test's name first, on the same line.
    while !line.ends_with("ready\n") {
        line.clear();
        let buffered = !reader.buffer().is_empty();
        assert!(
            buffered || common::wait_readable(fd, WAIT),
            "no ready from {scenario} within {WAIT:?}"
        );
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "{scenario} ended"
        );
    }
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    child
}

const DECOY_ENV: &str = "PROCESS_ROOT_DECOY";

#[test]
fn a_chrooted_process_is_read_through_its_own_root() {
    require_root!("a_chrooted_process_is_read_through_its_own_root");
    let _serial = common::serial();
    let decoy = TempDir::new("decoy");
    std::fs::create_dir(decoy.path().join("etc")).expect("mkdir etc");
    std::fs::write(decoy.path().join("etc/hostname"), "the decoy's\n").expect("write");
    let mut child = start_scenario(
        "scenario_chrooted",
        (DECOY_ENV, decoy.path().to_str().expect("UTF-8")),
    );
    let pid = child.id();
    let by_pid = Builder::new(NamespaceRef::Pid(pid))
        .spawn()
        .expect("by PID");
    assert_eq!(by_pid.way(), Way::ProcessRoot);
    assert_eq!(
        by_pid.read("/etc/hostname").expect("read"),
        b"the decoy's\n"
    );
    // Entered instead, the namespace's root: the host's own.
    let entered = Builder::new(NamespaceRef::Pid(pid))
        .process_root(false)
        .spawn()
        .expect("entered");
    assert_eq!(entered.way(), Way::Thread);
    assert_eq!(
        entered.read("/etc/hostname").expect("read"),
        std::fs::read("/etc/hostname").expect("the host's")
    );
    drop(child.stdin.take());
    assert!(
        common::wait_exit(&mut child, WAIT),
        "the scenario did not end"
    );
}

#[test]
#[ignore = "run by a_chrooted_process_is_read_through_its_own_root"]
fn scenario_chrooted() {
    let decoy = std::env::var(DECOY_ENV).expect("run by its driver test");
    std::os::unix::fs::chroot(decoy).expect("chroot");
    std::env::set_current_dir("/").expect("cd /");
    println!("ready");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

/// A holder whose own root is not its namespace's: a tmpfs is moved over `/` (so the
/// namespace's root, the one setns(2) gives, is the tmpfs) while the holder keeps the old root.
fn moved_root_holder() -> std::process::Child {
    let mut holder = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(
            "set -eu; d=$(mktemp -d); mount -n -t tmpfs moved \"$d\"; \
             echo namespace-root > \"$d/marker\"; cd /; mount -n --move \"$d\" /; \
             echo ready; read _ || true",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("unshare");
    let stdout = holder.stdout.take().expect("piped");
    assert!(
        common::wait_readable(std::os::fd::AsRawFd::as_raw_fd(&stdout), WAIT),
        "no ready from the holder within {WAIT:?}"
    );
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    assert_eq!(line, "ready\n");
    holder
}

#[test]
fn a_bind_mounted_namespace_file_is_read_through_the_namespaces_root() {
    require_root!("a_bind_mounted_namespace_file_is_read_through_the_namespaces_root");
    let _serial = common::serial();
    let mut holder = moved_root_holder();
    let file = common::BoundNamespace::new(&format!("/proc/{}/ns/mnt", holder.id()));
    let bound = Builder::new(NamespaceRef::Path(file.path().to_owned()))
        .spawn()
        .expect("bound");
    assert_ne!(bound.way(), Way::ProcessRoot);
    assert_eq!(
        bound.read("/marker").expect("the namespace's root"),
        b"namespace-root\n"
    );
    let by_pid = Builder::new(NamespaceRef::Pid(holder.id()))
        .spawn()
        .expect("by PID");
    assert_eq!(by_pid.way(), Way::ProcessRoot);
    assert!(
        matches!(by_pid.read("/marker"), Err(Error::Access { .. })),
        "the holder's own root has no marker"
    );
    drop((bound, by_pid, file));
    drop(holder.stdin.take());
    assert!(
        common::wait_exit(&mut holder, WAIT),
        "the holder did not end"
    );
}

#[test]
fn within_reaches_a_namespace_file_that_exists_only_inside_another_namespace() {
    require_root!("within_reaches_a_namespace_file_that_exists_only_inside_another_namespace");
    let _serial = common::serial();
    let nested = common::Nested::new();
    let outer = &nested.outer;
    let inside = |name: &str| nested.inside(name);
    assert_eq!(
        std::fs::read_dir(nested.only_inside.path())
            .expect("ls")
            .count(),
        0,
        "seen here"
    );
    let within = |path: &str| {
        Builder::new(NamespaceRef::Path(path.into()))
            .within(NamespaceRef::Pid(outer.pid()))
            .spawn()
    };
    for path in [
        inside("inner"),
        inside("link"),
        nested.inside("../ns/inner"),
    ] {
        let sandbox = within(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
        let file = nested.inner_file();
        assert_eq!(sandbox.read(&file).expect("read"), b"inner\n", "{path}");
    }
    // The rules of file reads: no magic link, nothing but a mount namespace file.
    for path in [inside("magic"), "/proc/self/ns/mnt".to_owned()] {
        match within(&path) {
            Err(Error::Access { source, .. }) => {
                assert_eq!(source.raw_os_error(), Some(libc::ELOOP), "{path}")
            }
            other => panic!("{path}, a magic link: {other:?}"),
        }
    }
    for (path, found) in [
        (inside("fifo"), "a FIFO"),
        (inside("user"), "a user namespace"),
    ] {
        match within(&path) {
            Err(Error::NotANamespace { found: f, .. }) if f == found => {}
            other => panic!("{path}: expected {found}, got {other:?}"),
        }
    }
    // Two hops: the inner namespace, found through the outer, then the same path again,
    // resolved inside the inner (made from the outer, it has the file, but not the bind).
    let chained = Builder::new(NamespaceRef::Path(inside("inner").into()))
        .within(NamespaceRef::Pid(outer.pid()))
        .within(NamespaceRef::Path(inside("inner").into()));
    match chained.spawn() {
        Err(Error::NotANamespace { path, found, .. }) => {
            assert_eq!(path.display().to_string(), inside("inner"));
            assert_eq!(found, "a regular file");
        }
        other => panic!("the second hop is resolved inside the first: {other:?}"),
    }
}
