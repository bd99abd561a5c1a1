//! `mntns ps`: the running containers of the engines found, each with the `PRETTY_NAME` of its
//! os-release, read safely through its process.
//!
//! Everything that comes from a container (its os-release, and its name) is hostile: it is
//! printed escaped as `mntns ls` escapes names, so that it cannot move the cursor, retitle the
//! terminal or pass for another line.

use crate::engines::{self, Engine, EngineError, Running};
use crate::read::{escape_name, escape_text};
use crate::{builder, complain, fail, write_failed, Cli, Outcome};
use mntnssandbox_host::{Error, NamespaceRef, ReadPolicy};
use std::io::{self, Write};

/// os-release is a few hundred bytes; a larger one is not read for the sake of one line.
const OS_RELEASE_MAX_BYTES: u64 = 64 * 1024;

/// Where os-release(5) is, in order: the second only when the first does not exist.
const OS_RELEASE_PATHS: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// What a column shows when there is nothing to show (a PRETTY_NAME that could not be read).
const NOTHING: &[u8] = b"-";

const HEADER: [&[u8]; 4] = [b"ENGINE", b"NAME", b"PID", b"PRETTY_NAME"];

/// Between columns.
const GAP: &[u8] = b"  ";

pub(crate) fn ps(cli: &Cli) -> Outcome {
    if cli.userns.is_some() || !cli.within.is_empty() {
        return Err(
            "ps: --userns and --in do not apply: each container is read through its own process"
                .into(),
        );
    }
    let mut containers = Vec::new();
    let mut any_on_path = false;
    for engine in Engine::ALL {
        match engines::running(engine) {
            Ok(running) => {
                any_on_path = true;
                containers.extend(running);
            }
            Err(EngineError::NotFound(_)) => {}
            // docker without a reachable daemon, say: the other engine's containers still count.
            Err(error @ EngineError::Failed(_)) => {
                any_on_path = true;
                complain(format!("{engine}: skipped: {error}"));
            }
        }
    }
    if !any_on_path {
        return Err("ps: neither podman nor docker is on PATH".into());
    }
    containers.sort_by(|a, b| (a.engine, &a.name).cmp(&(b.engine, &b.name)));

    let rows: Vec<[Vec<u8>; 4]> = containers
        .iter()
        .map(|container| {
            let mut name = Vec::new();
            escape_name(container.name.as_bytes(), &mut name);
            let mut pretty = Vec::new();
            match pretty_name_of(cli, container) {
                Ok(Some(value)) if !value.is_empty() => escape_text(&value, &mut pretty),
                Ok(_) => pretty.extend_from_slice(NOTHING),
                Err(why) => {
                    pretty.extend_from_slice(NOTHING);
                    complain(format!(
                        "{}:{}: {why}",
                        container.engine,
                        String::from_utf8_lossy(&name)
                    ));
                }
            }
            [
                container.engine.command().as_bytes().to_vec(),
                name,
                container.pid.to_string().into_bytes(),
                pretty,
            ]
        })
        .collect();
    print_table(&rows).map_err(write_failed)
}

/// The header and the rows, every column but the last padded to its widest cell. Cells are
/// printable ASCII (escaped), so bytes are columns.
fn print_table(rows: &[[Vec<u8>; 4]]) -> io::Result<()> {
    let header = HEADER.map(<[u8]>::to_vec);
    let mut widths = [0; 3];
    for row in std::iter::once(&header).chain(rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    for row in std::iter::once(&header).chain(rows) {
        for (cell, width) in row.iter().zip(widths) {
            out.write_all(cell)?;
            out.write_all(&b" ".repeat(width - cell.len()))?;
            out.write_all(GAP)?;
        }
        out.write_all(&row[3])?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// The raw PRETTY_NAME of a container's os-release, read through its process; `None` when the
/// file sets none.
fn pretty_name_of(cli: &Cli, container: &Running) -> Result<Option<Vec<u8>>, String> {
    let process = NamespaceRef::Pid(container.pid);
    // The container's user namespace is joined only where it is needed (an unprivileged user's
    // rootless containers); root on the host reads without it.
    let sandbox = builder(cli, &process.clone().into())?
        .user_namespace(process)
        .spawn()
        .map_err(fail)?;
    let policy = ReadPolicy::new().max_bytes(OS_RELEASE_MAX_BYTES);
    let [etc, usr_lib] = OS_RELEASE_PATHS;
    let content = match sandbox.read_with(etc, policy) {
        Err(missing) if is_enoent(&missing) => match sandbox.read_with(usr_lib, policy) {
            // Neither there: say so of the usual one.
            Err(also_missing) if is_enoent(&also_missing) => Err(missing),
            other => other,
        },
        other => other,
    }
    .map_err(fail)?;
    sandbox.close().map_err(fail)?;
    Ok(pretty_name(&content))
}

fn is_enoent(error: &Error) -> bool {
    error.raw_os_error() == Some(libc::ENOENT)
}

/// The value of the last `PRETTY_NAME=` assignment in an os-release file, raw.
///
/// os-release(5) is a list of shell variable assignments, so values are unquoted as the shell
/// would: double quotes (with `\"`, `\\`, `\$` and `` \` `` escapes), single quotes, and
/// backslashes outside quotes. A quoted value may span lines; lines that are not assignments
/// (comments, blank lines) are skipped.
fn pretty_name(os_release: &[u8]) -> Option<Vec<u8>> {
    let mut found = None;
    let mut rest = os_release;
    while !rest.is_empty() {
        let line_start = rest.trim_ascii_start();
        let key_end = line_start
            .iter()
            .position(|&byte| !(byte.is_ascii_alphanumeric() || byte == b'_'))
            .unwrap_or(line_start.len());
        let after_line = if line_start.get(key_end) == Some(&b'=') {
            let (value, after) = shell_word(&line_start[key_end + 1..]);
            if &line_start[..key_end] == b"PRETTY_NAME" {
                found = Some(value);
            }
            after
        } else {
            line_start
        };
        rest = match after_line.iter().position(|&byte| byte == b'\n') {
            Some(newline) => &after_line[newline + 1..],
            None => &[],
        };
    }
    found
}

/// The shell word at the start of `text`, unquoted, and what follows it.
fn shell_word(text: &[u8]) -> (Vec<u8>, &[u8]) {
    let mut word = Vec::new();
    let mut at = 0;
    while let Some(&byte) = text.get(at) {
        match byte {
            b'"' => {
                at += 1;
                while let Some(&inner) = text.get(at) {
                    if inner == b'"' {
                        break;
                    }
                    match (inner, text.get(at + 1)) {
                        // A line continuation: nothing.
                        (b'\\', Some(b'\n')) => at += 2,
                        (b'\\', Some(&escaped @ (b'"' | b'\\' | b'$' | b'`'))) => {
                            word.push(escaped);
                            at += 2;
                        }
                        _ => {
                            word.push(inner);
                            at += 1;
                        }
                    }
                }
                at += 1; // the closing quote
            }
            b'\'' => {
                at += 1;
                while let Some(&inner) = text.get(at) {
                    at += 1;
                    if inner == b'\'' {
                        break;
                    }
                    word.push(inner);
                }
            }
            b'\\' => {
                match text.get(at + 1) {
                    Some(b'\n') | None => {}
                    Some(&escaped) => word.push(escaped),
                }
                at += 2;
            }
            b' ' | b'\t' | b'\n' => break,
            _ => {
                word.push(byte);
                at += 1;
            }
        }
    }
    (word, text.get(at..).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::pretty_name;

    fn pretty(os_release: &str) -> Option<String> {
        pretty_name(os_release.as_bytes()).map(|value| String::from_utf8(value).unwrap())
    }

    #[test]
    fn pretty_name_is_unquoted_as_the_shell_would() {
        let debian = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n";
        assert_eq!(
            pretty(debian).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(pretty("PRETTY_NAME=plain").as_deref(), Some("plain"));
        assert_eq!(
            pretty("PRETTY_NAME='single \"q\"'").as_deref(),
            Some("single \"q\"")
        );
        assert_eq!(
            pretty(r#"PRETTY_NAME="a \"b\" \\ \$c \`d\` \e""#).as_deref(),
            Some(r#"a "b" \ $c `d` \e"#)
        );
        assert_eq!(
            pretty(r"PRETTY_NAME=un\ quoted").as_deref(),
            Some("un quoted")
        );
        assert_eq!(pretty("NAME=x\n").as_deref(), None);
        assert_eq!(pretty("PRETTY_NAME=").as_deref(), Some(""));
        // The last assignment wins; comments and blank lines are no assignments.
        assert_eq!(
            pretty("# PRETTY_NAME=comment\n\nPRETTY_NAME=one\nPRETTY_NAME=two\n").as_deref(),
            Some("two")
        );
    }

    #[test]
    fn a_quoted_value_may_span_lines_and_hold_anything() {
        let hostile = "PRETTY_NAME=\"evil\x1b]0;pwned\x07\x1b[2J\nsecond line\"\nID=x\n";
        assert_eq!(
            pretty(hostile).as_deref(),
            Some("evil\x1b]0;pwned\x07\x1b[2J\nsecond line")
        );
        // A line inside another variable's quoted value is not an assignment.
        let smuggled = "PRETTY_NAME=real\nNAME=\"x\nPRETTY_NAME=fake\"\n";
        assert_eq!(pretty(smuggled).as_deref(), Some("real"));
        // Unterminated: up to the end.
        assert_eq!(pretty("PRETTY_NAME=\"open").as_deref(), Some("open"));
    }
}
