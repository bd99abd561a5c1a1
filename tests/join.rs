//! Joining namespaces successfully: the handshake, the namespace really entered, the files
//! visible through /proc/<pid>/root, the sleep, the fds left open.

mod common;

use common::*;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

#[test]
fn joins_the_holders_mount_namespace_says_ok_once_and_sleeps() {
    if skip_unless_root("joins_the_holders_mount_namespace_says_ok_once_and_sleeps") {
        return;
    }
    let holder = mount_holder();
    let mntns = holder.ns_path("mnt");
    let mut sleeper = spawn(&mut sleeper_with(&[("sleepy_mntns", &mntns)]), "sleeper");
    sleeper.expect_ok();

    // Nothing after the handshake, on either stream, and no exit.
    assert_eq!(
        show(&sleeper.stdout.news_within_quiet_period()),
        "",
        "stdout after OK"
    );
    assert_eq!(show(&sleeper.stderr.bytes), "", "stderr on success");
    assert_eq!(
        show(&sleeper.stderr.news_within_quiet_period()),
        "",
        "stderr on success"
    );
    assert_eq!(
        sleeper.exited(),
        None,
        "the sleeper must keep running after OK"
    );

    // It is in the holder's mount namespace, not ours.
    let pid = sleeper.pid();
    let holders = ns_link(holder.pid(), "mnt");
    assert_ne!(
        holders,
        ns_link("self", "mnt"),
        "the holder must have a mount namespace of its own"
    );
    assert_eq!(
        ns_link(pid, "mnt"),
        holders,
        "the sleeper's mount namespace"
    );

    // The holder's tmpfs is visible through the sleeper's root.
    let marker = std::fs::read_to_string(format!("/proc/{pid}/root/mnt/marker"))
        .expect("read the marker through /proc/<sleeper>/root");
    assert_eq!(marker, "hello\n");

    assert_eq!(open_fds(pid), [0, 1, 2], "fds held by the sleeper");
    assert_asleep(pid);
    assert_eq!(sleeper.exited(), None, "still alive after all the checks");
}

#[test]
fn closes_inherited_fds_after_joining() {
    if skip_unless_root("closes_inherited_fds_after_joining") {
        return;
    }
    // Control: the fd really is inherited by an exec'd program.
    let (_control_reader, control_writer) = cloexec_pipe();
    let mut ls = Command::new("ls");
    ls.arg("/proc/self/fd").stdout(Stdio::piped());
    inherit_fd_as(&mut ls, &control_writer, 5);
    let listing = ls.output().expect("run ls /proc/self/fd");
    assert!(
        show(&listing.stdout).lines().any(|fd| fd == "5"),
        "control: fd 5 must be inherited, ls saw {:?}",
        show(&listing.stdout)
    );

    // The sleeper gets the only other copy of our pipe's write end as fd 5: once we closed
    // ours, we see EOF when the sleeper has closed fd 5.
    let (reader, writer) = cloexec_pipe();
    let mut command = sleeper_with(&[("sleepy_mntns", "/proc/self/ns/mnt")]);
    inherit_fd_as(&mut command, &writer, 5);
    let mut sleeper = spawn(&mut command, "sleeper with an inherited fd 5");
    drop(command);
    drop(writer);
    sleeper.expect_ok();
    assert_eq!(
        open_fds(sleeper.pid()),
        [0, 1, 2],
        "fds held by the sleeper after OK"
    );
    let mut pipe = Stream::new(reader, "our pipe whose write end only the sleeper had");
    assert_eq!(
        show(pipe.wait_for_eof()),
        "",
        "nothing is written to the inherited fd"
    );
    assert_eq!(sleeper.exited(), None, "the sleeper keeps running");
}

#[test]
fn keeps_no_namespace_fd_when_started_with_stdin_closed() {
    if skip_unless_root("keeps_no_namespace_fd_when_started_with_stdin_closed") {
        return;
    }
    // With fd 0 free, open(2) hands out 0 for the namespace: it must not stay open there.
    let holder = mount_holder();
    let mut command = sleeper_with(&[("sleepy_mntns", &holder.ns_path("mnt"))]);
    close_in_child(&mut command, 0);
    let mut sleeper = spawn(&mut command, "sleeper with stdin closed");
    sleeper.expect_ok();
    let pid = sleeper.pid();
    let targets: Vec<String> = open_fds(pid)
        .iter()
        .map(|fd| {
            let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}"));
            format!(
                "{fd} -> {}",
                link.map(|l| l.display().to_string()).unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        open_fds(pid),
        [1, 2],
        "fds held by the sleeper started without stdin: {targets:?}"
    );
}

#[test]
fn the_first_sleepy_mntns_in_the_environment_wins() {
    if skip_unless_root("the_first_sleepy_mntns_in_the_environment_wins") {
        return;
    }
    let holder = mount_holder();
    let good = format!("sleepy_mntns={}", holder.ns_path("mnt"));
    let bad = "sleepy_mntns=/nonexistent/second";
    let entries: [&[u8]; 2] = [good.as_bytes(), bad.as_bytes()];
    let mut command = sleeper_with(&[]);
    with_raw_environment(&mut command, &entries);
    let mut sleeper = spawn(&mut command, "sleeper with two sleepy_mntns entries");
    sleeper.expect_ok();
    let pid = sleeper.pid();

    // Both entries really reached it, in this order.
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("read environ");
    assert_eq!(
        show(&environ),
        format!("{good}\0{bad}\0"),
        "the sleeper's environment"
    );
    assert_eq!(
        ns_link(pid, "mnt"),
        ns_link(holder.pid(), "mnt"),
        "joined the first one"
    );
    assert_eq!(
        show(&sleeper.stderr.news_within_quiet_period()),
        "",
        "stderr"
    );
}

#[test]
fn an_empty_sleepy_userns_is_ignored() {
    if skip_unless_root("an_empty_sleepy_userns_is_ignored") {
        return;
    }
    let holder = mount_holder();
    let mut command = sleeper_with(&[
        ("sleepy_userns", ""),
        ("sleepy_mntns", &holder.ns_path("mnt")),
    ]);
    let mut sleeper = spawn(&mut command, "sleeper with empty sleepy_userns");
    sleeper.expect_ok();
    assert_eq!(ns_link(sleeper.pid(), "mnt"), ns_link(holder.pid(), "mnt"));
    assert_eq!(
        ns_link(sleeper.pid(), "user"),
        ns_link("self", "user"),
        "user namespace unchanged"
    );
}

#[test]
fn unprivileged_sleeper_joins_user_then_mount_namespace_of_unprivileged_holder() {
    if skip_unless_root(
        "unprivileged_sleeper_joins_user_then_mount_namespace_of_unprivileged_holder",
    ) {
        return;
    }
    let holder = unprivileged_userns_holder();
    let userns = holder.ns_path("user");
    let mntns = holder.ns_path("mnt");

    // Control: without the user namespace, nobody may not join that mount namespace.
    let mut command = sleeper_with(&[("sleepy_mntns", &mntns)]);
    command.uid(NOBODY).gid(NOBODY);
    run_to_end(&mut command, "unprivileged sleeper without sleepy_userns")
        .assert_failure(&cannot_join("mount", &mntns, EPERM));

    let mut command = sleeper_with(&[("sleepy_userns", &userns), ("sleepy_mntns", &mntns)]);
    command.uid(NOBODY).gid(NOBODY);
    let mut sleeper = spawn(&mut command, "unprivileged sleeper");
    sleeper.expect_ok();
    let pid = sleeper.pid();
    assert_eq!(
        proc_field(pid, "status", "Uid").split_whitespace().next(),
        Some("65534"),
        "the sleeper runs as nobody"
    );
    assert_ne!(
        ns_link(holder.pid(), "user"),
        ns_link("self", "user"),
        "holder has its own userns"
    );
    assert_eq!(
        ns_link(pid, "user"),
        ns_link(holder.pid(), "user"),
        "user namespace"
    );
    assert_eq!(
        ns_link(pid, "mnt"),
        ns_link(holder.pid(), "mnt"),
        "mount namespace"
    );
    let marker = std::fs::read_to_string(format!("/proc/{pid}/root/mnt/m"))
        .expect("read the marker through /proc/<sleeper>/root");
    assert_eq!(marker, "marker\n");
    assert_eq!(
        show(&sleeper.stdout.news_within_quiet_period()),
        "",
        "stdout after OK"
    );
    assert_asleep(pid);
}

#[test]
fn unprivileged_open_of_roots_holders_namespace_is_eacces() {
    if skip_unless_root("unprivileged_open_of_roots_holders_namespace_is_eacces") {
        return;
    }
    // Nobody may not open the namespace files of a process it could not ptrace.
    let holder = mount_holder();
    let mntns = holder.ns_path("mnt");
    let mut command = sleeper_with(&[("sleepy_mntns", &mntns)]);
    command.uid(NOBODY).gid(NOBODY);
    run_to_end(&mut command, "unprivileged sleeper")
        .assert_failure(&invalid_reference("mount", &mntns, EACCES));
}

#[test]
fn joining_the_mount_namespace_it_is_in_succeeds_without_privileges() {
    if skip_unless_root("joining_the_mount_namespace_it_is_in_succeeds_without_privileges") {
        return;
    }
    // setns(2) says EPERM (nobody lacks CAP_SYS_ADMIN), but the sleeper is already there.
    let mut command = sleeper_with(&[("sleepy_mntns", "/proc/self/ns/mnt")]);
    command.uid(NOBODY).gid(NOBODY);
    let mut sleeper = spawn(
        &mut command,
        "unprivileged sleeper in its own mount namespace",
    );
    sleeper.expect_ok();
    assert_eq!(ns_link(sleeper.pid(), "mnt"), ns_link("self", "mnt"));
    assert_asleep(sleeper.pid());
}

#[test]
fn joining_the_user_namespace_it_is_in_succeeds() {
    // setns(2) refuses the caller's own user namespace with EINVAL; the sleeper goes on.
    let mut sleeper = spawn(
        &mut sleeper_with(&[
            ("sleepy_userns", "/proc/self/ns/user"),
            ("sleepy_mntns", "/proc/self/ns/mnt"),
        ]),
        "sleeper told to join its own user namespace",
    );
    if !is_root() {
        // Unprivileged, the mount namespace is its own too: still OK.
        eprintln!("(not root: the mount namespace join is the own-namespace case as well)");
    }
    sleeper.expect_ok();
    assert_eq!(ns_link(sleeper.pid(), "user"), ns_link("self", "user"));
    assert_asleep(sleeper.pid());
}

#[test]
fn inside_a_user_namespace_joining_its_own_user_and_mount_namespaces_succeeds() {
    if skip_unless_root(
        "inside_a_user_namespace_joining_its_own_user_and_mount_namespaces_succeeds",
    ) {
        return;
    }
    // As `mntns --userns` run inside `podman unshare`: nobody's own user namespace (EINVAL)
    // and a mount namespace owned by the initial user namespace (EPERM), both already its own.
    let mut setpriv = Command::new("setpriv");
    setpriv
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .args(["unshare", "--user", "--map-root-user"]);
    let mut command = sleeper_through(
        setpriv,
        [
            ("sleepy_userns", "/proc/self/ns/user"),
            ("sleepy_mntns", "/proc/self/ns/mnt"),
        ],
    );
    let mut sleeper = spawn(&mut command, "sleeper inside a user namespace of nobody's");
    sleeper.expect_ok();
    assert_ne!(ns_link(sleeper.pid(), "user"), ns_link("self", "user"));
    assert_eq!(ns_link(sleeper.pid(), "mnt"), ns_link("self", "mnt"));
    assert_asleep(sleeper.pid());
}

#[test]
fn the_capability_sets_are_empty_after_ok() {
    if skip_unless_root("the_capability_sets_are_empty_after_ok") {
        return;
    }
    // Started by root with an ambient capability too, which the kernel drops with the
    // permitted and inheritable ones.
    let holder = mount_holder();
    let mut setpriv = Command::new("setpriv");
    setpriv.args(["--inh-caps", "+sys_admin", "--ambient-caps", "+sys_admin"]);
    let mut command = sleeper_through(setpriv, [("sleepy_mntns", holder.ns_path("mnt"))]);
    let mut sleeper = spawn(
        &mut command,
        "sleeper started by root with an ambient capability",
    );
    sleeper.expect_ok();
    let pid = sleeper.pid();
    for set in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(proc_field(pid, "status", set), "0000000000000000", "{set}");
    }
    // Still what a root host reads through.
    let marker = std::fs::read_to_string(format!("/proc/{pid}/root/mnt/marker"))
        .expect("read the marker through /proc/<sleeper>/root");
    assert_eq!(marker, "hello\n");
    assert_asleep(pid);
}

#[test]
fn write_ok_to_a_closed_stdout_is_ebadf() {
    if skip_unless_root("write_ok_to_a_closed_stdout_is_ebadf") {
        return;
    }
    let mut command = sleeper_with(&[("sleepy_mntns", "/proc/self/ns/mnt")]);
    close_in_child(&mut command, 1);
    run_to_end(&mut command, "sleeper with stdout closed")
        .assert_failure("package mntnssandbox: cannot write OK: Bad file descriptor");
}

#[test]
fn write_ok_to_a_pipe_without_reader_is_epipe_not_sigpipe() {
    if skip_unless_root("write_ok_to_a_pipe_without_reader_is_epipe_not_sigpipe") {
        return;
    }
    let mut command = sleeper_with(&[("sleepy_mntns", "/proc/self/ns/mnt")]);
    broken_pipe_as_stdout(&mut command);
    run_to_end(&mut command, "sleeper with a broken stdout pipe")
        .assert_failure("package mntnssandbox: cannot write OK: Broken pipe");
}
