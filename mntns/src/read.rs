//! `mntns cat` and `mntns ls`: content and names from a hostile namespace, made safe to print.

use crate::nsarg::NamespaceArg;
use crate::{builder, fail, write_failed, Cli, Outcome};
use mntnssandbox_host::{DirEntry, ReadPolicy};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub(crate) fn cat(
    cli: &Cli,
    nsref: &NamespaceArg,
    path: &Path,
    max_bytes: Option<u64>,
    allow_pseudo_filesystems: bool,
) -> Outcome {
    let policy = ReadPolicy::new()
        .max_bytes(max_bytes.unwrap_or(u64::MAX))
        .allow_pseudo_filesystems(allow_pseudo_filesystems);
    let sandbox = builder(cli, nsref)?.spawn().map_err(fail)?;
    let mut out = io::stdout().lock();
    sandbox.copy_to(path, &mut out, policy).map_err(fail)?;
    out.flush().map_err(write_failed)?;
    sandbox.close().map_err(fail)
}

pub(crate) fn ls(
    cli: &Cli,
    nsref: &NamespaceArg,
    path: &Path,
    zero: bool,
    unsorted: bool,
    allow_pseudo_filesystems: bool,
) -> Outcome {
    let mut sandbox = builder(cli, nsref)?.spawn().map_err(fail)?;
    sandbox.set_read_policy(ReadPolicy::new().allow_pseudo_filesystems(allow_pseudo_filesystems));
    let mut entries = sandbox.read_dir(path).map_err(fail)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut line = Vec::new();
    let mut print = |name: &[u8]| -> Outcome {
        line.clear();
        if zero {
            line.extend_from_slice(name);
            line.push(0);
        } else {
            escape_name(name, &mut line);
            line.push(b'\n');
        }
        out.write_all(&line).map_err(write_failed)
    };
    if unsorted {
        // As read, one batch at a time: memory stays flat whatever the directory holds.
        for entry in entries {
            print(entry.map_err(fail)?.file_name().as_bytes())?;
        }
    } else {
        let mut names = entries
            .by_ref()
            .map(|entry| entry.map(DirEntry::into_file_name))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        names.sort();
        for name in &names {
            print(name.as_bytes())?;
        }
    }
    out.flush().map_err(write_failed)?;
    drop(out);
    sandbox.close().map_err(fail)
}

/// `name` escaped as [`escape_name`] does, as a string.
pub(crate) fn escaped(name: &[u8]) -> String {
    let mut out = Vec::with_capacity(name.len());
    escape_name(name, &mut out);
    // Printable ASCII only.
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends `name` escaped as GNU `ls -b` does in the C locale: C escapes for the usual control
/// characters, `\\` and `\ `, three-digit octal for every other byte outside printable ASCII.
/// The result is printable ASCII without a newline, whatever the name holds.
pub(crate) fn escape_name(name: &[u8], out: &mut Vec<u8>) {
    escape(name, out, true);
}

/// Appends `text` escaped as [`escape_name`] does, but for its spaces, which stay: for text
/// that ends a line (the last column of `mntns ps`), where a space cannot pass for a separator.
pub(crate) fn escape_text(text: &[u8], out: &mut Vec<u8>) {
    escape(text, out, false);
}

fn escape(bytes: &[u8], out: &mut Vec<u8>, escape_spaces: bool) {
    for &byte in bytes {
        let named = match byte {
            0x07 => Some(b'a'),
            0x08 => Some(b'b'),
            b'\t' => Some(b't'),
            b'\n' => Some(b'n'),
            0x0b => Some(b'v'),
            0x0c => Some(b'f'),
            b'\r' => Some(b'r'),
            b'\\' => Some(byte),
            b' ' if escape_spaces => Some(byte),
            _ => None,
        };
        match named {
            Some(letter) => out.extend_from_slice(&[b'\\', letter]),
            None if (0x20..0x7f).contains(&byte) => out.push(byte),
            None => out.extend_from_slice(&[
                b'\\',
                b'0' + (byte >> 6),
                b'0' + ((byte >> 3) & 7),
                b'0' + (byte & 7),
            ]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{escape_name, escape_text};

    fn escaped(name: &[u8]) -> String {
        let mut out = Vec::new();
        escape_name(name, &mut out);
        String::from_utf8(out).expect("escaped names are ASCII")
    }

    #[test]
    fn escapes_as_ls_b_in_the_c_locale() {
        assert_eq!(escaped(b"a\x1b]0;t\x07b"), r"a\033]0;t\ab");
        assert_eq!(escaped(b"new\nline"), r"new\nline");
        assert_eq!(escaped(b"sp ace"), r"sp\ ace");
        assert_eq!(escaped(b"back\\slash"), r"back\\slash");
        assert_eq!(escaped(b"x\x7fy\x01z"), r"x\177y\001z");
        assert_eq!(escaped("café".as_bytes()), r"caf\303\251");
        assert_eq!(escaped(b"q\"uote'"), "q\"uote'");
        assert_eq!(escaped(b"\x08\x0b\x0c\r\t"), r"\b\v\f\r\t");
    }

    #[test]
    fn text_keeps_its_spaces_and_nothing_else() {
        let mut out = Vec::new();
        escape_text(b"Debian 12 \x1b]0;t\x07\n\\", &mut out);
        assert_eq!(out, br"Debian 12 \033]0;t\a\n\\");
    }
}
