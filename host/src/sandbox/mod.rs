//! A running sleeper, and file access inside its root with container semantics.

use crate::child::Child;
use crate::error::{from_errno, Error};
use crate::fd::{lend, own};
use rustix::fs::{openat2, Mode, OFlags, RawDir, ResolveFlags};
use rustix::io::Errno;
use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How paths are resolved: inside the root, as a process in the namespace would, and never
/// through a magic link (`/proc/self/root/...`), which could lead anywhere.
const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// How often openat2 is retried when the kernel reports a rename or mount race (`EAGAIN`).
const RACE_RETRIES: usize = 16;

/// A sleeper holding a mount namespace open, with file access inside that namespace's root.
///
/// Paths given to the access methods ([`open`](Sandbox::open), [`read`](Sandbox::read),
/// [`read_dir`](Sandbox::read_dir), [`metadata`](Sandbox::metadata), ...) are resolved as a
/// process inside the namespace would resolve them: relative to its root (a relative path is
/// taken from the root too), with absolute symlinks and `..` staying inside that root. Magic
/// links such as `/proc/self/root` are refused (`ELOOP`), because they could lead out of it.
/// Resolution is done by the kernel: openat2(2) with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`
/// on a file descriptor of the sleeper's root, opened once after the handshake.
///
/// Access is read-only. Each operation first checks through the pidfd that the sleeper is
/// still alive, and fails with [`Error::SleeperGone`] if not.
///
/// [`close`](Sandbox::close) (or drop) kills the sleeper with SIGKILL through its pidfd and
/// reaps it. A `Sandbox` can be shared between threads.
pub struct Sandbox {
    child: Child,
    pid: u32,
    root: OwnedFd,
    _lifeline: Option<OwnedFd>,
}

impl Sandbox {
    pub(crate) fn new(child: Child, root: OwnedFd, lifeline: Option<OwnedFd>) -> Self {
        let pid = child.pid();
        Sandbox {
            child,
            pid,
            root,
            _lifeline: lifeline,
        }
    }

    /// The sleeper's process ID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The sleeper's pidfd, for poll(2) (readable once the sleeper has exited) and
    /// pidfd_send_signal(2).
    pub fn pidfd(&self) -> BorrowedFd<'_> {
        self.child.pidfd()
    }

    /// `/proc/<pid>/root`: the namespace's root as a path from the host. Beware: paths below it
    /// are resolved by the kernel with the *host's* root for absolute symlinks, which is what
    /// the access methods of `Sandbox` are for.
    pub fn root(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.pid))
    }

    /// The `O_PATH` descriptor of the namespace's root directory that all access goes through.
    pub fn root_fd(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Whether the sleeper is still running.
    pub fn is_alive(&self) -> bool {
        self.child.is_alive()
    }

    /// Opens a file for reading.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<File, Error> {
        let path = path.as_ref();
        self.resolve("open", path, OFlags::RDONLY | OFlags::NOCTTY)
            .map(File::from)
    }

    /// Reads a whole file.
    pub fn read(&self, path: impl AsRef<Path>) -> Result<Vec<u8>, Error> {
        let path = path.as_ref();
        let mut file = self.open(path)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(|source| access("read", path, source))?;
        Ok(data)
    }

    /// Reads a whole file that holds UTF-8 text.
    pub fn read_to_string(&self, path: impl AsRef<Path>) -> Result<String, Error> {
        let path = path.as_ref();
        String::from_utf8(self.read(path)?).map_err(|error| {
            access(
                "read",
                path,
                io::Error::new(io::ErrorKind::InvalidData, error.utf8_error()),
            )
        })
    }

    /// Lists a directory: its entries but `.` and `..`, sorted by name.
    pub fn read_dir(&self, path: impl AsRef<Path>) -> Result<Vec<DirEntry>, Error> {
        let path = path.as_ref();
        let dir = self.resolve("list", path, OFlags::RDONLY | OFlags::DIRECTORY)?;
        let mut entries = Vec::new();
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 16 * 1024];
        let mut iter = RawDir::new(lend(&dir), &mut buf);
        while let Some(entry) = iter.next() {
            let entry = entry.map_err(|errno| access("list", path, from_errno(errno)))?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            entries.push(DirEntry {
                name: OsString::from_vec(name.to_vec()),
                kind: FileKind::from(entry.file_type()),
                ino: entry.ino(),
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// The metadata of what `path` names, following a final symlink (inside the root).
    pub fn metadata(&self, path: impl AsRef<Path>) -> Result<Metadata, Error> {
        let path = path.as_ref();
        let file = File::from(self.resolve("stat", path, OFlags::PATH)?);
        file.metadata()
            .map_err(|source| access("stat", path, source))
    }

    /// The metadata of what `path` names, of a final symlink itself if it is one.
    pub fn symlink_metadata(&self, path: impl AsRef<Path>) -> Result<Metadata, Error> {
        let path = path.as_ref();
        let file = File::from(self.resolve("stat", path, OFlags::PATH | OFlags::NOFOLLOW)?);
        file.metadata()
            .map_err(|source| access("stat", path, source))
    }

    /// The target of the symlink `path` (whose parent directories are resolved in the root).
    pub fn read_link(&self, path: impl AsRef<Path>) -> Result<PathBuf, Error> {
        let path = path.as_ref();
        let link = self.resolve("readlink", path, OFlags::PATH | OFlags::NOFOLLOW)?;
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
        let mut buf = vec![0u8; 4096];
        loop {
            // An O_PATH descriptor of a symlink plus the empty path reads that symlink.
            let n = rustix::fs::readlinkat_raw(lend(&link), c"", &mut buf[..])
                .map_err(|errno| access("readlink", path, from_errno(errno)))?;
            if n < buf.len() {
                buf.truncate(n);
                return Ok(PathBuf::from(OsString::from_vec(buf)));
            }
            buf.resize(buf.len() * 2, 0);
        }
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
        let target = self.resolve(OP, path, OFlags::PATH)?;
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
        let (want, got) = (stat(&target), stat(&again));
        match (want, got) {
            (Ok(want), Ok(got)) if want == got => Ok(inside),
            _ => Err(unnamable()),
        }
    }

    /// Kills the sleeper (SIGKILL through its pidfd) and reaps it.
    ///
    /// Fails with [`Error::SleeperDied`] if the sleeper had died before (killed from outside,
    /// for instance), since then the namespace may have been gone for a while.
    pub fn close(mut self) -> Result<(), Error> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<(), Error> {
        let was_alive = self.child.is_alive();
        let status = self
            .child
            .kill_and_reap()
            .map_err(|source| Error::io(format!("reap sleeper {}", self.pid), source))?;
        match status {
            Some(status) if !was_alive => Err(Error::SleeperDied {
                pid: self.pid,
                status,
            }),
            Some(_) => Ok(()),
            None if !was_alive => Err(Error::SleeperGone { pid: self.pid }),
            None => Ok(()),
        }
    }

    fn resolve(&self, op: &'static str, path: &Path, flags: OFlags) -> Result<OwnedFd, Error> {
        self.resolve_with(op, path, flags, ResolveFlags::empty())
    }

    fn resolve_with(
        &self,
        op: &'static str,
        path: &Path,
        flags: OFlags,
        extra: ResolveFlags,
    ) -> Result<OwnedFd, Error> {
        if !self.is_alive() {
            return Err(Error::SleeperGone { pid: self.pid });
        }
        let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            access(
                op,
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
            )
        })?;
        let mut retries = 0;
        loop {
            match openat2(
                lend(&self.root),
                c_path.as_c_str(),
                flags | OFlags::CLOEXEC,
                Mode::empty(),
                RESOLVE | extra,
            ) {
                Ok(fd) => return Ok(own(fd)),
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) if retries < RACE_RETRIES => retries += 1,
                Err(Errno::NOSYS) => return Err(Error::Openat2Unsupported),
                Err(errno) => return Err(access(op, path, from_errno(errno))),
            }
        }
    }
}

/// A `Sandbox` is shared between threads by reference and moved between them.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Sandbox>();
};

impl Drop for Sandbox {
    /// Kills and reaps the sleeper if [`close`](Sandbox::close) did not; never panics.
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("pid", &self.pid)
            .field("pidfd", &self.child.pidfd().as_raw_fd())
            .field("root", &self.root.as_raw_fd())
            .finish_non_exhaustive()
    }
}

fn access(op: &'static str, path: &Path, source: io::Error) -> Error {
    Error::Access {
        op,
        path: path.to_owned(),
        source,
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

fn stat(fd: &OwnedFd) -> io::Result<(u64, u64)> {
    let meta = File::from(fd.try_clone()?).metadata()?;
    Ok((meta.dev(), meta.ino()))
}

/// One entry of a directory listed by [`Sandbox::read_dir`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    name: OsString,
    kind: FileKind,
    ino: u64,
}

impl DirEntry {
    /// The entry's name (not a path).
    pub fn file_name(&self) -> &OsStr {
        &self.name
    }

    /// What kind of file the directory says it is (`Unknown` where the file system does not
    /// say; use [`Sandbox::symlink_metadata`] then).
    pub fn file_kind(&self) -> FileKind {
        self.kind
    }

    /// The inode number.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// Takes the name.
    pub fn into_file_name(self) -> OsString {
        self.name
    }
}

/// The kind of a directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A named pipe.
    Fifo,
    /// A socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Not known from the directory alone.
    Unknown,
}

impl From<rustix::fs::FileType> for FileKind {
    fn from(kind: rustix::fs::FileType) -> Self {
        use rustix::fs::FileType;
        match kind {
            FileType::RegularFile => FileKind::File,
            FileType::Directory => FileKind::Dir,
            FileType::Symlink => FileKind::Symlink,
            FileType::Fifo => FileKind::Fifo,
            FileType::Socket => FileKind::Socket,
            FileType::CharacterDevice => FileKind::CharDevice,
            FileType::BlockDevice => FileKind::BlockDevice,
            _ => FileKind::Unknown,
        }
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
