//! Listing directories, and the kinds of file an entry (or a refused path) can be.

use super::{access, Sandbox};
use crate::error::{from_errno, Error};
use crate::fd::lend;
use rustix::fs::{OFlags, RawDir};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

impl Sandbox {
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
