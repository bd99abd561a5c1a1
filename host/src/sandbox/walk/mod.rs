//! Walking a tree inside the root, depth-first, as hostile as the rest: every entry is opened
//! relative to its parent's descriptor, by its one name, never following a link (no path is
//! looked up twice, nothing is followed), held by an `O_PATH` handle from which its metadata
//! is taken and, for a regular file, its content reopened: what is reported and what is read
//! are the same inode. One descriptor per level; memory bounded whatever the fan-out (one
//! getdents(2) batch per level, smaller batches past [`DEEP`] levels); errors per entry, the
//! walk going on; kernel pseudo-filesystems, loops and (if asked) other file systems not
//! descended; every step within the sandbox's authority.

mod entry;

pub use entry::{NotDescended, Stat, WalkEntry, WalkError};

use super::dir::{read_batch, DirEntry, BATCH_BYTES};
use super::names::link_target;
use super::{access, Sandbox};
use crate::error::{from_errno, Error};
use crate::fd::{identity, lend, own};
use crate::sandbox::authority::Bounded;
use crate::FileKind;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::{CString, OsStr};
use std::fmt;
use std::fs::File;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Past this depth each level reads smaller batches, so that a deep tree of wide directories
/// holds little per level.
const DEEP: usize = 32;
/// The batch size past [`DEEP`]: room for a few entries of the longest name.
const DEEP_BATCH_BYTES: usize = 2 * 1024;

/// A depth-first walk of a tree inside a [`Sandbox`], started by [`Sandbox::walk`].
///
/// An iterator of entries, each reported before what lies below it (a directory's entries in
/// the order the file system gives them). A directory is gone into at the next call, unless
/// [`skip_current_dir`](Walk::skip_current_dir) says otherwise. While an entry is the last
/// one returned, [`open`](Walk::open) reads a regular file's content through the handle the
/// walk holds (so take entries with `while let Some(entry) = walk.next()`, not a `for` loop
/// that borrows the walk).
pub struct Walk<'a> {
    sandbox: &'a Sandbox,
    one_file_system: bool,
    buf: Vec<MaybeUninit<u8>>,
    stack: Vec<Frame>,
    ancestors: HashSet<(u64, u64)>,
    /// The start, not yet reported.
    first: Option<(PathBuf, Result<OwnedFd, Error>)>,
    /// The entry last returned, with its handle.
    last: Option<Last>,
    /// Whether each mount (by unique id) is a pseudo-filesystem, and which.
    mounts: HashMap<u64, Option<&'static str>>,
    reopener: Reopener,
    /// The walk could not take the sandbox's authority: it ends.
    failed: bool,
}

struct Frame {
    dir: OwnedFd,
    path: PathBuf,
    depth: usize,
    id: (u64, u64),
    pending: VecDeque<DirEntry>,
    done: bool,
}

struct Last {
    handle: OwnedFd,
    path: PathBuf,
    depth: usize,
    stat: Stat,
    descend: bool,
}

impl Sandbox {
    /// Walks the tree at `path` (resolved inside the root; a final symlink is reported as
    /// itself, not followed): see [`Walk`].
    pub fn walk(&self, path: impl AsRef<Path>) -> Walk<'_> {
        let path = path.as_ref().to_owned();
        let handle = self.bounded("walk", &path, || {
            self.resolve("walk", &path, OFlags::PATH | OFlags::NOFOLLOW)
        });
        Walk {
            sandbox: self,
            one_file_system: false,
            buf: vec![MaybeUninit::uninit(); BATCH_BYTES],
            stack: Vec::new(),
            ancestors: HashSet::new(),
            first: Some((path, handle)),
            last: None,
            mounts: HashMap::new(),
            reopener: Reopener::default(),
            failed: false,
        }
    }
}

impl Walk<'_> {
    /// Whether to stay on the file system the walk starts on: directories on others (mount
    /// points) are reported, not gone into.
    pub fn one_file_system(mut self, one: bool) -> Self {
        self.one_file_system = one;
        self
    }

    /// Does not go into the directory last returned.
    pub fn skip_current_dir(&mut self) {
        if let Some(last) = &mut self.last {
            last.descend = false;
        }
    }

    /// Opens the regular file `entry` (the entry last returned) for reading: its very inode,
    /// through the walk's handle, under the sandbox's reading policy (not on a pseudo-
    /// filesystem) and authority.
    pub fn open(&mut self, entry: &WalkEntry) -> Result<File, Error> {
        const OP: &str = "open";
        let path = &entry.path;
        let last = match &self.last {
            Some(last) if last.path == entry.path && last.stat.ino == entry.stat.ino => last,
            _ => {
                let error = std::io::Error::other("not the entry the walk is at");
                return Err(access(OP, path, error));
            }
        };
        if entry.stat.kind != FileKind::File {
            return Err(Error::NotRegularFile {
                path: path.clone(),
                kind: entry.stat.kind,
            });
        }
        let sandbox = self.sandbox;
        let (handle, stat) = (&last.handle, last.stat);
        let (mounts, reopener) = (&mut self.mounts, &mut self.reopener);
        sandbox.bounded(OP, path, || {
            if let Some(filesystem) = pseudo(sandbox, mounts, handle, &stat)
                .map_err(|errno| access(OP, path, from_errno(errno)))?
            {
                return Err(Error::PseudoFilesystem {
                    path: path.clone(),
                    filesystem,
                });
            }
            let file = reopener
                .reopen(handle)
                .map_err(|errno| access(OP, path, from_errno(errno)))?;
            if identity(&file).ok() != Some((stat.dev, stat.ino)) {
                let error = std::io::Error::other("reopening the walked file led to another file");
                return Err(access(OP, path, error));
            }
            Ok(File::from(file))
        })
    }

    /// Reports `path`, held by `handle`, at `depth`: its metadata, a symlink's target, and
    /// whether a directory is to be gone into. `parent_dev`: the device of its parent.
    fn visit(
        &mut self,
        path: PathBuf,
        handle: OwnedFd,
        depth: usize,
        parent_dev: Option<u64>,
    ) -> Result<WalkEntry, WalkError> {
        let sandbox = self.sandbox;
        let failed = |path: &PathBuf, error: Error| WalkError {
            path: path.clone(),
            error: sandbox.explain(error),
        };
        let stat = match Stat::of(&handle) {
            Ok(stat) => stat,
            Err(errno) => return Err(failed(&path, access("stat", &path, from_errno(errno)))),
        };
        let link_target = match stat.kind {
            FileKind::Symlink => match link_target(&handle) {
                Ok(target) => Some(target),
                Err(errno) => {
                    return Err(failed(&path, access("readlink", &path, from_errno(errno))))
                }
            },
            _ => None,
        };
        let not_descended = match stat.kind {
            FileKind::Dir
                if self.one_file_system && parent_dev.is_some_and(|dev| dev != stat.dev) =>
            {
                Some(NotDescended::OtherFileSystem)
            }
            FileKind::Dir if self.ancestors.contains(&(stat.dev, stat.ino)) => {
                Some(NotDescended::Loop)
            }
            FileKind::Dir => match pseudo(self.sandbox, &mut self.mounts, &handle, &stat) {
                Ok(Some(name)) => Some(NotDescended::PseudoFilesystem(name)),
                Ok(None) => None,
                Err(errno) => {
                    return Err(failed(&path, access("statfs", &path, from_errno(errno))))
                }
            },
            _ => None,
        };
        let entry = WalkEntry {
            path: path.clone(),
            depth,
            stat,
            link_target,
            not_descended,
        };
        self.last = Some(Last {
            handle,
            path,
            depth,
            stat,
            descend: stat.kind == FileKind::Dir && not_descended.is_none(),
        });
        Ok(entry)
    }

    /// Goes into the directory `last`: opens it for listing (its very inode, through its
    /// handle) and pushes its level.
    fn descend(&mut self, last: Last) -> Result<(), WalkError> {
        let path = last.path;
        let dir = rustix::fs::openat(
            lend(&last.handle),
            c".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map(own)
        .map_err(|errno| WalkError {
            error: self
                .sandbox
                .explain(access("list", &path, from_errno(errno))),
            path: path.clone(),
        })?;
        let id = (last.stat.dev, last.stat.ino);
        self.ancestors.insert(id);
        self.stack.push(Frame {
            dir,
            path,
            depth: last.depth,
            id,
            pending: VecDeque::new(),
            done: false,
        });
        Ok(())
    }

    fn step(&mut self) -> Option<Result<WalkEntry, WalkError>> {
        if let Some(last) = self.last.take() {
            if last.descend {
                if let Err(error) = self.descend(last) {
                    return Some(Err(error));
                }
            }
        }
        if let Some((path, handle)) = self.first.take() {
            return Some(match handle {
                Ok(handle) => self.visit(path, handle, 0, None),
                Err(error) => Err(WalkError { path, error }),
            });
        }
        loop {
            let frame = self.stack.last_mut()?;
            if let Some(entry) = frame.pending.pop_front() {
                let name = entry.into_file_name();
                let path = frame.path.join(&name);
                let depth = frame.depth + 1;
                let parent_dev = frame.id.0;
                return Some(match open_beneath(&frame.dir, &name) {
                    Ok(handle) => self.visit(path, handle, depth, Some(parent_dev)),
                    Err(errno) => Err(WalkError {
                        error: self
                            .sandbox
                            .explain(access("open", &path, from_errno(errno))),
                        path,
                    }),
                });
            }
            if frame.done {
                let frame = self.stack.pop().expect("the frame just looked at");
                self.ancestors.remove(&frame.id);
                continue;
            }
            let bytes = if frame.depth < DEEP {
                BATCH_BYTES
            } else {
                DEEP_BATCH_BYTES
            };
            match read_batch(&frame.dir, &mut self.buf[..bytes], &mut frame.pending) {
                Ok(more) => frame.done = !more,
                Err(errno) => {
                    frame.done = true;
                    let path = frame.path.clone();
                    let error = access("list", &path, from_errno(errno));
                    return Some(Err(WalkError {
                        error: self.sandbox.explain(error),
                        path,
                    }));
                }
            }
        }
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<WalkEntry, WalkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        // One bound for all the steps to the next entry.
        let bound: Bounded = match self.sandbox.owner.authority.enter() {
            Ok(bound) => bound,
            Err(error) => {
                self.failed = true;
                let path = self
                    .stack
                    .last()
                    .map(|frame| frame.path.clone())
                    .unwrap_or_default();
                return Some(Err(WalkError {
                    error: access("walk", &path, error),
                    path,
                }));
            }
        };
        let next = self.step();
        drop(bound);
        next
    }
}

impl fmt::Debug for Walk<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Walk")
            .field("depth", &self.stack.len())
            .field("one_file_system", &self.one_file_system)
            .finish_non_exhaustive()
    }
}

/// The entry `name` of the directory `dir`, by that one name, its final link not followed:
/// an `O_PATH` handle.
fn open_beneath(dir: &OwnedFd, name: &OsStr) -> rustix::io::Result<OwnedFd> {
    let name = CString::new(name.as_bytes()).map_err(|_| Errno::INVAL)?;
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS | ResolveFlags::NO_SYMLINKS;
    loop {
        match rustix::fs::openat2(lend(dir), name.as_c_str(), flags, Mode::empty(), resolve) {
            Err(Errno::AGAIN | Errno::INTR) => continue,
            Err(Errno::MFILE) if crate::enter::privilege::raise_open_files_limit() => continue,
            result => return result.map(own),
        }
    }
}

/// Which pseudo-filesystem the entry held by `handle` is on, if any and if the policy refuses
/// it; remembered per mount where the kernel names mounts uniquely.
fn pseudo(
    sandbox: &Sandbox,
    mounts: &mut HashMap<u64, Option<&'static str>>,
    handle: &OwnedFd,
    stat: &Stat,
) -> rustix::io::Result<Option<&'static str>> {
    if sandbox.policy.allows_pseudo_filesystems() {
        return Ok(None);
    }
    if stat.mount_id != 0 {
        if let Some(known) = mounts.get(&stat.mount_id) {
            return Ok(*known);
        }
    }
    let found = sandbox.policy.refused_filesystem(handle)?;
    if stat.mount_id != 0 {
        mounts.insert(stat.mount_id, found);
    }
    Ok(found)
}

/// Reopens `O_PATH` handles for reading through this process's descriptor table in procfs,
/// keeping that directory open: one lookup per file, not four. (`/proc/self/fd` is the main
/// thread's table, which ours is unless a thread unshared its own: then the number names
/// another file, and the identity check after the reopen refuses it.)
#[derive(Default)]
struct Reopener {
    fds: Option<OwnedFd>,
}

impl Reopener {
    fn reopen(&mut self, handle: &OwnedFd) -> rustix::io::Result<OwnedFd> {
        let dir = match &self.fds {
            Some(dir) => dir,
            None => {
                let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
                let dir = own(rustix::fs::open(c"/proc/self/fd", flags, Mode::empty())?);
                self.fds.insert(dir)
            }
        };
        let mut digits = [0u8; 12];
        let name = decimal(handle.as_raw_fd() as u32, &mut digits);
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let file = own(rustix::fs::openat(lend(dir), name, flags, Mode::empty())?);
        // A regular file's inode (checked by the caller) never blocks; the flag only guarded
        // the open itself.
        rustix::fs::fcntl_setfl(lend(&file), OFlags::empty())?;
        Ok(file)
    }
}

/// `n` in decimal, NUL-terminated, in `digits`.
fn decimal(mut n: u32, digits: &mut [u8; 12]) -> &std::ffi::CStr {
    let mut at = digits.len() - 1;
    digits[at] = 0;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::ffi::CStr::from_bytes_with_nul(&digits[at..]).expect("one NUL, at the end")
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_names_descriptors() {
        let mut digits = [0u8; 12];
        assert_eq!(super::decimal(0, &mut digits), c"0");
        assert_eq!(super::decimal(1234, &mut digits), c"1234");
        assert_eq!(super::decimal(u32::MAX, &mut digits), c"4294967295");
    }
}
