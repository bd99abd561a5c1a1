//! The only arguments: `--help` and `--version`. Hosts run the sleeper with none.

use crate::env::strip_prefix;
use crate::report::usage;
use crate::sys::{exit_group, write};

/// `--help` starts with the `--version` line, then the usage line.
const HELP: &[u8] = concat!(
    "mntnssandbox ",
    env!("CARGO_PKG_VERSION"),
    "
usage: mntnssandbox [--help|--version]
Joins sleepy_userns= (optional) and sleepy_mntns=, says OK, sleeps
(to EOF on stdin if sleepy_lifeline=). Failure: exit 66.
"
)
.as_bytes();
const VERSION: &[u8] = first_line(HELP);
const USAGE: &[u8] = first_line(HELP.split_at(VERSION.len()).1);

/// `text` up to and including its first newline.
const fn first_line(text: &[u8]) -> &[u8] {
    let mut end = 0;
    while text[end] != b'\n' {
        end += 1;
    }
    text.split_at(end + 1).0
}

// The environment variables' prefixes, taken from the help text so that the bytes are stored
// once.
pub const SLEEPY_USERNS: &[u8] = within(HELP, b"sleepy_userns=");
pub const SLEEPY_MNTNS: &[u8] = within(HELP, b"sleepy_mntns=");
pub const SLEEPY_LIFELINE: &[u8] = within(HELP, b"sleepy_lifeline=");

/// The bytes of `text` that equal `part`; a compile-time error if there are none.
const fn within(text: &'static [u8], part: &[u8]) -> &'static [u8] {
    let mut rest = text;
    while rest.len() >= part.len() {
        let candidate = rest.split_at(part.len()).0;
        let mut i = 0;
        while i < part.len() && candidate[i] == part[i] {
            i += 1;
        }
        if i == part.len() {
            return candidate;
        }
        rest = rest.split_at(1).1;
    }
    panic!("not in the text")
}

/// Answers `--help` or `--version` (the only argument) and exits 0; anything else is a usage
/// error: `package mntnssandbox: <usage line>` on stderr, exit 2.
///
/// # Safety
/// `argv` must be the NULL-terminated argument vector with at least one argument after argv[0].
pub unsafe fn answer(argv: *const *const u8) -> ! {
    // SAFETY: argv[1] exists; argv[2] is the NULL terminator or another argument.
    let (first, second) = unsafe { (*argv.add(1), *argv.add(2)) };
    // SAFETY: `first` is a NUL-terminated string; the prefixes end in NUL: exact matches only.
    let text: Option<&[u8]> = unsafe {
        match () {
            _ if !second.is_null() => None,
            _ if strip_prefix(first, b"--help\0").is_some() => Some(HELP),
            _ if strip_prefix(first, b"--version\0").is_some() => Some(VERSION),
            _ => None,
        }
    };
    match text {
        Some(text) => {
            write(1, text);
            exit_group(0)
        }
        None => usage(USAGE),
    }
}
