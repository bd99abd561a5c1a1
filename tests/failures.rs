//! The failure contract: exit 66, nothing on stdout, exactly one line on stderr in a fixed
//! format. None of these need privileges (the kernel checks the namespace type before any
//! permission), so they run for any user.

mod common;

use common::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

const UNSET: &str = "mntnssandbox: sleepy_mntns is not set or empty: EINVAL (22)";

#[test]
fn missing_sleepy_mntns() {
    expect_failure(&[], UNSET);
}

#[test]
fn empty_sleepy_mntns() {
    expect_failure(&[("sleepy_mntns", "")], UNSET);
}

#[test]
fn sleepy_userns_alone_is_not_enough() {
    expect_failure(&[("sleepy_userns", "/proc/self/ns/user")], UNSET);
}

#[test]
fn only_the_exact_name_counts() {
    let near_misses = [
        ("sleepy_mntnsx", "/proc/self/ns/mnt"),
        ("sleepy_mntns_", "/proc/self/ns/mnt"),
        ("SLEEPY_MNTNS", "/proc/self/ns/mnt"),
        ("xsleepy_mntns", "/proc/self/ns/mnt"),
        ("sleepy_mnt", "/proc/self/ns/mnt"),
    ];
    expect_failure(&near_misses, UNSET);
}

#[test]
fn the_first_sleepy_mntns_wins_even_when_it_fails() {
    let mut command = sleeper_with(&[]);
    with_raw_environment(
        &mut command,
        &[
            b"sleepy_mntns=/nonexistent/first",
            b"sleepy_mntns=/proc/self/ns/mnt",
        ],
    );
    run_to_end(&mut command, "sleeper with two sleepy_mntns entries")
        .assert_failure("mntnssandbox: open mount namespace \"/nonexistent/first\": ENOENT (2)");
}

#[test]
fn the_first_sleepy_mntns_wins_even_when_it_is_empty() {
    let mut command = sleeper_with(&[]);
    with_raw_environment(
        &mut command,
        &[b"sleepy_mntns=", b"sleepy_mntns=/proc/self/ns/mnt"],
    );
    run_to_end(&mut command, "sleeper with an empty first sleepy_mntns").assert_failure(UNSET);
}

#[test]
fn the_first_sleepy_userns_wins() {
    let mut command = sleeper_with(&[]);
    with_raw_environment(
        &mut command,
        &[
            b"sleepy_userns=/nonexistent/user1",
            b"sleepy_mntns=/proc/self/ns/mnt",
            b"sleepy_userns=/nonexistent/user2",
        ],
    );
    run_to_end(&mut command, "sleeper with two sleepy_userns entries")
        .assert_failure("mntnssandbox: open user namespace \"/nonexistent/user1\": ENOENT (2)");
}

#[test]
fn open_of_a_missing_mount_namespace_is_enoent() {
    expect_failure(
        &[("sleepy_mntns", "/nonexistent/mnt")],
        "mntnssandbox: open mount namespace \"/nonexistent/mnt\": ENOENT (2)",
    );
}

#[test]
fn open_of_a_missing_user_namespace_is_enoent() {
    expect_failure(
        &[
            ("sleepy_userns", "/nonexistent/user"),
            ("sleepy_mntns", "/proc/self/ns/mnt"),
        ],
        "mntnssandbox: open user namespace \"/nonexistent/user\": ENOENT (2)",
    );
}

#[test]
fn the_user_namespace_is_joined_before_the_mount_namespace() {
    expect_failure(
        &[
            ("sleepy_mntns", "/nonexistent/mnt"),
            ("sleepy_userns", "/nonexistent/user"),
        ],
        "mntnssandbox: open user namespace \"/nonexistent/user\": ENOENT (2)",
    );
}

#[test]
fn an_empty_sleepy_userns_is_ignored() {
    expect_failure(
        &[("sleepy_userns", ""), ("sleepy_mntns", "/nonexistent/mnt")],
        "mntnssandbox: open mount namespace \"/nonexistent/mnt\": ENOENT (2)",
    );
}

/// A regular file that exists for the guard's lifetime.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn join_of_a_regular_file_is_einval() {
    let file =
        TempFile(std::env::temp_dir().join(format!("mntnssandbox-test-{}", std::process::id())));
    std::fs::write(&file.0, "not a namespace\n").expect("create a regular file");
    let path = file.0.to_str().expect("temp path is UTF-8").to_owned();
    assert!(!path.contains(['"', '\\']) && !path.contains(|c: char| c.is_control()));
    expect_failure(
        &[("sleepy_mntns", &path)],
        &format!("mntnssandbox: join mount namespace \"{path}\": EINVAL (22)"),
    );
}

#[test]
fn join_of_a_directory_is_einval() {
    expect_failure(
        &[("sleepy_mntns", "/")],
        "mntnssandbox: join mount namespace \"/\": EINVAL (22)",
    );
}

#[test]
fn join_of_the_wrong_namespace_type_is_einval() {
    expect_failure(
        &[("sleepy_mntns", "/proc/self/ns/net")],
        "mntnssandbox: join mount namespace \"/proc/self/ns/net\": EINVAL (22)",
    );
    expect_failure(
        &[
            ("sleepy_userns", "/proc/self/ns/mnt"),
            ("sleepy_mntns", "/proc/self/ns/mnt"),
        ],
        "mntnssandbox: join user namespace \"/proc/self/ns/mnt\": EINVAL (22)",
    );
}

#[test]
fn join_of_the_own_user_namespace_is_einval() {
    // setns(2) refuses to re-enter the caller's own user namespace.
    expect_failure(
        &[
            ("sleepy_userns", "/proc/self/ns/user"),
            ("sleepy_mntns", "/proc/self/ns/mnt"),
        ],
        "mntnssandbox: join user namespace \"/proc/self/ns/user\": EINVAL (22)",
    );
}

#[test]
fn quotes_backslashes_and_control_characters_are_escaped() {
    let path = "/nonexistent/a\"b\\c\nd\te\x7ff\x1bg\rh\x01";
    expect_failure(
        &[("sleepy_mntns", path)],
        "mntnssandbox: open mount namespace \
         \"/nonexistent/a\\x22b\\x5cc\\x0ad\\x09e\\x7ff\\x1bg\\x0dh\\x01\": ENOENT (2)",
    );
}

/// The escaped form of `path`, one element per input byte.
fn escaped_units(path: &[u8]) -> Vec<String> {
    path.iter()
        .map(|&byte| match byte {
            b'"' | b'\\' | 0..=0x1f | 0x7f => format!("\\x{byte:02x}"),
            _ => (byte as char).to_string(),
        })
        .collect()
}

/// Runs with `path`, expects `<step> mount namespace "<shown>": <errno>` and returns `shown`.
fn shown_path(path: &[u8], step: &str, errno: &str) -> String {
    let mut command = sleeper_command(&[("sleepy_mntns", OsStr::from_bytes(path))]);
    let outcome = run_to_end(&mut command, "sleeper with a long path");
    let line = show(&outcome.stderr);
    let prefix = format!("mntnssandbox: {step} mount namespace \"");
    let suffix = format!("\": {errno}\n");
    assert!(
        line.starts_with(&prefix) && line.ends_with(&suffix),
        "expected {prefix}...{suffix:?}, got {line:?}"
    );
    // Bounded: the whole line fits in one small write whatever the path's length.
    assert!(line.len() <= 384, "line of {} bytes: {line:?}", line.len());
    // Still the failure contract around it.
    outcome.assert_failure(line.trim_end_matches('\n'));
    line[prefix.len()..line.len() - suffix.len()].to_owned()
}

/// Checks that `shown` is `path`, escaped, cut after whole escapes and marked with `...`:
/// at most 256 bytes of the path, but (within an escape and the marker) all of them used.
fn assert_cut(path: &[u8], shown: &str) {
    let units = escaped_units(path);
    let body = shown
        .strip_suffix("...")
        .unwrap_or_else(|| panic!("no `...` in cut path {shown:?}"));
    let mut len = 0;
    let mut count = 0;
    while len < body.len() && count < units.len() {
        len += units[count].len();
        count += 1;
    }
    assert_eq!(
        body,
        units[..count].concat(),
        "the shown part must be whole escapes of the path's start"
    );
    assert!(
        count < path.len(),
        "a cut path must leave something out: {shown:?}"
    );
    assert!(
        body.len() <= 256,
        "{} bytes of the path shown (> 256): {shown:?}",
        body.len()
    );
    assert!(
        body.len() >= 256 - 8,
        "cut at {} bytes, well short of 256: {shown:?}",
        body.len()
    );
}

#[test]
fn an_overlong_path_is_enametoolong_and_shown_cut() {
    // 5000 bytes, in components short enough that only the total length is too long.
    let mut path = b"/nonexistent".to_vec();
    while path.len() < 5000 {
        path.extend_from_slice(b"/0123456789abcdefghijklmnopqrstuvwxyz");
    }
    assert!(path.len() > 4096);
    let shown = shown_path(&path, "open", "ENAMETOOLONG (36)");
    assert_cut(&path, &shown);
}

#[test]
fn a_long_path_of_control_characters_is_cut_between_escapes() {
    for offset in 0..4 {
        // Newlines after `offset` plain bytes, so the cut meets an escape at every phase.
        let mut path = b"/nonexistent/".to_vec();
        path.extend(std::iter::repeat_n(b'a', offset));
        path.extend(std::iter::repeat_n(b'\n', 200));
        let shown = shown_path(&path, "open", "ENOENT (2)");
        assert_cut(&path, &shown);
    }
}

#[test]
fn a_path_that_fits_is_shown_whole() {
    // 254 bytes: short of the 256-byte budget however the quotes are counted.
    let mut path = b"/nonexistent/".to_vec();
    path.resize(254, b'a');
    let shown = shown_path(&path, "open", "ENOENT (2)");
    assert_eq!(shown, show(&path), "a 254-byte path must not be cut");

    // With escapes: 250 bytes that print as 253.
    let mut path = b"/nonexistent/".to_vec();
    path.resize(249, b'a');
    path.push(b'\n');
    let shown = shown_path(&path, "open", "ENOENT (2)");
    assert_eq!(
        shown,
        escaped_units(&path).concat(),
        "a path printing as 253 bytes must not be cut"
    );
}
