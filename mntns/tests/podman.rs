//! The `FROM scratch` image (the repository's Containerfile) on a real engine, podman: it holds
//! as PID 1 and `podman stop` ends it at once with status 0; and `mntns cat` reads a file of
//! a second, ordinary container built from a root filesystem made here.
//!
//! Needs root and podman (with runc). Skips loudly without them, but fails when `$CI` is set
//! and podman is missing: CI installs it. Everything podman keeps (storage, run state, its
//! configuration) lives in a temp dir of this test; no registry is needed.

#[path = "../../host/tests/common/mod.rs"]
mod common;

use common::{mntns, run, sleeper, TempDir, WAIT};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// CAP_SYS_ADMIN's bit in the capability masks of /proc/<pid>/status.
const CAP_SYS_ADMIN: u64 = 1 << 21;

/// A capability mask (`CapBnd`, `CapEff`, ...) of a process.
fn capability_mask(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let hex = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    u64::from_str_radix(hex.trim(), 16).expect("a hexadecimal mask")
}

/// podman's kill timeout is 10 s; a holder that handles SIGTERM ends in a fraction of that.
const STOP_BUDGET: Duration = Duration::from_secs(3);

/// A private podman: its own storage, run state and containers.conf, with what works on these
/// machines (runc, since crun refuses hybrid cgroups here; vfs storage; cgroupfs; file events;
/// ulimits low enough for a root without CAP_SYS_RESOURCE).
struct Podman {
    dir: TempDir,
}

impl Podman {
    fn new() -> Self {
        let dir = TempDir::new("podman");
        std::fs::write(
            dir.path().join("containers.conf"),
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n",
        )
        .expect("write containers.conf");
        Podman { dir }
    }

    fn command(&self, args: &[&str]) -> Command {
        let dir = self.dir.path();
        let mut command = Command::new("podman");
        command
            .env("CONTAINERS_CONF", dir.join("containers.conf"))
            .arg("--root")
            .arg(dir.join("root"))
            .arg("--runroot")
            .arg(dir.join("runroot"))
            .arg("--tmpdir")
            .arg(dir.join("tmp"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file", "--runtime", "runc"])
            .args(args);
        command
    }

    /// Runs podman to completion (bounded); panics with its stderr unless it succeeds.
    fn ok(&self, args: &[&str]) -> String {
        let (status, stdout, stderr) = run(self.command(args));
        assert!(status.success(), "podman {args:?}: {status}\n{stderr}");
        stdout.trim().to_owned()
    }

    fn inspect(&self, container: &str, format: &str) -> String {
        self.ok(&["inspect", "--format", format, container])
    }

    /// Waits until the container's output is exactly the sleeper's `OK\n`.
    fn wait_for_ok(&self, container: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, stdout, stderr) = run(self.command(&["logs", container]));
            if status.success() && stdout == "OK\n" {
                return;
            }
            let state = self.inspect(container, "{{.State.Status}} {{.State.ExitCode}}");
            assert!(
                !state.starts_with("exited"),
                "container {container} {state} without OK (stdout {stdout:?}, stderr {stderr:?})"
            );
            assert!(
                Instant::now() < deadline,
                "container {container} did not say OK within {WAIT:?} (logs {stdout:?})"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Containers first (their mounts live under our dir), then the storage.
        let _ = run(self.command(&["rm", "--force", "--all", "--time", "0"]));
        let _ = run(self.command(&["rmi", "--force", "--all"]));
    }
}

fn podman_available() -> bool {
    Command::new("podman")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_scratch_image_holds_under_podman_and_mntns_reads_a_container() {
    require_root!("the podman test");
    if !podman_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "podman is missing, and $CI is set: CI must install podman and runc"
        );
        eprintln!("SKIPPED: the podman test needs podman (apt-get install podman runc)");
        return;
    }
    let podman = Podman::new();
    let dir = podman.dir.path();

    // The holder image, from the repository's Containerfile and a context with the sleeper.
    let context = dir.join("context");
    std::fs::create_dir_all(&context).expect("create the build context");
    std::fs::copy(sleeper(), context.join("mntnssandbox")).expect("copy the sleeper");
    let containerfile = workspace().join("Containerfile");
    podman.ok(&[
        "build",
        "--quiet",
        "--build-arg",
        "SLEEPER=mntnssandbox",
        "--tag",
        "localhost/mntnssandbox-holder",
        "--file",
        containerfile.to_str().expect("UTF-8 path"),
        context.to_str().expect("UTF-8 path"),
    ]);
    let mut run_holder = vec!["run", "--detach", "--name", "holder", "--network", "none"];
    run_holder.push("localhost/mntnssandbox-holder");
    podman.ok(&run_holder);
    podman.wait_for_ok("holder");
    assert_eq!(podman.inspect("holder", "{{.State.Status}}"), "running");
    // Under the engine's default capabilities: no CAP_SYS_ADMIN to be had, and none kept.
    let holder = podman.inspect("holder", "{{.State.Pid}}");
    assert_eq!(capability_mask(&holder, "CapBnd") & CAP_SYS_ADMIN, 0);
    assert_eq!(
        capability_mask(&holder, "CapEff"),
        0,
        "the holder kept capabilities"
    );

    let started = Instant::now();
    podman.ok(&["stop", "--time", "10", "holder"]);
    let took = started.elapsed();
    assert_eq!(podman.inspect("holder", "{{.State.ExitCode}}"), "0");
    assert!(
        took < STOP_BUDGET,
        "podman stop took {took:?} (budget {STOP_BUDGET:?}; podman kills after 10 s)"
    );
    eprintln!("podman stop of the holder: {took:?}, exit status 0");

    // An ordinary container from a root filesystem made here: its own /etc/os-release, and the
    // sleeper as its process.
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).expect("create rootfs/etc");
    let os_release = format!(
        "PRETTY_NAME=\"podman test rootfs {}\"\nID=mntnssandbox-test\n",
        std::process::id()
    );
    std::fs::write(rootfs.join("etc/os-release"), &os_release).expect("write os-release");
    std::fs::copy(sleeper(), rootfs.join("sleeper")).expect("copy the sleeper");
    let tarball = dir.join("rootfs.tar");
    let (status, _, stderr) = run({
        let mut tar = Command::new("tar");
        tar.arg("-C").arg(&rootfs).arg("-cf").arg(&tarball).arg(".");
        tar
    });
    assert!(status.success(), "tar: {stderr}");
    podman.ok(&[
        "import",
        "--quiet",
        tarball.to_str().expect("UTF-8 path"),
        "localhost/tiny-rootfs",
    ]);
    let mut run_tiny = vec!["run", "--detach", "--name", "tiny", "--network", "none"];
    run_tiny.extend(["--env", "sleepy_mntns=/proc/self/ns/mnt"]);
    run_tiny.extend(["localhost/tiny-rootfs", "/sleeper"]);
    podman.ok(&run_tiny);
    podman.wait_for_ok("tiny");
    let pid = podman.inspect("tiny", "{{.State.Pid}}");

    let mut cat = mntns();
    cat.args(["cat", &pid, "/etc/os-release"]);
    let (status, stdout, stderr) = run(cat);
    assert!(
        status.success(),
        "mntns cat {pid} /etc/os-release: {stderr}"
    );
    assert_eq!(stdout, os_release);
    podman.ok(&["stop", "--time", "10", "tiny"]);
    assert_eq!(podman.inspect("tiny", "{{.State.ExitCode}}"), "0");
}
