//! `mntns` with its embedded sleeper where executable memfds are refused.

#[path = "../../host/tests/common/mod.rs"]
mod common;

use common::{mntns, run, sleeper};
use mntnssandbox_host::SLEEPER_ENV;
use std::process::Command;

/// `vm.memfd_noexec = 2` is per PID namespace (Linux 6.3+) and inherited by new ones: set in
/// a fresh one, it touches nothing else on the machine.
#[test]
fn a_refused_memfd_names_the_setting_and_the_ways_out() {
    require_root!("a_refused_memfd_names_the_setting_and_the_ways_out");
    if !std::path::Path::new("/proc/sys/vm/memfd_noexec").exists() {
        eprintln!("SKIPPED: no vm.memfd_noexec before Linux 6.3");
        return;
    }
    let outside = std::fs::read_to_string("/proc/sys/vm/memfd_noexec").expect("read sysctl");
    let in_noexec_pid_ns = |mntns_args: &str| {
        let mut command = Command::new("unshare");
        command
            // Its own procfs too, or /proc/<pid> of the sleeper would name another process.
            .args([
                "--pid",
                "--fork",
                "--kill-child",
                "--mount",
                "--mount-proc",
                "sh",
                "-c",
            ])
            .arg(format!(
                "echo 2 > /proc/sys/vm/memfd_noexec && exec \"$0\" {mntns_args}"
            ))
            .arg(mntns().get_program())
            .env_remove(SLEEPER_ENV);
        run(command)
    };

    // `hold` always spawns a sleeper (as root, `cat` and `ls` enter by a thread).
    let (status, stdout, stderr) = in_noexec_pid_ns("hold /proc/self/ns/mnt");
    assert_eq!(
        status.code(),
        Some(1),
        "stdout {stdout:?}, stderr {stderr:?}"
    );
    assert_eq!(
        stderr,
        "mntns: create an executable memfd for the embedded sleeper: vm.memfd_noexec = 2 \
         forbids it; give a sleeper file with Builder::sleeper(path) or $MNTNSSANDBOX_BINARY: \
         EACCES (13)\n"
    );

    // The way out works there.
    let way_out = format!("--sleeper {} hold /proc/self/ns/mnt", sleeper().display());
    let (status, stdout, stderr) = in_noexec_pid_ns(&way_out);
    assert!(status.success(), "{status}: {stderr}");
    assert!(
        stdout.ends_with("/root\n"),
        "no \"<pid> <root>\" line: {stdout:?}"
    );

    let after = std::fs::read_to_string("/proc/sys/vm/memfd_noexec").expect("read sysctl");
    assert_eq!(
        after, outside,
        "the setting outside the PID namespace changed"
    );
}
