//! The one error type of this crate, and errno names for its messages.

use crate::FileKind;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Everything that can go wrong when spawning a sleeper, reading through it, or closing it.
///
/// Messages name paths and errno values the way the sleeper does (`ENOENT (2)`), so that a
/// command-line tool can print `tool: {error}` and be done. `Debug` prints the same line, so
/// that `fn main() -> Result<(), Error>` reports `Error: <the message>`.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sleeper binary does not exist at `path`.
    #[error("sleeper {path:?} not found")]
    SleeperNotFound {
        /// The path that was tried.
        path: PathBuf,
    },

    /// No sleeper was configured and none was found where one is looked for by default.
    #[error(
        "no mntnssandbox sleeper found: set MNTNSSANDBOX_BINARY, or put mntnssandbox beside \
         this program or on PATH (or build mntnssandbox-host with its embedded-sleeper feature)"
    )]
    NoSleeper,

    /// The sleeper exists but cannot be executed (no exec permission, not a program, ...).
    #[error("sleeper {path:?} is not executable: {}", OsError(.source))]
    SleeperNotExecutable {
        /// The path that was tried.
        path: PathBuf,
        /// Why the kernel refused to execute it (`EACCES`, `ENOEXEC`, ...).
        source: io::Error,
    },

    /// The sleeper exited before its handshake: it could not join the namespace (its one
    /// stderr line says why) or it failed in some other way.
    #[error("{} ({status})", refusal(.message))]
    NamespaceRefused {
        /// What the sleeper wrote to stderr, trailing newline removed (normally one line such
        /// as `package mntnssandbox: invalid mount namespace reference "/x": No such file or
        /// directory`).
        message: String,
        /// How the sleeper ended (exit status 66 for a refusal).
        status: ExitStatus,
    },

    /// The sleeper said nothing (neither `OK` nor an error) within the timeout; it was killed.
    #[error("no handshake from sleeper {pid} within {timeout:?}")]
    Timeout {
        /// The sleeper's process ID (reaped by now).
        pid: u32,
        /// The timeout that expired.
        timeout: Duration,
    },

    /// The sleeper wrote something other than exactly `OK\n` to stdout; it was killed.
    #[error("unexpected handshake from sleeper {pid}: \"{}\"", .received.escape_ascii())]
    UnexpectedHandshake {
        /// The sleeper's process ID (reaped by now).
        pid: u32,
        /// The bytes received on the sleeper's stdout.
        received: Vec<u8>,
    },

    /// The sleeper died after its handshake (killed from outside, for instance).
    #[error("sleeper {pid} died ({status})")]
    SleeperDied {
        /// The sleeper's process ID (reaped by now).
        pid: u32,
        /// How it ended.
        status: ExitStatus,
    },

    /// An operation found the sleeper dead; the namespace can no longer be trusted to be there.
    #[error("sleeper {pid} is gone")]
    SleeperGone {
        /// The sleeper's process ID.
        pid: u32,
    },

    /// This process ignores SIGCHLD (`SIG_IGN` or `SA_NOCLDWAIT`), so the kernel would reap a
    /// sleeper as soon as it exits, and clone3 (which names the child by a pidfd from the
    /// start) is not available: a pidfd taken after a `Command` spawn could find no process or,
    /// once its PID is reused, a stranger. Nothing was spawned.
    #[error(
        "SIGCHLD is ignored in this process (SIG_IGN or SA_NOCLDWAIT) and clone3 is not \
         available: a sleeper could not be named safely; restore SIGCHLD's default action"
    )]
    SigchldIgnored,

    /// The kernel lacks openat2(2) with `RESOLVE_IN_ROOT`, without which paths cannot be
    /// resolved safely inside the namespace.
    #[error("openat2 (Linux 5.6+) is required to resolve paths inside the namespace safely")]
    Openat2Unsupported,

    /// A namespace reference names something other than a namespace of the kind wanted (a
    /// FIFO, a regular file, a user namespace where a mount namespace was wanted, ...). It was
    /// not opened for reading unless it is a namespace file, so nothing blocked.
    #[error("invalid {wanted} namespace reference {path:?}: {found}, not a {wanted} namespace")]
    NotANamespace {
        /// The reference as given.
        path: PathBuf,
        /// The kind wanted: `mount` or `user`.
        wanted: &'static str,
        /// What it is instead: `a FIFO`, `a regular file`, `a user namespace`, ...
        found: String,
    },

    /// `/proc` is not the procfs of this process's PID namespace, so `/proc/<pid>` would name
    /// another process than `pid`.
    #[error(
        "/proc belongs to another PID namespace (/proc/self is {seen:?}, this process is PID \
         {pid}): a PID would name someone else; mount a procfs of this PID namespace"
    )]
    ForeignProcfs {
        /// What `/proc/self` says (our PID as that procfs' namespace sees it, if at all).
        seen: String,
        /// Our PID in our own PID namespace.
        pid: u32,
    },

    /// The entering thread did not come back within the builder's timeout (a kernel lock held
    /// long, a file system that hangs): it was abandoned, and the next request starts another.
    #[error("the entering thread did not come back within {timeout:?}: abandoned")]
    EnterTimeout {
        /// The timeout that expired.
        timeout: Duration,
    },

    /// Accessing `path` inside the sandbox's root failed.
    #[error("{op} {path:?}: {}", OsError(.source))]
    Access {
        /// What was being done: `open`, `read`, `list`, `stat`, `canonicalize`, ...
        op: &'static str,
        /// The path as given, relative to the sandbox's root.
        path: PathBuf,
        /// The underlying error; [`io::Error::raw_os_error`] gives the errno.
        source: io::Error,
    },

    /// `op` on `path` was refused (EACCES) within the authority bound: the mount namespace is
    /// owned by another user namespace, and operations in it run with no more authority than
    /// its root's (see [`Authority`](crate::Authority)). Where the namespace's root could have
    /// read it by CAP_DAC_OVERRIDE over a user mapped into its namespace (a `0600` file of
    /// another mapped user), the bound is stricter than that root; never the other way round.
    #[error(
        "{op} {path:?}: EACCES ({}): beyond the authority of the namespace's root (fsuid {uid}, \
         fsgid {gid}, no groups, no capabilities)",
        libc::EACCES
    )]
    BeyondAuthority {
        /// What was being done: `open`, `list`, `stat`, ...
        op: &'static str,
        /// The path as given, inside the sandbox's root.
        path: PathBuf,
        /// The fsuid the operation ran with.
        uid: u32,
        /// The fsgid the operation ran with.
        gid: u32,
    },

    /// `path` names something other than a regular file (a FIFO, a device, a socket, a
    /// directory): its content is not read, and it was not even opened, so nothing blocks
    /// and no device is touched.
    #[error("{path:?}: not a regular file: {kind}")]
    NotRegularFile {
        /// The path as given, inside the sandbox's root.
        path: PathBuf,
        /// What it is.
        kind: FileKind,
    },

    /// `path` is on a kernel pseudo-filesystem (procfs, sysfs, ...), whose content the host
    /// would read with its own credentials; refused unless the
    /// [`ReadPolicy`](crate::ReadPolicy) allows it.
    #[error("{path:?}: on {filesystem}, a kernel pseudo-filesystem (not read by default)")]
    PseudoFilesystem {
        /// The path as given, inside the sandbox's root.
        path: PathBuf,
        /// The file system's name, as in [`PSEUDO_FILESYSTEMS`](crate::PSEUDO_FILESYSTEMS).
        filesystem: &'static str,
    },

    /// `path` is larger than the cap on whole-file reads (or grew past it while being read);
    /// nothing of it is returned.
    #[error("{path:?}: {}", too_large(*.size, *.max_bytes, *.grew))]
    TooLarge {
        /// The path as given, inside the sandbox's root.
        path: PathBuf,
        /// Its size when opened; if it `grew`, the bytes read before it passed the cap.
        size: u64,
        /// The cap.
        max_bytes: u64,
        /// Whether it was within the cap when opened and grew past it while being read.
        grew: bool,
    },

    /// A system call of the host side itself failed (creating a pipe, spawning, polling, ...).
    #[error("{what}: {}", OsError(.source))]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
}

impl Error {
    /// The errno behind this error, if there is one (for [`Error::Access`], [`Error::Io`],
    /// [`Error::SleeperNotExecutable`], and EACCES for [`Error::BeyondAuthority`]).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::BeyondAuthority { .. } => Some(libc::EACCES),
            Error::Access { source, .. }
            | Error::Io { source, .. }
            | Error::SleeperNotExecutable { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    pub(crate) fn io(what: impl Into<String>, source: impl Into<io::Error>) -> Self {
        Error::Io {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// The message, as `Display` writes it: what `main` returning an `Err` prints.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<Error> for io::Error {
    /// Keeps the errno where there is one (so `raw_os_error` still works), and the whole
    /// [`Error`] as the payload otherwise.
    fn from(error: Error) -> Self {
        match error {
            Error::Access { source, .. } | Error::Io { source, .. } => source,
            Error::SleeperNotFound { .. } | Error::NoSleeper => {
                io::Error::new(io::ErrorKind::NotFound, error)
            }
            Error::Timeout { .. } | Error::EnterTimeout { .. } => {
                io::Error::new(io::ErrorKind::TimedOut, error)
            }
            Error::NotANamespace { .. } => io::Error::new(io::ErrorKind::InvalidInput, error),
            Error::BeyondAuthority { .. } => io::Error::new(io::ErrorKind::PermissionDenied, error),
            Error::NotRegularFile { .. } | Error::PseudoFilesystem { .. } => {
                io::Error::new(io::ErrorKind::InvalidInput, error)
            }
            Error::TooLarge { .. } => io::Error::new(io::ErrorKind::FileTooLarge, error),
            other => io::Error::other(other),
        }
    }
}

fn too_large(size: u64, max_bytes: u64, grew: bool) -> String {
    if grew {
        format!("grew past the limit of {max_bytes} bytes while being read")
    } else {
        format!("too large: {size} bytes, over the limit of {max_bytes}")
    }
}

/// The sleeper's own line without its `package mntnssandbox: ` prefix, or a placeholder.
fn refusal(message: &str) -> String {
    let message = message.trim_end();
    if message.is_empty() {
        "sleeper exited without a handshake or a message".to_owned()
    } else if let Some(own) = message.strip_prefix("package mntnssandbox: ") {
        own.to_owned()
    } else {
        format!("sleeper failed: {message}")
    }
}

/// Converts rustix's errno into std's error, keeping the number (rustix's `std` feature,
/// which would do this, must stay off; see the crate's Cargo.toml).
pub(crate) fn from_errno(errno: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(errno.raw_os_error())
}

/// Displays an [`io::Error`] as `ENOENT (2)` when it carries an errno, as itself otherwise.
pub struct OsError<'a>(pub &'a io::Error);

impl fmt::Display for OsError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.raw_os_error() {
            Some(code) => match errno_name(code) {
                Some(name) => write!(f, "{name} ({code})"),
                None => write!(f, "errno {code}"),
            },
            None => match self.0.get_ref() {
                Some(inner) => write!(f, "{inner}"),
                None => write!(f, "{}", self.0),
            },
        }
    }
}

/// The symbolic name of the common errno values (`2` → `ENOENT`), `None` for the rest.
pub fn errno_name(code: i32) -> Option<&'static str> {
    use libc::*;
    Some(match code {
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        ESRCH => "ESRCH",
        EINTR => "EINTR",
        EIO => "EIO",
        ENXIO => "ENXIO",
        E2BIG => "E2BIG",
        ENOEXEC => "ENOEXEC",
        EBADF => "EBADF",
        ECHILD => "ECHILD",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        EXDEV => "EXDEV",
        ENODEV => "ENODEV",
        ENOTDIR => "ENOTDIR",
        EISDIR => "EISDIR",
        EINVAL => "EINVAL",
        ENFILE => "ENFILE",
        EMFILE => "EMFILE",
        ETXTBSY => "ETXTBSY",
        EFBIG => "EFBIG",
        ENOSPC => "ENOSPC",
        EROFS => "EROFS",
        EPIPE => "EPIPE",
        ENAMETOOLONG => "ENAMETOOLONG",
        ENOSYS => "ENOSYS",
        ENOTEMPTY => "ENOTEMPTY",
        ELOOP => "ELOOP",
        EOVERFLOW => "EOVERFLOW",
        EUSERS => "EUSERS",
        EOPNOTSUPP => "EOPNOTSUPP",
        ETIMEDOUT => "ETIMEDOUT",
        ESTALE => "ESTALE",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_show_in_messages() {
        let error = Error::Access {
            op: "open",
            path: "/missing".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(error.to_string(), r#"open "/missing": ENOENT (2)"#);
        assert_eq!(error.raw_os_error(), Some(libc::ENOENT));
        assert_eq!(
            OsError(&io::Error::from_raw_os_error(4095)).to_string(),
            "errno 4095"
        );
        assert_eq!(OsError(&io::Error::other("custom")).to_string(), "custom");
    }

    #[test]
    fn refusal_drops_the_sleeper_prefix() {
        use std::os::unix::process::ExitStatusExt;
        let error = Error::NamespaceRefused {
            message: "package mntnssandbox: invalid mount namespace reference \"/x\": \
                      No such file or directory\n"
                .into(),
            status: ExitStatus::from_raw(66 << 8),
        };
        assert_eq!(
            error.to_string(),
            r#"invalid mount namespace reference "/x": No such file or directory (exit status: 66)"#
        );
        // A line without the prefix is not the sleeper's: shown as it came.
        let other = Error::NamespaceRefused {
            message: "mntnssandbox: something else\n".into(),
            status: ExitStatus::from_raw(66 << 8),
        };
        assert_eq!(
            other.to_string(),
            "sleeper failed: mntnssandbox: something else (exit status: 66)"
        );
    }

    #[test]
    fn unexpected_handshake_is_escaped() {
        let error = Error::UnexpectedHandshake {
            pid: 7,
            received: b"NOPE\n".to_vec(),
        };
        assert_eq!(
            error.to_string(),
            r#"unexpected handshake from sleeper 7: "NOPE\n""#
        );
    }
}
