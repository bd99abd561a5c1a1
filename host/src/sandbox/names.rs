//! Answers about names inside the root: metadata, symlink targets, canonical paths. None of
//! these opens content, so they work on every kind of file (FIFOs and devices included); like
//! content reads, they refuse what lies on a kernel pseudo-filesystem unless the policy allows
//! it (a container's link into the host's procfs would otherwise list or stat the *reader's*
//! own process), and run within the sandbox's authority.

use super::{access, Sandbox};
use crate::error::from_errno;
use crate::fd::{identity, lend};
use rustix::fs::{OFlags, ResolveFlags};
use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::Error;

impl Sandbox {
    /// The metadata of what `path` names, following a final symlink (inside the root).
    pub fn metadata(&self, path: impl AsRef<Path>) -> Result<Metadata, Error> {
        self.stat(path.as_ref(), OFlags::PATH)
    }

    /// The metadata of what `path` names, of a final symlink itself if it is one.
    pub fn symlink_metadata(&self, path: impl AsRef<Path>) -> Result<Metadata, Error> {
        self.stat(path.as_ref(), OFlags::PATH | OFlags::NOFOLLOW)
    }

    fn stat(&self, path: &Path, flags: OFlags) -> Result<Metadata, Error> {
        const OP: &str = "stat";
        self.bounded(OP, path, || {
            let handle = self.resolve(OP, path, flags)?;
            self.check_filesystem(OP, path, &handle, self.policy)?;
            File::from(handle)
                .metadata()
                .map_err(|source| access(OP, path, source))
        })
    }

    /// The target of the symlink `path` (whose parent directories are resolved in the root).
    pub fn read_link(&self, path: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let path = path.as_ref();
        self.bounded("readlink", path, || {
            let link = self.resolve("readlink", path, OFlags::PATH | OFlags::NOFOLLOW)?;
            self.check_filesystem("readlink", path, &link, self.policy)?;
            // readlinkat(fd, "") says ENOENT for anything but a symlink; readlink(2) says EINVAL.
            let kind = File::from(
                link.try_clone()
                    .map_err(|error| access("readlink", path, error))?,
            )
            .metadata()
            .map_err(|error| access("readlink", path, error))?
            .file_type();
            if !kind.is_symlink() {
                return Err(access(
                    "readlink",
                    path,
                    io::Error::from_raw_os_error(libc::EINVAL),
                ));
            }
            link_target(&link).map_err(|errno| access("readlink", path, from_errno(errno)))
        })
    }

    /// The absolute path, as seen inside the namespace, of what `path` names, with every
    /// symlink, `.` and `..` resolved inside the root.
    ///
    /// The file is opened within the root, its path is read back through `/proc/self/fd`, and
    /// the root's own path as read the same way is taken off the front. Before returning, the
    /// result is opened again without following any symlink and must lead to the same file;
    /// where the kernel cannot name it from here (deleted, or not reachable from this process's
    /// root) this fails with `EXDEV` rather than return a wrong path.
    pub fn canonicalize(&self, path: impl AsRef<Path>) -> Result<PathBuf, Error> {
        const OP: &str = "canonicalize";
        let path = path.as_ref();
        self.bounded(OP, path, || {
            let target = self.resolve(OP, path, OFlags::PATH)?;
            self.check_filesystem(OP, path, &target, self.policy)?;
            let root_seen = fd_path(&self.root).map_err(|source| access(OP, path, source))?;
            let target_seen = fd_path(&target).map_err(|source| access(OP, path, source))?;
            let unnamable = || {
                access(
                    OP,
                    path,
                    io::Error::new(
                        io::ErrorKind::CrossesDevices,
                        format!(
                            "EXDEV ({}): {:?} cannot be named inside the root {:?}",
                            libc::EXDEV,
                            Path::new(OsStr::from_bytes(&target_seen)),
                            Path::new(OsStr::from_bytes(&root_seen)),
                        ),
                    ),
                )
            };
            let inside = strip_root(&root_seen, &target_seen).ok_or_else(unnamable)?;
            let inside = PathBuf::from(OsString::from_vec(inside));

            // Opening the answer must lead to the very same file, symlinks not followed at all.
            let again = self
                .resolve_with(
                    OP,
                    &inside,
                    OFlags::PATH | OFlags::NOFOLLOW,
                    ResolveFlags::NO_SYMLINKS,
                )
                .map_err(|_| unnamable())?;
            let (want, got) = (identity(&target), identity(&again));
            match (want, got) {
                (Ok(want), Ok(got)) if want == got => Ok(inside),
                _ => Err(unnamable()),
            }
        })
    }
}

/// The target of the symlink an `O_PATH` handle holds (the empty path after a descriptor of a
/// symlink reads that symlink).
pub(super) fn link_target(link: &OwnedFd) -> rustix::io::Result<PathBuf> {
    let mut buf = vec![0u8; 256];
    loop {
        let n = rustix::fs::readlinkat_raw(lend(link), c"", &mut buf[..])?;
        if n < buf.len() {
            buf.truncate(n);
            return Ok(PathBuf::from(OsString::from_vec(buf)));
        }
        buf.resize(buf.len() * 2, 0);
    }
}

/// The path the kernel gives for an open file, as seen from this process's root.
fn fd_path(fd: &OwnedFd) -> io::Result<Vec<u8>> {
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))?;
    Ok(link.into_os_string().into_vec())
}

/// `target` relative to `root`, as an absolute path; `None` if it is not below `root`.
fn strip_root(root: &[u8], target: &[u8]) -> Option<Vec<u8>> {
    if !target.starts_with(b"/") || !root.starts_with(b"/") {
        return None;
    }
    if root == b"/" {
        return Some(target.to_vec());
    }
    match target.strip_prefix(root)? {
        b"" => Some(b"/".to_vec()),
        rest if rest.starts_with(b"/") => Some(rest.to_vec()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::strip_root;

    #[test]
    fn strip_root_respects_component_boundaries() {
        assert_eq!(
            strip_root(b"/", b"/etc/hostname").as_deref(),
            Some(&b"/etc/hostname"[..])
        );
        assert_eq!(strip_root(b"/srv/c", b"/srv/c").as_deref(), Some(&b"/"[..]));
        assert_eq!(
            strip_root(b"/srv/c", b"/srv/c/etc").as_deref(),
            Some(&b"/etc"[..])
        );
        assert_eq!(strip_root(b"/srv/c", b"/srv/cx/etc"), None);
        assert_eq!(strip_root(b"/srv/c", b"/etc"), None);
        assert_eq!(strip_root(b"/", b"anon_inode:[x]"), None);
    }
}
