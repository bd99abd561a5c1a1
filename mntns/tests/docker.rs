//! On a real engine, docker: a private dockerd of this test's own, containers imported from a
//! root filesystem made here (our sleeper as their process), read by `mntns` as `docker:NAME`
//! and `docker:ID`, listed by `mntns ps` beside a private podman's (when podman is there); a
//! stopped, an unknown or an unreachable container is one line.
//!
//! Needs root and docker (`dockerd` and a `docker` command). Skips loudly without them, but
//! fails when `$CI` is set and they are missing: CI installs Debian's docker.io. The daemon is
//! started here, with its data, state, sockets and configuration in a short temp dir, no
//! network set up (no bridge, no iptables, no IP forwarding) and vfs storage; it is stopped,
//! and checked to leave no process and no mount, whatever the test's outcome.

#[path = "../../host/tests/common/mod.rs"]
mod common;
mod engines;

use common::{mntns, run, wait_exit, wait_gone, TempDir};
use engines::{
    assert_fails_with, available, mntns_with, os_release, pretty_name, ps_table, report_cleanup,
    rootfs_tarball, unmount_leftovers, unreachable_docker, wait_no_processes_under, EngineCli,
    Podman, HOSTILE_ESCAPED, HOSTILE_OS_RELEASE,
};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// containerd's debug socket, `<dir>/exec/containerd/containerd-debug.sock`, must fit in a
/// unix socket address (104 bytes as containerd counts): a longer dir makes containerd fail
/// to start, after a 15 s wait.
const MAX_DIR_LEN: usize = 72;

/// A fresh dockerd answers in well under a second here; this bounds a slow machine.
const DOCKERD_START: Duration = Duration::from_secs(30);

/// dockerd stops in about 2 s once its containers are gone.
const DOCKERD_STOP: Duration = Duration::from_secs(30);

/// A private dockerd, stopped and checked when dropped (also when the test fails).
struct Docker {
    cli: EngineCli,
    dir: PathBuf,
    daemon: Child,
}

impl Docker {
    fn start() -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // Under /tmp whatever $TMPDIR says: the path must stay short.
        let dir = PathBuf::from(format!("/tmp/mntns-dockerd-{}-{n}", std::process::id()));
        let shown = dir.display().to_string();
        assert!(
            shown.len() <= MAX_DIR_LEN,
            "{shown} is too long for dockerd"
        );
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the dockerd dir");
        // Its own (empty) configuration, never /etc/docker/daemon.json.
        std::fs::write(dir.join("daemon.json"), "{}\n").expect("write daemon.json");
        let log = File::create(dir.join("dockerd.log")).expect("create dockerd.log");
        let mut command = Command::new("dockerd");
        command
            .arg("--config-file")
            .arg(dir.join("daemon.json"))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
            ])
            .args(["--bridge=none", "--storage-driver=vfs"])
            .arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{shown}/docker.sock"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup the log"))
            .stderr(log);
        let daemon = command.spawn().expect("spawn dockerd");
        let cli = EngineCli::new(
            "docker",
            vec![("DOCKER_HOST", format!("unix://{shown}/docker.sock").into())],
        );
        // From here on, dropping it stops the daemon and checks what is left.
        let docker = Docker { cli, dir, daemon };
        docker.wait_ready();
        docker
    }

    /// Waits (bounded) until `docker version` reaches the daemon; fails at once if it exits.
    fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            // A zero timeout: whether it has exited, without reaping it.
            assert!(
                !wait_gone(self.daemon.id(), Duration::ZERO),
                "dockerd exited before it answered; its log:\n{}",
                self.log()
            );
            let (status, _, _) = run(self.cli.command(&["version"]));
            if status.success() {
                eprintln!("dockerd answered after {:?}", started.elapsed());
                return;
            }
            assert!(
                started.elapsed() < DOCKERD_START,
                "dockerd did not answer `docker version` within {DOCKERD_START:?}; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn dir(&self) -> &Path {
        &self.dir
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for Docker {
    /// Containers first (dockerd would stop each for 10 s), then SIGTERM to dockerd, which takes
    /// its containerd and mounts down with it; then the check that no process and no mount is
    /// left under the dir, and the dir goes.
    fn drop(&mut self) {
        let started = Instant::now();
        let mut problems = self.cli.remove_all_containers();
        // Not reaped yet (only wait_exit reaps it), so the PID is still dockerd's.
        let pid = rustix::process::Pid::from_raw(self.daemon.id() as i32).expect("a PID");
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if !wait_exit(&mut self.daemon, DOCKERD_STOP) {
            let _ = self.daemon.kill();
            let _ = self.daemon.wait();
            problems.push(format!(
                "dockerd still ran {DOCKERD_STOP:?} after SIGTERM: killed"
            ));
        }
        for (pid, cmdline) in wait_no_processes_under(&self.dir, common::WAIT) {
            problems.push(format!("process {pid} still runs: {cmdline}"));
        }
        for mount_point in unmount_leftovers(&self.dir) {
            problems.push(format!("mount {mount_point}"));
        }
        if !problems.is_empty() {
            problems.push(format!("dockerd's log:\n{}", self.log()));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        eprintln!("dockerd stopped and cleaned up in {:?}", started.elapsed());
        report_cleanup("the private dockerd", &problems);
    }
}

/// Whether docker is there to test with; when it is not, says so (`SKIPPED`), or fails under CI.
fn docker_or_skip(test: &str) -> bool {
    if available("dockerd") && available("docker") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "docker is missing, and $CI is set: CI must install docker.io"
    );
    eprintln!("SKIPPED: {test} needs dockerd and docker (apt-get install docker.io)");
    false
}

#[test]
fn mntns_reads_docker_containers_by_name_and_lists_them() {
    let test = "mntns_reads_docker_containers_by_name_and_lists_them";
    require_root!(test);
    if !docker_or_skip(test) {
        return;
    }
    let started = Instant::now();
    let private = Docker::start();
    let docker = &private.cli;
    let dir = private.dir();
    let docker_os_release = os_release("docker");
    let tiny = rootfs_tarball(dir, "tiny", Some(docker_os_release.as_bytes()));
    docker.import(&tiny, "tiny-rootfs:latest");
    let hostile = rootfs_tarball(dir, "hostile", Some(HOSTILE_OS_RELEASE));
    docker.import(&hostile, "hostile:latest");
    let (id, tiny_pid) = docker.run_sleeper("tiny", "tiny-rootfs:latest");
    let (_, hostile_pid) = docker.run_sleeper("hostile", "hostile:latest");
    docker.run_sleeper("stopped", "tiny-rootfs:latest");
    docker.stop("stopped");

    // By name, by ID, by the short ID docker prints.
    let by_id = format!("docker:{id}");
    let by_short_id = format!("docker:{}", &id[..12]);
    for nsref in ["docker:tiny", &by_id, &by_short_id] {
        let (status, out, err) = run(mntns_with(&[docker], &["cat", nsref, "/etc/os-release"]));
        assert!(status.success(), "mntns cat {nsref}: {status}: {err}");
        assert_eq!(out, docker_os_release, "mntns cat {nsref}");
        assert_eq!(err, "", "mntns cat {nsref}");
    }
    assert_fails_with(
        mntns_with(&[docker], &["cat", "docker:stopped", "/etc/os-release"]),
        "mntns: docker:stopped: not running (exited)",
    );
    assert_fails_with(
        mntns_with(&[docker], &["cat", "docker:nosuch", "/etc/os-release"]),
        "mntns: docker:nosuch: no such container",
    );

    // `mntns ps` with podman's containers too, when podman is here (a private one).
    let podman = available("podman").then(|| {
        let podman = Podman::new();
        let tarball = rootfs_tarball(podman.dir(), "tiny", Some(os_release("podman").as_bytes()));
        podman.cli.import(&tarball, "localhost/tiny-rootfs");
        podman.cli.run_sleeper("tiny-p", "localhost/tiny-rootfs");
        podman
    });
    let mut engines = vec![docker];
    let mut rows = Vec::new();
    let (podman_pid, docker_pretty, podman_pretty);
    if let Some(podman) = &podman {
        engines.push(&podman.cli);
        podman_pid = podman.cli.pid("tiny-p").to_string();
        podman_pretty = pretty_name("podman");
        rows.push(["podman", "tiny-p", &podman_pid, &podman_pretty]);
    }
    let (tiny_pid, hostile_pid) = (tiny_pid.to_string(), hostile_pid.to_string());
    docker_pretty = pretty_name("docker");
    rows.push(["docker", "hostile", &hostile_pid, HOSTILE_ESCAPED]);
    rows.push(["docker", "tiny", &tiny_pid, &docker_pretty]);
    let (status, out, err) = run(mntns_with(&engines, &["ps"]));
    assert!(status.success(), "mntns ps: {status}: {err}");
    assert_eq!(out, ps_table(&rows));
    assert_eq!(err, "");
    // Printed only now that it is known to be escaped.
    eprint!("mntns ps:\n{out}");
    drop(podman);
    drop(private);
    eprintln!("the docker test took {:?}", started.elapsed());
}

#[test]
fn docker_missing_or_unreachable_is_one_line() {
    let dir = TempDir::new("no-docker");
    let mut cat = mntns();
    cat.env("PATH", dir.path())
        .args(["cat", "docker:web", "/etc/os-release"]);
    assert_fails_with(cat, "mntns: docker:web: docker not found on PATH");
    if !available("docker") {
        eprintln!("SKIPPED: an unreachable daemon needs the docker command");
        return;
    }
    let unreachable = unreachable_docker(dir.path());
    assert_fails_with(
        mntns_with(&[&unreachable], &["cat", "docker:web", "/etc/os-release"]),
        &format!(
            "mntns: docker:web: Cannot connect to the Docker daemon at unix://{}/no-dockerd.sock. \
             Is the docker daemon running?",
            dir.path().display()
        ),
    );
}
