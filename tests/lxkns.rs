//! The sleeper under a Go host that starts it the way lxkns does (go/lxkns-host: exec.Command,
//! the sleepy_* variables appended to os.Environ(), the first stdout line, stderr collected,
//! Kill and Wait). The Go program is built here with the `go` on PATH (Debian's golang-go;
//! standard library only, no module proxy). Without `go` the tests skip loudly, unless CI is
//! set: then they fail.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The Go host, built once per test run into the target directory; None (after saying so)
/// when there is no `go` and CI is not set.
fn go_host(test: &str) -> Option<&'static Path> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = manifest_dir.join("target").join("lxkns-host");
        let build = Command::new("go")
            .args(["build", "-o"])
            .arg(out.join("lxkns-host"))
            .arg(".")
            .current_dir(manifest_dir.join("go").join("lxkns-host"))
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=mod")
            .env("GOTOOLCHAIN", "local")
            .env("GOCACHE", out.join("go-build"))
            .env("GOPATH", out.join("gopath"))
            .output();
        match build {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI is set but there is no `go` on PATH (Debian: golang-go)"
                );
                None
            }
            Err(error) => panic!("run go build: {error}"),
            Ok(output) => {
                assert!(
                    output.status.success(),
                    "go build of go/lxkns-host: {}\n{}",
                    output.status,
                    show(&output.stderr)
                );
                Some(out.join("lxkns-host"))
            }
        }
    });
    if built.is_none() {
        eprintln!("SKIPPED: {test} needs `go` on PATH (Debian: golang-go)");
    }
    built.as_deref()
}

/// Runs the Go host with `args` (`-sleeper` given) and only `env` as its environment; bounded
/// by the host itself (it returns at OK or failure, and waits at most its `-stay`).
fn run_go_host(host: &Path, env: &[(&str, &str)], args: &[&str]) -> (Output, String) {
    let mut command = Command::new(host);
    command.env_clear().arg("-sleeper").arg(binary()).args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run the Go host");
    let stdout = show(&output.stdout);
    eprintln!("lxkns-host {args:?}: {}\n{stdout}", output.status);
    (output, stdout)
}

#[test]
fn go_host_reads_a_file_through_the_sleepers_root() {
    let test = "go_host_reads_a_file_through_the_sleepers_root";
    let Some(host) = go_host(test) else { return };
    if skip_unless_root(test) {
        return;
    }
    let holder = mount_holder();
    let (output, stdout) = run_go_host(
        host,
        &[],
        &["-mntns", &holder.ns_path("mnt"), "-read", "/mnt/marker"],
    );
    assert!(output.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("OK pid="), "{stdout}");
    assert_eq!(
        lines[1..],
        ["content: \"hello\\n\"", "killed: signal: killed"]
    );
}

#[test]
fn go_host_gets_lxkns_failure_line() {
    let Some(host) = go_host("go_host_gets_lxkns_failure_line") else {
        return;
    };
    // lxkns' own test of this failure, its regexp included.
    let (output, stdout) = run_go_host(
        host,
        &[],
        &[
            "-mntns",
            "/proc/self/non-existing",
            "-match",
            "invalid mount namespace reference .* No such file or directory",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout,
        format!(
            "error: pause process failure: {}\n\nmatches: true\n",
            invalid_reference("mount", "/proc/self/non-existing", ENOENT)
        )
    );
}

#[test]
fn go_host_with_sleepy_lifeline_in_its_environment_keeps_its_sleeper() {
    let Some(host) = go_host("go_host_with_sleepy_lifeline_in_its_environment_keeps_its_sleeper")
    else {
        return;
    };
    // lxkns gives the sleeper /dev/null as stdin: an inherited sleepy_lifeline must not end
    // it. This waits a bounded second by design: it checks that nothing happens.
    let (output, stdout) = run_go_host(
        host,
        &[("sleepy_lifeline", "1")],
        &["-mntns", "/proc/self/ns/mnt", "-stay", "1s"],
    );
    assert!(output.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("OK pid="), "{stdout}");
    assert_eq!(lines[1..], ["alive after 1s", "killed: signal: killed"]);
}
