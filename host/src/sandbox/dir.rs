//! Listing directories, as they are read, and the kinds of file an entry (or a refused path)
//! can be.

use super::{access, Sandbox};
use crate::error::{from_errno, Error};
use crate::fd::lend;
use rustix::fs::{OFlags, RawDir};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

/// How many bytes of entries one getdents(2) reads: the most a [`ReadDir`] holds at a time,
/// and a walk's batch near the top of the tree.
pub(crate) const BATCH_BYTES: usize = 32 * 1024;

impl Sandbox {
    /// Lists a directory as it reads it: an iterator over its entries but `.` and `..`, in the
    /// order the file system gives them (sort them if you want an order), holding one batch of
    /// entries (one getdents(2), 32 KiB) at a time, whatever the directory's size.
    ///
    /// The directory is opened within the sandbox's authority and, like every name, refused on
    /// a kernel pseudo-filesystem unless the policy allows it; reading it on needs neither.
    pub fn read_dir(&self, path: impl AsRef<Path>) -> Result<ReadDir, Error> {
        const OP: &str = "list";
        let path = path.as_ref();
        self.bounded(OP, path, || {
            let dir = self.resolve(OP, path, OFlags::RDONLY | OFlags::DIRECTORY)?;
            self.check_filesystem(OP, path, &dir, self.policy)?;
            Ok(ReadDir {
                dir,
                path: path.to_owned(),
                buf: vec![MaybeUninit::uninit(); BATCH_BYTES],
                batch: VecDeque::new(),
                done: false,
            })
        })
    }
}

/// The entries of a directory, read one batch at a time: see [`Sandbox::read_dir`].
pub struct ReadDir {
    dir: OwnedFd,
    path: PathBuf,
    buf: Vec<MaybeUninit<u8>>,
    batch: VecDeque<DirEntry>,
    done: bool,
}

impl Iterator for ReadDir {
    type Item = Result<DirEntry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.batch.pop_front() {
                return Some(Ok(entry));
            }
            if self.done {
                return None;
            }
            match read_batch(&self.dir, &mut self.buf, &mut self.batch) {
                Ok(more) => self.done = !more,
                Err(errno) => {
                    self.done = true;
                    return Some(Err(access("list", &self.path, from_errno(errno))));
                }
            }
        }
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir")
            .field("path", &self.path)
            .field("batched", &self.batch.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Reads the next batch of `dir`'s entries (one getdents(2) into `buf`) onto `batch`, leaving
/// out `.` and `..`; whether there may be more (false at the end of the directory).
pub(crate) fn read_batch(
    dir: &OwnedFd,
    buf: &mut [MaybeUninit<u8>],
    batch: &mut VecDeque<DirEntry>,
) -> rustix::io::Result<bool> {
    let mut raw = RawDir::new(lend(dir), buf);
    loop {
        let entry = match raw.next() {
            None => return Ok(false),
            Some(entry) => entry?,
        };
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            batch.push_back(DirEntry {
                name: OsString::from_vec(name.to_vec()),
                kind: FileKind::from(entry.file_type()),
                ino: entry.ino(),
            });
        }
        if raw.is_buffer_empty() {
            return Ok(true);
        }
    }
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

impl FileKind {
    /// The kind of file an `st_mode` says.
    pub(crate) fn from_mode(mode: u32) -> Self {
        FileKind::from(rustix::fs::FileType::from_raw_mode(mode as _))
    }
}

impl fmt::Display for FileKind {
    /// `a FIFO`, `a character device`, ...: what follows "not a regular file:" in messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::File => "a regular file",
            FileKind::Dir => "a directory",
            FileKind::Symlink => "a symbolic link",
            FileKind::Fifo => "a FIFO",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Unknown => "of an unknown kind",
        })
    }
}
