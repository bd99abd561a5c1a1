//! Naming a namespace: by the path of a namespace file, or by a process ID.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A namespace, named by a file (`/proc/1234/ns/mnt`, a bind mount of one, ...) or by the ID of
/// a process in it.
///
/// As a mount namespace, `Pid(n)` means `/proc/n/ns/mnt`; as a user namespace,
/// `/proc/n/ns/user`. A `Path` is handed to the sleeper as it is (a relative path is relative to
/// the current directory).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum NamespaceRef {
    /// A namespace file.
    Path(PathBuf),
    /// The namespace of this process (as seen in the host's PID namespace).
    Pid(u32),
}

impl NamespaceRef {
    /// The file that names this mount namespace.
    pub fn mount_path(&self) -> PathBuf {
        self.path_for("mnt")
    }

    /// The file that names this user namespace.
    pub fn user_path(&self) -> PathBuf {
        self.path_for("user")
    }

    /// The process this reference names: a PID, or a path of the form `/proc/<pid>/ns/mnt`.
    pub(crate) fn process(&self) -> Option<u32> {
        match self {
            NamespaceRef::Pid(pid) => Some(*pid),
            NamespaceRef::Path(path) => {
                let text = path.to_str()?;
                let pid = text.strip_prefix("/proc/")?.strip_suffix("/ns/mnt")?;
                match pid.parse::<NamespaceRef>() {
                    Ok(NamespaceRef::Pid(pid)) => Some(pid),
                    _ => None,
                }
            }
        }
    }

    fn path_for(&self, kind: &str) -> PathBuf {
        match self {
            NamespaceRef::Path(path) => path.clone(),
            NamespaceRef::Pid(pid) => PathBuf::from(format!("/proc/{pid}/ns/{kind}")),
        }
    }
}

impl fmt::Display for NamespaceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamespaceRef::Path(path) => write!(f, "{}", path.display()),
            NamespaceRef::Pid(pid) => write!(f, "PID {pid}"),
        }
    }
}

/// Why a string is not a [`NamespaceRef`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseNamespaceRefError {
    /// The string is empty.
    #[error("empty namespace reference (want a path or a PID)")]
    Empty,
    /// All digits, but not a PID (zero, or too large).
    #[error("{0:?} is not a valid PID")]
    BadPid(String),
}

impl FromStr for NamespaceRef {
    type Err = ParseNamespaceRefError;

    /// All digits: a PID; anything else: a path.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(ParseNamespaceRefError::Empty);
        }
        if text.bytes().all(|byte| byte.is_ascii_digit()) {
            return match text.parse::<u32>() {
                Ok(pid) if pid > 0 && pid <= i32::MAX as u32 => Ok(NamespaceRef::Pid(pid)),
                _ => Err(ParseNamespaceRefError::BadPid(text.to_owned())),
            };
        }
        Ok(NamespaceRef::Path(PathBuf::from(text)))
    }
}

impl From<PathBuf> for NamespaceRef {
    fn from(path: PathBuf) -> Self {
        NamespaceRef::Path(path)
    }
}

impl From<&Path> for NamespaceRef {
    fn from(path: &Path) -> Self {
        NamespaceRef::Path(path.to_owned())
    }
}

impl From<u32> for NamespaceRef {
    fn from(pid: u32) -> Self {
        NamespaceRef::Pid(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_pids_everything_else_paths() {
        assert_eq!("1234".parse(), Ok(NamespaceRef::Pid(1234)));
        assert_eq!("./1234".parse(), Ok(NamespaceRef::Path("./1234".into())));
        assert_eq!(
            "/proc/1/ns/mnt".parse(),
            Ok(NamespaceRef::Path("/proc/1/ns/mnt".into()))
        );
        assert_eq!("-1".parse(), Ok(NamespaceRef::Path("-1".into())));
        assert_eq!(
            "".parse::<NamespaceRef>(),
            Err(ParseNamespaceRefError::Empty)
        );
        assert!(matches!(
            "0".parse::<NamespaceRef>(),
            Err(ParseNamespaceRefError::BadPid(_))
        ));
        assert!("99999999999".parse::<NamespaceRef>().is_err());
    }

    #[test]
    fn pids_name_proc_files() {
        let pid = NamespaceRef::from(42);
        assert_eq!(pid.mount_path(), Path::new("/proc/42/ns/mnt"));
        assert_eq!(pid.user_path(), Path::new("/proc/42/ns/user"));
        let path = NamespaceRef::from(Path::new("/run/ns"));
        assert_eq!(path.mount_path(), Path::new("/run/ns"));
        assert_eq!(path.user_path(), Path::new("/run/ns"));
    }

    #[test]
    fn processes_are_pids_and_their_proc_files() {
        assert_eq!(NamespaceRef::Pid(7).process(), Some(7));
        assert_eq!(
            NamespaceRef::from(Path::new("/proc/42/ns/mnt")).process(),
            Some(42)
        );
        for other in [
            "/proc/self/ns/mnt",
            "/proc/42/ns/user",
            "/proc/0/ns/mnt",
            "/run/ns",
        ] {
            assert_eq!(
                NamespaceRef::from(Path::new(other)).process(),
                None,
                "{other}"
            );
        }
    }
}
