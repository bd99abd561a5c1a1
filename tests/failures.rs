//! The failure contract: exit 66, nothing on stdout, exactly one line on stderr in a fixed
//! format. None of these need privileges (the kernel checks the namespace type before any
//! permission), so they run for any user.

mod common;

use common::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Unset or empty, `sleepy_mntns` fails as opening an empty path would, quoting the bare name.
const UNSET: &str = "mntnssandbox: open \"sleepy_mntns=\": ENOENT (2)";

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
        .assert_failure("mntnssandbox: open \"sleepy_mntns=/nonexistent/first\": ENOENT (2)");
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
        .assert_failure("mntnssandbox: open \"sleepy_userns=/nonexistent/user1\": ENOENT (2)");
}

#[test]
fn open_of_a_missing_mount_namespace_is_enoent() {
    expect_failure(
        &[("sleepy_mntns", "/nonexistent/mnt")],
        "mntnssandbox: open \"sleepy_mntns=/nonexistent/mnt\": ENOENT (2)",
    );
}

#[test]
fn open_of_a_missing_user_namespace_is_enoent() {
    expect_failure(
        &[
            ("sleepy_userns", "/nonexistent/user"),
            ("sleepy_mntns", "/proc/self/ns/mnt"),
        ],
        "mntnssandbox: open \"sleepy_userns=/nonexistent/user\": ENOENT (2)",
    );
}

#[test]
fn the_user_namespace_is_joined_before_the_mount_namespace() {
    expect_failure(
        &[
            ("sleepy_mntns", "/nonexistent/mnt"),
            ("sleepy_userns", "/nonexistent/user"),
        ],
        "mntnssandbox: open \"sleepy_userns=/nonexistent/user\": ENOENT (2)",
    );
}

#[test]
fn an_empty_sleepy_userns_is_ignored() {
    expect_failure(
        &[("sleepy_userns", ""), ("sleepy_mntns", "/nonexistent/mnt")],
        "mntnssandbox: open \"sleepy_mntns=/nonexistent/mnt\": ENOENT (2)",
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
        &format!("mntnssandbox: join \"sleepy_mntns={path}\": EINVAL (22)"),
    );
}

#[test]
fn join_of_a_directory_is_einval() {
    expect_failure(
        &[("sleepy_mntns", "/")],
        "mntnssandbox: join \"sleepy_mntns=/\": EINVAL (22)",
    );
}

#[test]
fn join_of_the_wrong_namespace_type_is_einval() {
    expect_failure(
        &[("sleepy_mntns", "/proc/self/ns/net")],
        "mntnssandbox: join \"sleepy_mntns=/proc/self/ns/net\": EINVAL (22)",
    );
    expect_failure(
        &[
            ("sleepy_userns", "/proc/self/ns/mnt"),
            ("sleepy_mntns", "/proc/self/ns/mnt"),
        ],
        "mntnssandbox: join \"sleepy_userns=/proc/self/ns/mnt\": EINVAL (22)",
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
        "mntnssandbox: join \"sleepy_userns=/proc/self/ns/user\": EINVAL (22)",
    );
}

#[test]
fn quotes_backslashes_and_control_characters_are_escaped() {
    let path = "/nonexistent/a\"b\\c\nd\te\x7ff\x1bg\rh\x01";
    expect_failure(
        &[("sleepy_mntns", path)],
        "mntnssandbox: open \"sleepy_mntns=\
         /nonexistent/a\\x22b\\x5cc\\x0ad\\x09e\\x7ff\\x1bg\\x0dh\\x01\": ENOENT (2)",
    );
}

/// Input bytes of the quoted entry shown before it is cut with `...`.
const BUDGET: usize = 256;

/// The longest failure line: the prefix, step and errno (under 80 bytes) around an entry of
/// BUDGET bytes that all need escaping.
const MAX_LINE: usize = 80 + 4 * BUDGET;

/// The environment entry the sleeper quotes for `path`: `sleepy_mntns=<path>`.
fn entry(path: &[u8]) -> Vec<u8> {
    [b"sleepy_mntns=".as_slice(), path].concat()
}

/// The escaped form of `bytes`, one element per input byte.
fn escaped_units(bytes: &[u8]) -> Vec<String> {
    bytes
        .iter()
        .map(|&byte| match byte {
            b'"' | b'\\' | 0..=0x1f | 0x7f => format!("\\x{byte:02x}"),
            _ => (byte as char).to_string(),
        })
        .collect()
}

/// Runs with `sleepy_mntns=<path>`, expects `<step> "<shown>": <errno>` and returns `shown`,
/// the quoted entry as shown.
fn shown_entry(path: &[u8], step: &str, errno: &str) -> String {
    let mut command = sleeper_command(&[("sleepy_mntns", OsStr::from_bytes(path))]);
    let outcome = run_to_end(&mut command, "sleeper with a long path");
    let line = show(&outcome.stderr);
    let prefix = format!("mntnssandbox: {step} \"");
    let suffix = format!("\": {errno}\n");
    assert!(
        line.starts_with(&prefix) && line.ends_with(&suffix),
        "expected {prefix}...{suffix:?}, got {line:?}"
    );
    // Bounded: the whole line fits in one write whatever the path's length.
    assert!(
        line.len() <= MAX_LINE,
        "line of {} bytes (> {MAX_LINE}): {line:?}",
        line.len()
    );
    // Still the failure contract around it.
    outcome.assert_failure(line.trim_end_matches('\n'));
    line[prefix.len()..line.len() - suffix.len()].to_owned()
}

/// Checks that `shown` is `entry` cut: exactly its first BUDGET input bytes, each escaped as
/// needed, followed by `...`.
fn assert_cut(entry: &[u8], shown: &str) {
    assert!(
        entry.len() > BUDGET,
        "the test's entry of {} bytes is not long enough to be cut",
        entry.len()
    );
    let body = shown
        .strip_suffix("...")
        .unwrap_or_else(|| panic!("no `...` in cut entry {shown:?}"));
    assert_eq!(
        body,
        escaped_units(&entry[..BUDGET]).concat(),
        "the shown part must be the escaped first {BUDGET} bytes of the entry"
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
    let shown = shown_entry(&path, "open", "ENAMETOOLONG (36)");
    assert_cut(&entry(&path), &shown);
}

#[test]
fn a_long_path_of_control_characters_is_cut_between_escapes() {
    for offset in 0..4 {
        // Newlines after `offset` plain bytes, so the cut meets an escape at every phase.
        let mut path = b"/nonexistent/".to_vec();
        path.extend(std::iter::repeat_n(b'a', offset));
        path.extend(std::iter::repeat_n(b'\n', 300));
        let shown = shown_entry(&path, "open", "ENOENT (2)");
        assert_cut(&entry(&path), &shown);
    }
}

#[test]
fn an_entry_that_fits_is_shown_whole() {
    // Exactly 256 bytes, `sleepy_mntns=` included: shown whole, without `...`.
    let mut path = b"/nonexistent/".to_vec();
    path.resize(BUDGET - b"sleepy_mntns=".len(), b'a');
    assert_eq!(entry(&path).len(), BUDGET);
    let shown = shown_entry(&path, "open", "ENOENT (2)");
    assert_eq!(
        shown,
        show(&entry(&path)),
        "a 256-byte entry must not be cut"
    );

    // With escapes: 256 input bytes, the last a newline, that print as 259: still whole, as
    // the budget counts input bytes.
    path.pop();
    path.push(b'\n');
    assert_eq!(entry(&path).len(), BUDGET);
    let shown = shown_entry(&path, "open", "ENOENT (2)");
    assert_eq!(
        shown,
        escaped_units(&entry(&path)).concat(),
        "a 256-byte entry printing as 259 bytes must not be cut"
    );
}

#[test]
fn an_entry_one_byte_over_is_cut() {
    // 257 bytes: the first 256 shown, then `...`; the 256th is a whole escape.
    let mut path = b"/nonexistent/".to_vec();
    path.resize(BUDGET - b"sleepy_mntns=".len() - 1, b'a');
    path.extend_from_slice(b"\"b");
    assert_eq!(entry(&path).len(), BUDGET + 1);
    let shown = shown_entry(&path, "open", "ENOENT (2)");
    assert_cut(&entry(&path), &shown);
    assert!(shown.ends_with("a\\x22..."), "{shown:?}");
}
