//! `--help` and `--version`; any other argument is a usage error; with none, the protocol.

mod common;

use common::*;

fn run_with_args(args: &[&str]) -> Outcome {
    let mut command = sleeper_with(&[("sleepy_mntns", "/proc/self/ns/mnt")]);
    command.args(args);
    run_to_end(&mut command, &format!("mntnssandbox {}", args.join(" ")))
}

#[test]
fn version_prints_the_cargo_version() {
    let outcome = run_with_args(&["--version"]);
    assert_eq!(outcome.status.code(), Some(0));
    assert_eq!(
        show(&outcome.stdout),
        format!("mntnssandbox {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert!(
        outcome.stderr.is_empty(),
        "stderr: {:?}",
        show(&outcome.stderr)
    );
}

#[test]
fn help_explains_the_protocol() {
    let outcome = run_with_args(&["--help"]);
    assert_eq!(outcome.status.code(), Some(0));
    let help = show(&outcome.stdout);
    // The `--version` line first, then the usage line.
    let start = format!(
        "mntnssandbox {}\nusage: mntnssandbox [--help|--version]\n",
        env!("CARGO_PKG_VERSION")
    );
    assert!(help.starts_with(&start), "{help}");
    for word in [
        "sleepy_mntns",
        "sleepy_userns",
        "sleepy_lifeline",
        "OK",
        "66",
    ] {
        assert!(help.contains(word), "--help must mention {word}: {help}");
    }
    assert!(help.lines().count() <= 6, "a few lines: {help}");
    assert!(
        outcome.stderr.is_empty(),
        "stderr: {:?}",
        show(&outcome.stderr)
    );
}

#[test]
fn other_arguments_are_usage_errors() {
    for args in [
        &["--nope"][..],
        &["-h"],
        &[""],
        &["--help", "--version"],
        &["--version", "x"],
    ] {
        let outcome = run_with_args(args);
        assert_eq!(outcome.status.code(), Some(2), "{args:?}");
        assert!(outcome.stdout.is_empty(), "{args:?}: nothing on stdout");
        assert_eq!(
            show(&outcome.stderr),
            "package mntnssandbox: usage: mntnssandbox [--help|--version]\n",
            "{args:?}"
        );
    }
}
