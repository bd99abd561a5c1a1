//! On a real engine, podman: the `FROM scratch` image (the repository's Containerfile) holds as
//! PID 1 and `podman stop` ends it at once with status 0; `mntns` reads ordinary containers
//! built from root filesystems made here, by PID and as `podman:NAME` or `podman:ID`; `mntns
//! ps` lists them with their PRETTY_NAME, escaped; a stopped or unknown container is one line.
//!
//! Needs root and podman (with runc). Skips loudly without them, but fails when `$CI` is set
//! and podman is missing: CI installs it. Everything podman keeps (storage, run state, locks,
//! its configuration) lives in a temp dir of each test, set by the files named in
//! `CONTAINERS_CONF` and `CONTAINERS_STORAGE_CONF`; no registry is needed.

#[path = "../../host/tests/common/mod.rs"]
mod common;
mod engines;

use common::{mntns, run, sleeper, TempDir};
use engines::{
    assert_fails_with, available, mntns_with, os_release, pretty_name, ps_table, rootfs_tarball,
    unreachable_docker, Podman, HOSTILE_ESCAPED, HOSTILE_OS_RELEASE,
};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
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

/// Whether podman is there to test with; when it is not, says so (`SKIPPED`), or fails under CI.
fn podman_or_skip(test: &str) -> bool {
    if available("podman") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "podman is missing, and $CI is set: CI must install podman and runc"
    );
    eprintln!("SKIPPED: {test} needs podman (apt-get install podman runc)");
    false
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_scratch_image_holds_under_podman_and_mntns_reads_a_container() {
    require_root!("the podman test");
    if !podman_or_skip("the podman test") {
        return;
    }
    let private = Podman::new();
    let podman = &private.cli;
    let dir = private.dir();

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
    podman.ok(&[
        "run",
        "--detach",
        "--name",
        "holder",
        "localhost/mntnssandbox-holder",
    ]);
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
    let os_release = os_release("podman");
    let tarball = rootfs_tarball(dir, "tiny", Some(os_release.as_bytes()));
    podman.import(&tarball, "localhost/tiny-rootfs");
    let (_, pid) = podman.run_sleeper("tiny", "localhost/tiny-rootfs");
    let pid = pid.to_string();

    let mut cat = mntns();
    cat.args(["cat", &pid, "/etc/os-release"]);
    let (status, stdout, stderr) = run(cat);
    assert!(
        status.success(),
        "mntns cat {pid} /etc/os-release: {stderr}"
    );
    assert_eq!(stdout, os_release);
    podman.stop("tiny");
}

#[test]
fn mntns_reads_podman_containers_by_name_and_by_id() {
    require_root!("mntns_reads_podman_containers_by_name_and_by_id");
    if !podman_or_skip("mntns_reads_podman_containers_by_name_and_by_id") {
        return;
    }
    let private = Podman::new();
    let podman = &private.cli;
    let os_release = os_release("podman");
    let tarball = rootfs_tarball(private.dir(), "tiny", Some(os_release.as_bytes()));
    podman.import(&tarball, "localhost/tiny-rootfs");
    let (id, pid) = podman.run_sleeper("tiny", "localhost/tiny-rootfs");

    // By name, by ID, by the short ID podman prints, and with the container's user namespace
    // named the same way.
    let by_id = format!("podman:{id}");
    let by_short_id = format!("podman:{}", &id[..12]);
    for args in [
        vec!["cat", "podman:tiny", "/etc/os-release"],
        vec!["cat", &by_id, "/etc/os-release"],
        vec!["cat", &by_short_id, "/etc/os-release"],
        vec![
            "--userns",
            "podman:tiny",
            "cat",
            "podman:tiny",
            "/etc/os-release",
        ],
    ] {
        let (status, out, err) = run(mntns_with(&[podman], &args));
        assert!(status.success(), "mntns {args:?}: {status}: {err}");
        assert_eq!(out, os_release, "mntns {args:?}");
        assert_eq!(err, "", "mntns {args:?}");
    }

    // The container's root, as its own process sees it (root on the host may look through
    // /proc/<pid>/root, which the kernel resolves in the container's root).
    let mut names: Vec<Vec<u8>> = std::fs::read_dir(format!("/proc/{pid}/root"))
        .expect("list the container's root through /proc")
        .map(|entry| entry.expect("an entry").file_name().as_bytes().to_vec())
        .collect();
    names.sort();
    let expected: String = names
        .iter()
        .map(|name| format!("{}\n", String::from_utf8_lossy(name)))
        .collect();
    assert!(expected.contains("sleeper\n"), "{expected}");
    let (status, out, err) = run(mntns_with(&[podman], &["ls", "podman:tiny", "/"]));
    assert!(status.success(), "mntns ls podman:tiny /: {status}: {err}");
    assert_eq!(out, expected);

    // A stopped container, an unknown one, wherever an NSREF goes: one line, exit status 1.
    podman.run_sleeper("stopped", "localhost/tiny-rootfs");
    podman.stop("stopped");
    assert_fails_with(
        mntns_with(&[podman], &["cat", "podman:stopped", "/etc/os-release"]),
        "mntns: podman:stopped: not running (exited)",
    );
    assert_fails_with(
        mntns_with(&[podman], &["ls", "podman:nosuch", "/"]),
        "mntns: podman:nosuch: no such container",
    );
    assert_fails_with(
        mntns_with(
            &[podman],
            &["--userns", "podman:nosuch", "cat", "podman:tiny", "/x"],
        ),
        "mntns: podman:nosuch: no such container",
    );
    assert_fails_with(
        mntns_with(&[podman], &["--in", "podman:stopped", "hold", "/ns"]),
        "mntns: podman:stopped: not running (exited)",
    );
    podman.stop("tiny");
}

#[test]
fn mntns_ps_lists_podman_containers_with_their_pretty_name_escaped() {
    let test = "mntns_ps_lists_podman_containers_with_their_pretty_name_escaped";
    require_root!(test);
    if !podman_or_skip(test) {
        return;
    }
    let private = Podman::new();
    let podman = &private.cli;
    let dir = private.dir();
    let os_release = os_release("podman");
    for (image, os_release) in [
        ("tiny", Some(os_release.as_bytes())),
        ("hostile", Some(HOSTILE_OS_RELEASE)),
        ("bare", None),
    ] {
        let tarball = rootfs_tarball(dir, image, os_release);
        podman.import(&tarball, &format!("localhost/{image}"));
    }
    let (_, tiny) = podman.run_sleeper("tiny", "localhost/tiny");
    let (_, hostile) = podman.run_sleeper("hostile", "localhost/hostile");
    let (_, bare) = podman.run_sleeper("bare", "localhost/bare");
    podman.run_sleeper("stopped", "localhost/tiny");
    podman.stop("stopped");

    let docker = unreachable_docker(dir);
    let (status, out, err) = run(mntns_with(&[podman, &docker], &["ps"]));
    assert!(status.success(), "mntns ps: {status}: {err}");
    let pretty = pretty_name("podman");
    let (tiny, hostile, bare) = (tiny.to_string(), hostile.to_string(), bare.to_string());
    // Sorted by name; the stopped container is not there; no os-release at all shows as "-".
    assert_eq!(
        out,
        ps_table(&[
            ["podman", "bare", &bare, "-"],
            ["podman", "hostile", &hostile, HOSTILE_ESCAPED],
            ["podman", "tiny", &tiny, &pretty],
        ])
    );
    assert!(
        out.bytes()
            .all(|byte| byte == b'\n' || (b' '..=b'~').contains(&byte)),
        "not plain printable ASCII: {out:?}"
    );
    // Printed only now that it is known to be escaped.
    eprint!("mntns ps:\n{out}");
    let mut expected_err = vec![r#"mntns: podman:bare: open "/etc/os-release": ENOENT (2)"#];
    let skipped_docker;
    if available("docker") {
        // docker is on PATH but reaches no daemon: skipped, not a failure.
        skipped_docker = format!(
            "mntns: docker: skipped: Cannot connect to the Docker daemon at unix://{}/no-dockerd.sock. Is the docker daemon running?",
            dir.display()
        );
        expected_err.insert(0, &skipped_docker);
    }
    assert_eq!(err.lines().collect::<Vec<_>>(), expected_err);
}

#[test]
fn an_engine_not_on_path_is_one_line() {
    let empty = TempDir::new("no-engines");
    let mut cat = mntns();
    cat.env("PATH", empty.path())
        .args(["cat", "podman:web", "/etc/os-release"]);
    assert_fails_with(cat, "mntns: podman:web: podman not found on PATH");
    let mut ps = mntns();
    ps.env("PATH", empty.path()).arg("ps");
    assert_fails_with(ps, "mntns: ps: neither podman nor docker is on PATH");
}
