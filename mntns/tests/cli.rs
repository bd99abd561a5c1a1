//! The `mntns` command: cat, ls, errors as one `mntns:` line, the demo, and unprivileged use.

#[path = "../../host/tests/common/mod.rs"]
mod common;

use common::{as_user, mntns, mntns_under_setpriv, run, Container, TempDir, NOBODY};
use std::process::Command;

const SETUP: &str = r#"
mkdir -p etc/empty srv
echo cli-container > etc/hostname
printf 'b\na\n' > srv/data
ln -s /etc/hostname link
"#;

#[test]
fn cat_and_ls() {
    let container = Container::new(SETUP);
    let pid = container.pid().to_string();

    let (status, out, err) = run(container.mntns(&["cat", &pid, "/link"]));
    assert!(status.success(), "{status}: {err}");
    assert_eq!(out, "cli-container\n");
    assert_eq!(err, "");

    // A namespace file works as well as a PID.
    let ns = format!("/proc/{pid}/ns/mnt");
    let (status, out, _) = run(container.mntns(&["cat", &ns, "/srv/data"]));
    assert!(status.success());
    assert_eq!(out, "b\na\n");

    let (status, out, err) = run(container.mntns(&["ls", &pid, "/"]));
    assert!(status.success(), "{status}: {err}");
    assert_eq!(out, "etc\nlink\nsrv\n");
    let (status, out, _) = run(container.mntns(&["ls", &pid, "/etc"]));
    assert!(status.success());
    assert_eq!(out, "empty\nhostname\n");
    let (status, out, _) = run(container.mntns(&["ls", &pid, "/etc/empty"]));
    assert!(status.success());
    assert_eq!(out, "");
}

/// Exit status 1 and exactly one line on stderr: `mntns: `, the path, why (the errno name).
fn assert_one_error_line(command: Command, path: &str, errno: &str) {
    let (status, out, err) = run(command);
    assert_eq!(status.code(), Some(1), "stderr: {err}");
    assert_eq!(out, "");
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.ends_with('\n'));
    assert!(err.starts_with("mntns: "), "{err:?}");
    assert!(err.contains(path), "no {path} in {err:?}");
    assert!(err.contains(errno), "no {errno} in {err:?}");
}

#[test]
fn errors_are_one_line_with_path_and_errno() {
    let container = Container::new(SETUP);
    let pid = container.pid().to_string();
    assert_one_error_line(
        container.mntns(&["cat", &pid, "/missing"]),
        "/missing",
        "ENOENT",
    );
    assert_one_error_line(
        container.mntns(&["cat", &pid, "/etc"]),
        "/etc",
        "not a regular file: a directory",
    );
    assert_one_error_line(
        container.mntns(&["ls", &pid, "/etc/hostname"]),
        "/etc/hostname",
        "ENOTDIR",
    );
    assert_one_error_line(
        container.mntns(&["cat", &pid, "/proc/self/root/etc/passwd"]),
        "/proc/self/root/etc/passwd",
        "ENOENT", // no /proc in this container
    );
    // A reference is checked before anything is spawned.
    let (status, _, err) = run(container.mntns(&["cat", "/nonexistent-ns", "/x"]));
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        err,
        "mntns: invalid mount namespace reference \"/nonexistent-ns\": ENOENT (2)\n"
    );
    // A missing sleeper, for `hold`, which always keeps one (cat and ls as root need none).
    let dir = TempDir::new("cli");
    let missing = dir.path().join("no-sleeper");
    let mut command = mntns();
    command.arg("--sleeper").arg(&missing).args(["hold", &pid]);
    let (status, _, err) = run(command);
    assert_eq!(status.code(), Some(1));
    assert_eq!(err, format!("mntns: sleeper {missing:?} not found\n"));
}

#[test]
fn demo_shows_the_naive_and_the_safe_read() {
    let mut command = mntns();
    command
        .env("MNTNSSANDBOX_BINARY", common::sleeper())
        .arg("demo");
    let (status, out, err) = run(command);
    assert!(status.success(), "demo failed: {status}\n{out}\n{err}");
    assert!(out.contains("\"demo-container\""), "{out}");
    assert!(out.contains("naive"), "{out}");
    assert!(out.contains("the HOST's /etc/hostname"), "{out}");
    assert!(out.contains("cleaned up: sleeper"), "{out}");
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|name| format!("{:?}", name.trim_end()))
        .unwrap_or_else(|_| "error ENOENT (2)".into());
    assert!(
        out.contains(&host),
        "the naive read should show the host's {host}: {out}"
    );
}

/// `mntns --sleeper <sleeper> <args>`, run as `uid` (and the same gid, no groups).
fn mntns_as(uid: u32, args: &[&str]) -> Command {
    mntns_under_setpriv(&as_user(uid), args)
}

#[test]
fn unprivileged_user_reads_its_own_container() {
    require_root!("unprivileged_user_reads_its_own_container");
    let container = Container::as_user("echo 'hello from nobody' > file", NOBODY);
    let pid = container.pid().to_string();
    let (status, out, err) = run(mntns_as(NOBODY, &["--userns", &pid, "cat", &pid, "/file"]));
    assert!(status.success(), "{status}: {err}");
    assert_eq!(out, "hello from nobody\n");

    // By its PID, nobody needs no user namespace and no sleeper: the holder's own root.
    let (status, out, err) = run(mntns_as(NOBODY, &["cat", &pid, "/file"]));
    assert!(status.success(), "{status}: {err}");
    assert_eq!(out, "hello from nobody\n");

    // Root's container is another matter: no access to its processes, no way in.
    let roots = Container::new("echo 'root only' > file");
    let pid = roots.pid().to_string();
    let (status, _, err) = run(mntns_as(NOBODY, &["cat", &pid, "/file"]));
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        err,
        format!("mntns: invalid mount namespace reference \"/proc/{pid}/ns/mnt\": EACCES (13)\n")
    );
}

/// `mntns` with `args` for the container, under `prlimit --nofile=SOFT:HARD`.
fn mntns_with_open_files(container: &Container, soft: u32, hard: u32, args: &[&str]) -> Command {
    let inner = container.mntns(args);
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile={soft}:{hard}"))
        .arg(inner.get_program())
        .args(inner.get_args());
    command
}

#[test]
fn the_open_files_limit_is_raised_when_needed_and_named_at_the_hard_limit() {
    let container = Container::new(SETUP);
    let pid = container.pid().to_string();
    // Six descriptors are too few for a sandbox and a read: the soft limit goes up to the hard.
    let (status, out, err) = run(mntns_with_open_files(
        &container,
        6,
        64,
        &["cat", &pid, "/link"],
    ));
    assert!(status.success(), "{status}: {err}");
    assert_eq!(out, "cli-container\n");
    // At the hard limit: one line that says so.
    let (status, out, err) = run(mntns_with_open_files(
        &container,
        5,
        5,
        &["cat", &pid, "/link"],
    ));
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(out, "");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(
        err.starts_with("mntns: ") && err.contains("EMFILE"),
        "{err:?}"
    );
}

/// The system calls that start a thread or a process, or enter a namespace, that `mntns`
/// made (strace -f), one per line.
fn clones_and_setns(args: &[&str]) -> Vec<String> {
    let dir = TempDir::new("strace");
    let log = dir.path().join("log");
    let mut command = Command::new("strace");
    command
        .args([
            "-f",
            "-qq",
            "-e",
            "trace=clone,clone3,fork,vfork,setns,unshare",
            "-o",
        ])
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_mntns"))
        .args(args);
    let (status, _, err) = run(command);
    assert!(status.success(), "strace mntns {args:?}: {err}");
    std::fs::read_to_string(&log)
        .expect("the strace log")
        .lines()
        .filter(|line| !line.contains("exited with") && !line.contains("killed by"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn cat_by_pid_makes_no_clone_and_no_setns() {
    require_root!("cat_by_pid_makes_no_clone_and_no_setns");
    if Command::new("strace").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "strace is missing, and $CI is set"
        );
        eprintln!("SKIPPED: cat_by_pid_makes_no_clone_and_no_setns needs strace");
        return;
    }
    let container = Container::new("echo by-pid > file");
    let pid = container.pid().to_string();
    assert_eq!(
        clones_and_setns(&["cat", &pid, "/file"]),
        Vec::<String>::new()
    );
    // The control: the same namespace named otherwise is entered, and strace sees it.
    let entered = format!("/proc/{pid}/ns/../ns/mnt");
    let calls = clones_and_setns(&["cat", &entered, "/file"]);
    assert!(
        calls.iter().any(|call| call.contains("setns(")),
        "{calls:?}"
    );
    assert!(calls.iter().any(|call| call.contains("clone")), "{calls:?}");
}

#[test]
fn in_reaches_a_namespace_file_that_exists_only_inside_another_namespace() {
    require_root!("in_reaches_a_namespace_file_that_exists_only_inside_another_namespace");
    let nested = common::Nested::new();
    let outer = nested.outer.pid().to_string();
    let inner = nested.inside("inner");
    let file = nested.inner_file();
    let (status, out, err) = run(mntns_in(&["--in", &outer, "cat", &inner, &file]));
    assert!(status.success(), "{status}: {err}");
    assert_eq!(out, "inner\n");
    // Not here: the file exists only inside the outer namespace.
    let (status, _, err) = run(mntns_in(&["cat", &inner, &file]));
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        err,
        format!("mntns: invalid mount namespace reference {inner:?}: ENOENT (2)\n")
    );
    // A FIFO there is refused at once, in one line.
    let fifo = nested.inside("fifo");
    let (status, _, err) = run(mntns_in(&["--in", &outer, "cat", &fifo, &file]));
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        err,
        format!(
            "mntns: invalid mount namespace reference {fifo:?}: a FIFO, not a mount namespace\n"
        )
    );
}

fn mntns_in(args: &[&str]) -> Command {
    let mut command = mntns();
    command.args(args);
    command
}
