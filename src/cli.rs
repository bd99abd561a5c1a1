//! The only arguments: `--help` and `--version`. Hosts run the sleeper with none.

use crate::env::strip_prefix;
use crate::sys::{exit_group, write};

/// The help's first line is the usage line.
const HELP: &[u8] = b"\
usage: mntnssandbox [--help | --version]
Joins the namespaces at $sleepy_userns (optional) and $sleepy_mntns, says OK on
stdout, sleeps; with $sleepy_lifeline, exits 0 at EOF on stdin. Fails: exit 66.
";
const USAGE: &[u8] = HELP.split_at(41).0;

const VERSION: &str = concat!("mntnssandbox ", env!("CARGO_PKG_VERSION"), "\n");

/// Answers `--help` or `--version` (the only argument) and exits 0; anything else is a usage
/// error: the usage line on stderr, exit 2.
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
            _ if strip_prefix(first, b"--version\0").is_some() => Some(VERSION.as_bytes()),
            _ => None,
        }
    };
    match text {
        Some(text) => {
            write(1, text);
            exit_group(0)
        }
        None => {
            write(2, USAGE);
            exit_group(2)
        }
    }
}
