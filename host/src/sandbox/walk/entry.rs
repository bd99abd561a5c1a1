//! What a walk reports: an entry's path, depth, metadata (`Stat`), symlink target, and why a
//! directory was not gone into; and the error of one entry.

use crate::error::Error;
use crate::fd::lend;
use crate::FileKind;
use rustix::fs::{AtFlags, StatxFlags};
use std::fmt;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// `STATX_MNT_ID_UNIQUE` (Linux 6.8+): a mount's id, never reused.
const STATX_MNT_ID_UNIQUE: u32 = 0x4000;

/// An entry's metadata, of the entry itself (a symlink is not followed), as statx(2) gave it
/// on the handle the walk holds; ids as this process sees them (see
/// [`Sandbox::uid_map`] for the container's view).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stat {
    /// What kind of file it is.
    pub kind: FileKind,
    /// The permission bits with set-user-ID, set-group-ID and sticky (`st_mode & 0o7777`).
    pub mode: u32,
    /// The owner's uid.
    pub uid: u32,
    /// The group's gid.
    pub gid: u32,
    /// The size in bytes (a symlink's: its target's length).
    pub size: u64,
    /// The 512-byte blocks allocated: below `size / 512` for a sparse file.
    pub blocks: u64,
    /// The number of hard links.
    pub nlink: u64,
    /// The device it is on.
    pub dev: u64,
    /// The inode number.
    pub ino: u64,
    /// The device it is, for a character or block device.
    pub rdev: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Modification time, nanoseconds.
    pub mtime_nsec: u32,
    /// Status change time, seconds since the epoch.
    pub ctime: i64,
    /// Status change time, nanoseconds.
    pub ctime_nsec: u32,
    /// The mount it is on (unique, where the kernel says so; 0 if it does not).
    pub mount_id: u64,
}

impl Stat {
    pub(crate) fn of(fd: &OwnedFd) -> rustix::io::Result<Stat> {
        let mask = StatxFlags::BASIC_STATS | StatxFlags::from_bits_retain(STATX_MNT_ID_UNIQUE);
        let statx = rustix::fs::statx(lend(fd), c"", AtFlags::EMPTY_PATH, mask)?;
        let unique = statx.stx_mask & STATX_MNT_ID_UNIQUE != 0;
        let makedev = |major: u32, minor: u32| rustix::fs::makedev(major, minor);
        Ok(Stat {
            kind: FileKind::from_mode(statx.stx_mode.into()),
            mode: u32::from(statx.stx_mode) & 0o7777,
            uid: statx.stx_uid,
            gid: statx.stx_gid,
            size: statx.stx_size,
            blocks: statx.stx_blocks,
            nlink: statx.stx_nlink.into(),
            dev: makedev(statx.stx_dev_major, statx.stx_dev_minor),
            ino: statx.stx_ino,
            rdev: makedev(statx.stx_rdev_major, statx.stx_rdev_minor),
            mtime: statx.stx_mtime.tv_sec,
            mtime_nsec: statx.stx_mtime.tv_nsec,
            ctime: statx.stx_ctime.tv_sec,
            ctime_nsec: statx.stx_ctime.tv_nsec,
            mount_id: if unique { statx.stx_mnt_id } else { 0 },
        })
    }
}

/// Why the walk did not go into a directory it reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NotDescended {
    /// A kernel pseudo-filesystem (a mount point of procfs, sysfs, ...), which the reading
    /// policy refuses: its listing would be about the reader.
    PseudoFilesystem(&'static str),
    /// Another file system than its parent's, and the walk stays on one
    /// ([`Walk::one_file_system`]).
    OtherFileSystem,
    /// The very directory of one of its ancestors (a bind mount of a parent below itself):
    /// descending would never end.
    Loop,
}

impl fmt::Display for NotDescended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotDescended::PseudoFilesystem(name) => {
                write!(f, "on {name}, a kernel pseudo-filesystem (not descended)")
            }
            NotDescended::OtherFileSystem => f.write_str("on another file system (not descended)"),
            NotDescended::Loop => f.write_str("a file system loop (not descended)"),
        }
    }
}

/// One entry of a [`Walk`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkEntry {
    pub(super) path: PathBuf,
    pub(super) depth: usize,
    pub(super) stat: Stat,
    pub(super) link_target: Option<PathBuf>,
    pub(super) not_descended: Option<NotDescended>,
}

impl WalkEntry {
    /// Its path inside the namespace: the walk's start, then the names below it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How far below the start it is (the start itself: 0).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Its metadata.
    pub fn stat(&self) -> &Stat {
        &self.stat
    }

    /// A symlink's target, as written (never followed).
    pub fn link_target(&self) -> Option<&Path> {
        self.link_target.as_deref()
    }

    /// For a directory the walk reported but did not go into, why.
    pub fn not_descended(&self) -> Option<NotDescended> {
        self.not_descended
    }
}

/// What went wrong at one entry; the walk goes on with the next.
#[derive(Debug)]
pub struct WalkError {
    /// The entry's path (a directory's, where listing it failed).
    pub path: PathBuf,
    /// The error.
    pub error: Error,
}

impl fmt::Display for WalkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for WalkError {}
