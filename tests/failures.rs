//! The failure contract: exit 66, nothing on stdout, exactly one line on stderr, lxkns' own
//! line byte for byte (glibc's strerror texts from the test's own libc). None of these need
//! privileges (the kernel checks the namespace type before any permission), so they run for
//! any user.

mod common;

use common::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Unset or empty, `sleepy_mntns` fails as opening the empty path does.
const UNSET: &str =
    "package mntnssandbox: invalid mount namespace reference \"\": No such file or directory";

#[test]
fn the_unset_line_is_what_lxkns_would_print_for_an_empty_path() {
    assert_eq!(UNSET, invalid_reference("mount", "", ENOENT));
}

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
        .assert_failure(&invalid_reference("mount", "/nonexistent/first", ENOENT));
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
        .assert_failure(&invalid_reference("user", "/nonexistent/user1", ENOENT));
}

#[test]
fn open_of_a_missing_mount_namespace_is_enoent() {
    expect_failure(
        &[("sleepy_mntns", "/nonexistent/mnt")],
        &invalid_reference("mount", "/nonexistent/mnt", ENOENT),
    );
}

#[test]
fn open_of_a_missing_user_namespace_is_enoent() {
    expect_failure(
        &[
            ("sleepy_userns", "/nonexistent/user"),
            ("sleepy_mntns", "/proc/self/ns/mnt"),
        ],
        &invalid_reference("user", "/nonexistent/user", ENOENT),
    );
}

#[test]
fn the_user_namespace_is_joined_before_the_mount_namespace() {
    expect_failure(
        &[
            ("sleepy_mntns", "/nonexistent/mnt"),
            ("sleepy_userns", "/nonexistent/user"),
        ],
        &invalid_reference("user", "/nonexistent/user", ENOENT),
    );
}

#[test]
fn an_empty_sleepy_userns_is_ignored() {
    expect_failure(
        &[("sleepy_userns", ""), ("sleepy_mntns", "/nonexistent/mnt")],
        &invalid_reference("mount", "/nonexistent/mnt", ENOENT),
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
        &cannot_join("mount", &path, EINVAL),
    );
}

#[test]
fn join_of_a_directory_is_einval() {
    expect_failure(&[("sleepy_mntns", "/")], &cannot_join("mount", "/", EINVAL));
}

#[test]
fn join_of_the_wrong_namespace_type_is_einval() {
    expect_failure(
        &[("sleepy_mntns", "/proc/self/ns/net")],
        &cannot_join("mount", "/proc/self/ns/net", EINVAL),
    );
    expect_failure(
        &[
            ("sleepy_userns", "/proc/self/ns/mnt"),
            ("sleepy_mntns", "/proc/self/ns/mnt"),
        ],
        &cannot_join("user", "/proc/self/ns/mnt", EINVAL),
    );
}

#[test]
fn quotes_and_backslashes_are_shown_as_given_and_control_characters_in_caret_notation() {
    // lxkns prints the path with %s: `"` and `\` as they are. Only control characters, which
    // would break the line, are shown as `cat -v` does.
    let path = "/nonexistent/a\"b\\c\nd\te\x7ff\x1bg\rh\x01";
    expect_failure(
        &[("sleepy_mntns", path)],
        &invalid_reference("mount", "/nonexistent/a\"b\\c^Jd^Ie^?f^[g^Mh^A", ENOENT),
    );
}

#[test]
fn a_printable_path_is_shown_byte_for_byte() {
    let mut path = b"/nonexistent/".to_vec();
    path.extend((0x20..0x7f).chain(0x80..=0xff));
    let mut command = sleeper_command(&[("sleepy_mntns", OsStr::from_bytes(&path))]);
    let outcome = run_to_end(
        &mut command,
        "sleeper with every printable byte in its path",
    );
    let mut expected = b"package mntnssandbox: invalid mount namespace reference \"".to_vec();
    expected.extend_from_slice(&path);
    expected.extend_from_slice(b"\": No such file or directory\n");
    assert_eq!(show(&outcome.stderr), show(&expected));
    assert_eq!(outcome.stderr, expected, "byte for byte");
    assert_eq!(outcome.status.code(), Some(EXIT_FAILURE));
}

/// Bytes of the path as shown (caret escapes count two) before it is cut with `...`.
const BUDGET: usize = 3840;

/// The shown form of `bytes`, one element per input byte.
fn shown_units(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .iter()
        .map(|&byte| match byte {
            0..=0x1f | 0x7f => vec![b'^', byte ^ 0x40],
            _ => vec![byte],
        })
        .collect()
}

/// Runs with `sleepy_mntns=<path>`, expects the open failure with `errno` and returns the
/// path as shown.
fn shown_path(path: &[u8], errno: i32) -> Vec<u8> {
    let mut command = sleeper_command(&[("sleepy_mntns", OsStr::from_bytes(path))]);
    let outcome = run_to_end(&mut command, "sleeper with a long path");
    let line = &outcome.stderr;
    let prefix = b"package mntnssandbox: invalid mount namespace reference \"";
    let suffix = format!("\": {}\n", strerror(errno));
    assert!(
        line.starts_with(prefix) && line.ends_with(suffix.as_bytes()),
        "expected {}...{suffix:?}, got {:?}",
        show(prefix),
        show(line)
    );
    // Bounded: the whole line fits in PIPE_BUF, one atomic write, whatever the path's length.
    assert!(line.len() <= 4096, "line of {} bytes", line.len());
    outcome.assert_failure(show(line).trim_end_matches('\n'));
    line[prefix.len()..line.len() - suffix.len()].to_vec()
}

/// Checks that `shown` is `path` cut: the longest run of its whole shown units within
/// BUDGET - 3 bytes, then `...`.
fn assert_cut(path: &[u8], shown: &[u8]) {
    let body = shown
        .strip_suffix(b"...")
        .unwrap_or_else(|| panic!("no `...` in cut path {:?}", show(shown)));
    let units = shown_units(path);
    let mut expected = Vec::new();
    let mut whole = 0;
    for unit in &units {
        if expected.len() + unit.len() > BUDGET - 3 {
            break;
        }
        expected.extend(unit);
        whole += 1;
    }
    assert!(
        whole < units.len(),
        "the test's path is not long enough to be cut"
    );
    assert_eq!(show(body), show(&expected), "the shown part of a cut path");
}

#[test]
fn an_overlong_path_is_enametoolong_and_shown_cut() {
    // 5000 bytes, in components short enough that only the total length is too long.
    let mut path = b"/nonexistent".to_vec();
    while path.len() < 5000 {
        path.extend_from_slice(b"/0123456789abcdefghijklmnopqrstuvwxyz");
    }
    let shown = shown_path(&path, ENAMETOOLONG);
    assert_cut(&path, &shown);
}

#[test]
fn a_long_path_of_control_characters_is_cut_between_escapes() {
    for offset in 0..2 {
        // Newlines after `offset` plain bytes, so the cut meets an escape at either phase.
        let mut path = b"/nonexistent/".to_vec();
        path.extend(std::iter::repeat_n(b'a', offset));
        path.extend(std::iter::repeat_n(b'\n', 2000));
        let shown = shown_path(&path, ENOENT);
        assert_cut(&path, &shown);
    }
}

#[test]
fn a_path_that_fits_is_shown_whole() {
    // Exactly BUDGET bytes: shown whole, without `...`.
    let mut path = b"/nonexistent/".to_vec();
    path.resize(BUDGET, b'a');
    assert_eq!(
        shown_path(&path, ENOENT),
        path,
        "a {BUDGET}-byte path must not be cut"
    );

    // With an escape: BUDGET - 1 input bytes, the last a newline, that show as BUDGET.
    path.truncate(BUDGET - 2);
    path.push(b'\n');
    assert_eq!(
        show(&shown_path(&path, ENOENT)),
        show(&shown_units(&path).concat()),
        "a path showing as {BUDGET} bytes must not be cut"
    );
}

#[test]
fn a_path_one_byte_over_is_cut() {
    // BUDGET + 1 bytes: cut after BUDGET - 3, then `...`; the last shown unit is whole.
    let mut path = b"/nonexistent/".to_vec();
    path.resize(BUDGET - 4, b'a');
    path.extend_from_slice(b"\x01b");
    path.resize(BUDGET + 1, b'c');
    let shown = shown_path(&path, ENOENT);
    assert_cut(&path, &shown);
    assert!(
        shown.ends_with(b"a..."),
        "{:?}",
        show(&shown[shown.len() - 8..])
    );
}
