//! lxkns' four failure lines, byte for byte, for ENOENT and EACCES (open) and EINVAL and
//! EPERM (setns), for the user and the mount namespace, as root and as an unprivileged user.
//! The expected lines are built from glibc's strerror, as lxkns' sleeper prints them.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

/// Who runs the sleeper: setpriv arguments in front of it.
#[derive(Clone, Copy, Debug)]
enum Who {
    Root,
    /// uid 0 with no capabilities at all (no DAC override: permissions apply).
    RootWithoutCapabilities,
    /// uid 0 without CAP_SYS_ADMIN.
    RootWithoutSysAdmin,
    Nobody,
}

impl Who {
    fn setpriv_args(self) -> &'static [&'static str] {
        match self {
            Who::Root => &[],
            Who::RootWithoutCapabilities => &["--bounding-set", "-all", "--inh-caps", "-all"],
            Who::RootWithoutSysAdmin => &["--bounding-set", "-sys_admin"],
            Who::Nobody => &["--reuid", "65534", "--regid", "65534", "--clear-groups"],
        }
    }
}

/// Runs the sleeper as `who` with exactly `env` and expects exactly `line`.
fn expect_line(who: Who, env: &[(&str, &str)], line: &str) {
    let mut setpriv = Command::new("setpriv");
    setpriv.args(who.setpriv_args()).arg("--");
    let mut command = sleeper_through(setpriv, env.iter().copied());
    run_to_end(&mut command, &format!("sleeper as {who:?}")).assert_failure(line);
}

/// A directory only nobody may enter, with a file in it: open(2) of the file is EACCES for
/// anyone without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH, root included.
struct Locked(PathBuf);

impl Locked {
    fn new(owner: u32) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "mntnssandbox-locked-{}-{owner}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create the locked dir");
        std::fs::write(dir.join("ns"), "").expect("create a file in it");
        std::os::unix::fs::chown(&dir, Some(owner), Some(owner)).expect("chown the locked dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod 0700");
        Locked(dir)
    }

    fn file(&self) -> String {
        self.0.join("ns").to_str().expect("UTF-8 path").to_owned()
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn enoent_at_open_as_root_and_as_nobody() {
    if skip_unless_root("enoent_at_open_as_root_and_as_nobody") {
        return;
    }
    for who in [Who::Root, Who::Nobody] {
        expect_line(
            who,
            &[("sleepy_userns", "/nonexistent/u"), ("sleepy_mntns", "/x")],
            &invalid_reference("user", "/nonexistent/u", ENOENT),
        );
        expect_line(
            who,
            &[("sleepy_mntns", "/nonexistent/m")],
            &invalid_reference("mount", "/nonexistent/m", ENOENT),
        );
    }
}

#[test]
fn eacces_at_open_as_root_and_as_nobody() {
    if skip_unless_root("eacces_at_open_as_root_and_as_nobody") {
        return;
    }
    for (who, owner) in [(Who::RootWithoutCapabilities, NOBODY), (Who::Nobody, 0)] {
        let locked = Locked::new(owner);
        let path = locked.file();
        expect_line(
            who,
            &[("sleepy_userns", &path), ("sleepy_mntns", "/x")],
            &invalid_reference("user", &path, EACCES),
        );
        expect_line(
            who,
            &[("sleepy_mntns", &path)],
            &invalid_reference("mount", &path, EACCES),
        );
    }
}

#[test]
fn einval_at_join_as_root_and_as_nobody() {
    if skip_unless_root("einval_at_join_as_root_and_as_nobody") {
        return;
    }
    for who in [Who::Root, Who::Nobody] {
        expect_line(
            who,
            &[
                ("sleepy_userns", "/proc/self/ns/mnt"),
                ("sleepy_mntns", "/x"),
            ],
            &cannot_join("user", "/proc/self/ns/mnt", EINVAL),
        );
        expect_line(
            who,
            &[("sleepy_mntns", "/proc/self/ns/net")],
            &cannot_join("mount", "/proc/self/ns/net", EINVAL),
        );
    }
}

#[test]
fn eperm_at_join_as_root_and_as_nobody() {
    if skip_unless_root("eperm_at_join_as_root_and_as_nobody") {
        return;
    }
    // Root without CAP_SYS_ADMIN: a mount namespace of root's, a user namespace of nobody's.
    let holder = mount_holder();
    let mntns = holder.ns_path("mnt");
    expect_line(
        Who::RootWithoutSysAdmin,
        &[("sleepy_mntns", &mntns)],
        &cannot_join("mount", &mntns, EPERM),
    );
    let nobodys = unprivileged_userns_holder();
    let userns = nobodys.ns_path("user");
    expect_line(
        Who::RootWithoutSysAdmin,
        &[("sleepy_userns", &userns), ("sleepy_mntns", "/x")],
        &cannot_join("user", &userns, EPERM),
    );
    // Nobody: the mount namespace of its own user namespace's holder, without joining that
    // user namespace first. (A user namespace nobody may open but not join takes another
    // user's namespace, whose files nobody may not open: EACCES, tested above.)
    let mntns = nobodys.ns_path("mnt");
    expect_line(
        Who::Nobody,
        &[("sleepy_mntns", &mntns)],
        &cannot_join("mount", &mntns, EPERM),
    );
}
