//! A privileged host asked to join a rootless container's user namespace does not: its
//! sleeper keeps the host's credentials, out of reach of the container's root.

mod common;

use common::{run, Container};
use std::process::Command;

const NOBODY: u32 = 65534;

fn namespace_of(pid: &str, kind: &str) -> std::path::PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).expect("read a namespace link")
}

#[test]
fn a_root_host_leaves_the_containers_user_namespace_alone() {
    require_root!("a_root_host_leaves_the_containers_user_namespace_alone");
    // A rootless container: user and mount namespaces of nobody's.
    let container = Container::as_user("echo rootless > file", NOBODY);
    assert!(container.in_user_ns());
    let holder = container.pid().to_string();
    let sandbox = container
        .builder()
        .spawn()
        .expect("spawn with a user namespace reference");
    assert_eq!(sandbox.read("/file").expect("read"), b"rootless\n");
    let sleeper = sandbox.pid().expect("held by a sleeper").to_string();

    assert_eq!(
        namespace_of(&sleeper, "user"),
        namespace_of("self", "user"),
        "the sleeper joined the container's user namespace"
    );
    assert_ne!(namespace_of(&holder, "user"), namespace_of("self", "user"));
    assert_eq!(namespace_of(&sleeper, "mnt"), namespace_of(&holder, "mnt"));

    // The container's root (all capabilities in its user namespace) tries to kill it.
    let mut kill = Command::new("nsenter");
    kill.args(["--target", &holder, "--user", "--", "sh", "-c"])
        .arg(format!("kill -KILL {sleeper}"));
    let (status, _, err) = run(kill);
    assert!(!status.success(), "the container killed the sleeper");
    assert!(err.contains("not permitted"), "{err}");
    assert!(sandbox.is_alive(), "the sleeper is gone");
    sandbox.close().expect("close");
}
