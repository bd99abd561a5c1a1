//! A root host's sleeper is out of reach: started as uid 0, the sleeper makes itself not
//! dumpable before it says `OK`, so that only a process with CAP_SYS_PTRACE over it (its host)
//! reads its `/proc/<pid>/root` — not a root process without capabilities, not a container's
//! root. An unprivileged host's sleeper stays readable by that host. And what not dumpable
//! does not stop: a container's root can kill a sleeper that joined its user namespace.

mod common;

use common::*;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

/// A root process without any capability: setpriv, run by root with an empty bounding set,
/// execs its command as uid 0 with none (effective, permitted, inheritable, ambient).
fn root_without_capabilities() -> Command {
    let mut command = Command::new("setpriv");
    command.args(["--bounding-set=-all", "--inh-caps=-all", "--"]);
    command
}

/// The root of the container `holder`: its command runs in the holder's user and mount
/// namespaces as uid 0 there, with every capability in that user namespace and none outside.
fn containers_root(holder: &Holder) -> Command {
    let mut command = Command::new("nsenter");
    command
        .args(["--target", &holder.pid().to_string()])
        .args(["--user", "--mount", "--"]);
    command
}

/// Nobody: uid and gid 65534, no supplementary groups, no capabilities.
fn nobody() -> Command {
    let mut command = Command::new("setpriv");
    command.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
    command
}

/// Runs `command` with stdin from /dev/null to its end, bounded.
fn run(mut command: Command, what: &str) -> Outcome {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    spawn(&mut command, what).finish("a one-shot command must end at once")
}

/// `cat path` run through `runner` (one of the above): what it printed, or its stderr.
fn cat_as(mut runner: Command, who: &str, path: &str) -> Result<String, String> {
    runner.args(["cat", path]);
    let outcome = run(runner, &format!("cat {path} as {who}"));
    if outcome.status.success() {
        Ok(show(&outcome.stdout))
    } else {
        Err(show(&outcome.stderr))
    }
}

fn assert_permission_denied(result: Result<String, String>, who: &str, path: &str) {
    let denied = strerror(EACCES);
    match result {
        Err(stderr) => assert!(
            stderr.contains(&denied),
            "{who} reading {path}: expected {denied:?}, got {stderr:?}"
        ),
        Ok(content) => panic!("{who} read {path} ({content:?}): it must be out of reach"),
    }
}

/// The marker on a holder's tmpfs, through `/proc/<pid>/root`.
fn marker_through(pid: u32, file: &str) -> String {
    format!("/proc/{pid}/root/mnt/{file}")
}

/// Root: a holder in a new user namespace of root's where root is not uid 0 but 1000 (uid 0,
/// the container's root, is host uid 100000), and a new mount namespace owned by it, with
/// `marker` in /mnt/m on a tmpfs that the container's root mounted.
fn holder_where_root_is_uid_1000() -> Holder {
    let mut command = Command::new("unshare");
    command.args(["--user", "--mount", "sh", "-c", "echo ready && read _"]);
    let holder = Holder::start(command, "root's container where root is uid 1000");
    for map in ["uid_map", "gid_map"] {
        let path = format!("/proc/{}/{map}", holder.pid());
        std::fs::write(&path, "0 100000 1\n1000 0 1\n")
            .unwrap_or_else(|e| panic!("write {path}: {e}"));
    }
    // No new privileges: mount(8) is set-user-ID root, and root is uid 1000 in there.
    let script = "mount -t tmpfs none /mnt && echo marker > /mnt/m";
    let mut command = containers_root(&holder);
    command.args(["setpriv", "--no-new-privs", "--", "sh", "-c", script]);
    let mounted = run(command, "the container's root mounting its tmpfs");
    assert!(
        mounted.status.success(),
        "mount in the container: {:?}, {}",
        mounted.status,
        show(&mounted.stderr)
    );
    holder
}

#[test]
fn a_root_sleeper_is_out_of_reach_of_root_without_capabilities() {
    if skip_unless_root("a_root_sleeper_is_out_of_reach_of_root_without_capabilities") {
        return;
    }
    let holder = mount_holder();
    let mut command = sleeper_with(&[("sleepy_mntns", &holder.ns_path("mnt"))]);
    let mut sleeper = spawn(&mut command, "root's sleeper");
    sleeper.expect_ok();
    let marker = marker_through(sleeper.pid(), "marker");

    // The host, root with its capabilities (CAP_SYS_PTRACE among them), reads through it.
    let read = std::fs::read_to_string(&marker).expect("the host reads through the sleeper");
    assert_eq!(read, "hello\n", "{marker} read by the host");

    // Control: root without capabilities reads through the root of a process that is what
    // the sleeper is (uid 0, no capabilities, in the holder's mount namespace), but dumpable.
    let mut command = Command::new("nsenter");
    command
        .args(["--target", &holder.pid().to_string(), "--mount", "--"])
        .args(["setpriv", "--bounding-set=-all", "--inh-caps=-all"])
        .args(["sh", "-c", "echo ready && read _"]);
    let like_the_sleeper = Holder::start(command, "dumpable root without capabilities");
    let who = "root without capabilities";
    assert_eq!(
        cat_as(
            root_without_capabilities(),
            who,
            &marker_through(like_the_sleeper.pid(), "marker")
        ),
        Ok("hello\n".to_owned()),
        "control: {who} reads through a dumpable process of its uid"
    );

    assert_permission_denied(
        cat_as(root_without_capabilities(), who, &marker),
        who,
        &marker,
    );
    assert_asleep(sleeper.pid());
}

#[test]
fn a_root_sleeper_in_a_containers_user_namespace_is_out_of_reach_of_the_containers_root() {
    if skip_unless_root(
        "a_root_sleeper_in_a_containers_user_namespace_is_out_of_reach_of_the_containers_root",
    ) {
        return;
    }
    // Three containers, and the sleeper's uid in each: root's, where root is uid 0; root's,
    // where root is uid 1000 (so the sleeper must ask its uid before it joins); nobody's,
    // where root is not mapped (there the kernel already makes the joining sleeper not
    // dumpable: the user namespace it joins is another user's).
    let containers = [
        (root_userns_holder as fn() -> Holder, "0"),
        (holder_where_root_is_uid_1000, "1000"),
        (unprivileged_userns_holder, "65534"),
    ];
    for (start, uid_inside) in containers {
        let holder = start();
        let container = holder.process.what.clone();
        let mut command = sleeper_with(&[
            ("sleepy_userns", &holder.ns_path("user")),
            ("sleepy_mntns", &holder.ns_path("mnt")),
        ]);
        let mut sleeper = spawn(&mut command, &format!("root's sleeper in {container}"));
        sleeper.expect_ok();
        let status = format!("/proc/{}/status", sleeper.pid());
        let seen_inside = cat_as(containers_root(&holder), "the container's root", &status)
            .unwrap_or_else(|stderr| panic!("{container}: its root reads {status}: {stderr}"));
        assert!(
            seen_inside.contains(&format!("\nUid:\t{uid_inside}\t")),
            "{container}: the sleeper's uid in there must be {uid_inside}: {seen_inside}"
        );
        let marker = marker_through(sleeper.pid(), "m");

        let read = std::fs::read_to_string(&marker).expect("the host reads through the sleeper");
        assert_eq!(read, "marker\n", "{container}: {marker} read by the host");

        // Control: the container's root reads through the root of the container's process.
        let who = format!("the root of {container}");
        assert_eq!(
            cat_as(
                containers_root(&holder),
                &who,
                &marker_through(holder.pid(), "m")
            ),
            Ok("marker\n".to_owned()),
            "control: {who} reads through the holder's root"
        );

        assert_permission_denied(
            cat_as(containers_root(&holder), &who, &marker),
            &who,
            &marker,
        );
        assert_asleep(sleeper.pid());
    }
}

#[test]
fn an_unprivileged_sleeper_stays_readable_by_its_unprivileged_host() {
    if skip_unless_root("an_unprivileged_sleeper_stays_readable_by_its_unprivileged_host") {
        return;
    }
    let holder = unprivileged_userns_holder();
    let mut command = sleeper_through(
        nobody(),
        [
            ("sleepy_userns", holder.ns_path("user")),
            ("sleepy_mntns", holder.ns_path("mnt")),
        ],
    );
    let mut sleeper = spawn(&mut command, "nobody's sleeper in nobody's container");
    sleeper.expect_ok();
    let pid = sleeper.pid();
    assert_eq!(
        proc_field(pid, "status", "Uid").split_whitespace().next(),
        Some("65534"),
        "the sleeper runs as nobody"
    );
    let marker = marker_through(pid, "m");
    assert_eq!(
        cat_as(nobody(), "nobody", &marker),
        Ok("marker\n".to_owned()),
        "nobody, the sleeper's host, reads through its root"
    );
    assert_asleep(pid);
}

#[test]
fn the_containers_root_can_kill_a_root_sleeper_that_joined_its_user_namespace() {
    if skip_unless_root(
        "the_containers_root_can_kill_a_root_sleeper_that_joined_its_user_namespace",
    ) {
        return;
    }
    // Nobody's container: its root is uid 65534 on the host, so only CAP_KILL in the user
    // namespace the sleeper joined lets it kill root's sleeper. (It shares the host's PID
    // namespace here, so it can name the sleeper.)
    let holder = unprivileged_userns_holder();
    let mut command = sleeper_with(&[("sleepy_mntns", &holder.ns_path("mnt"))]);
    let mut outside = spawn(
        &mut command,
        "root's sleeper outside the container's userns",
    );
    outside.expect_ok();
    let mut command = sleeper_with(&[
        ("sleepy_userns", &holder.ns_path("user")),
        ("sleepy_mntns", &holder.ns_path("mnt")),
    ]);
    let mut inside = spawn(&mut command, "root's sleeper in the container's userns");
    inside.expect_ok();
    let kill = |pid: u32| {
        let mut command = containers_root(&holder);
        command.args(["kill", "-KILL", &pid.to_string()]);
        run(
            command,
            &format!("kill -KILL {pid} as the container's root"),
        )
    };

    // Control: a sleeper that did not join the container's user namespace is out of reach.
    let refused = kill(outside.pid());
    assert!(
        !refused.status.success() && show(&refused.stderr).contains(&strerror(EPERM)),
        "control: the container's root must not kill a sleeper outside its user namespace: \
         {:?}, {}",
        refused.status,
        show(&refused.stderr)
    );
    assert_eq!(outside.exited(), None, "the sleeper outside is still alive");

    let killed = kill(inside.pid());
    assert!(
        killed.status.success(),
        "the container's root kills the sleeper in its user namespace: {:?}, {}",
        killed.status,
        show(&killed.stderr)
    );
    let status = inside.wait_exit_within(DEADLINE, "the end of the sleeper it killed");
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
}
