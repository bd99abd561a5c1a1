//! Reading file content from an untrusted namespace: regular files only, opened without a
//! second lookup by name and without blocking, off kernel pseudo-filesystems, and bounded.
//!
//! The steps, after libpathrs: resolve the path (inside the root) to an `O_PATH` handle, which
//! opens nothing; check the handle (fstat: a regular file; fstatfs: not a pseudo-filesystem);
//! reopen *that inode* through this thread's `/proc/thread-self/fd/N` with `O_NONBLOCK`, so
//! that even a FIFO could not block the open; check that the reopened file is the same device
//! and inode; then clear `O_NONBLOCK`. A container that renames a FIFO or a device over the
//! name after the check changes nothing: the name is never looked up again.

use super::{access, Sandbox};
use crate::error::{from_errno, Error};
use crate::fd::{lend, reopen};
use crate::{FileKind, ReadPolicy};
use rustix::fs::OFlags;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

/// How much [`Sandbox::copy_to`] reads at a time.
const COPY_CHUNK: usize = 64 * 1024;

impl Sandbox {
    /// Opens a regular file for reading, under the sandbox's [`ReadPolicy`] (pseudo-filesystems
    /// refused unless allowed; no size limit: the returned file streams files of any size).
    ///
    /// Fails with [`Error::NotRegularFile`] for a FIFO, socket, device or directory, which is
    /// never opened, and [`Error::PseudoFilesystem`] for procfs, sysfs and the like.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<File, Error> {
        self.open_with(path, self.policy)
    }

    /// [`open`](Sandbox::open) under the given policy.
    pub fn open_with(&self, path: impl AsRef<Path>, policy: ReadPolicy) -> Result<File, Error> {
        self.open_regular(path.as_ref(), policy)
            .map(|(file, _)| file)
    }

    /// Reads a whole regular file, up to the [`ReadPolicy`]'s cap (64 MiB by default): a larger
    /// file fails with [`Error::TooLarge`] before anything is read, and so does one that grows
    /// past the cap while being read.
    pub fn read(&self, path: impl AsRef<Path>) -> Result<Vec<u8>, Error> {
        self.read_with(path, self.policy)
    }

    /// [`read`](Sandbox::read) under the given policy.
    pub fn read_with(&self, path: impl AsRef<Path>, policy: ReadPolicy) -> Result<Vec<u8>, Error> {
        let path = path.as_ref();
        let (mut file, size) = self.open_regular(path, policy)?;
        read_bounded(&mut file, path, size, policy.max_bytes_limit())
    }

    /// Reads a whole regular file that holds UTF-8 text, as [`read`](Sandbox::read) does.
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

    /// Copies a regular file to `out`, streaming, under `policy`: refused without writing
    /// anything if it is larger than the policy's cap, and stopped with [`Error::TooLarge`]
    /// once the cap is written if it grows while being read. Returns the bytes copied.
    /// (`ReadPolicy::new().max_bytes(u64::MAX)` copies files of any size.)
    pub fn copy_to(
        &self,
        path: impl AsRef<Path>,
        out: &mut impl Write,
        policy: ReadPolicy,
    ) -> Result<u64, Error> {
        let path = path.as_ref();
        let (file, size) = self.open_regular(path, policy)?;
        copy_bounded(file, out, path, size, policy.max_bytes_limit())
    }

    /// The checked, reopened regular file and its size when checked, opened within the
    /// sandbox's authority.
    fn open_regular(&self, path: &Path, policy: ReadPolicy) -> Result<(File, u64), Error> {
        const OP: &str = "open";
        self.bounded(OP, path, || {
            let handle = self.resolve(OP, path, OFlags::PATH)?;
            let stat = rustix::fs::fstat(lend(&handle))
                .map_err(|errno| access(OP, path, from_errno(errno)))?;
            let kind = FileKind::from_mode(stat.st_mode);
            if kind != FileKind::File {
                return Err(Error::NotRegularFile {
                    path: path.to_owned(),
                    kind,
                });
            }
            self.check_filesystem(OP, path, &handle, policy)?;
            let file = reopen(&handle).map_err(|error| access(OP, path, error))?;
            let reopened = rustix::fs::fstat(lend(&file))
                .map_err(|errno| access(OP, path, from_errno(errno)))?;
            if (reopened.st_dev, reopened.st_ino) != (stat.st_dev, stat.st_ino) {
                let error = io::Error::other("reopening the checked file led to another file");
                return Err(access(OP, path, error));
            }
            // Regular files never block; the flag only guarded the open itself.
            let flags = rustix::fs::fcntl_getfl(lend(&file))
                .map_err(|errno| access(OP, path, from_errno(errno)))?;
            rustix::fs::fcntl_setfl(lend(&file), flags - OFlags::NONBLOCK)
                .map_err(|errno| access(OP, path, from_errno(errno)))?;
            Ok((File::from(file), stat.st_size as u64))
        })
    }
}

/// Reads `file` whole, refusing it if it is larger than `max_bytes` (`size` as checked) or
/// grows past that while being read; never holds more than `max_bytes + 1` bytes.
pub(crate) fn read_bounded(
    file: &mut File,
    path: &Path,
    size: u64,
    max_bytes: u64,
) -> Result<Vec<u8>, Error> {
    // Checked first: `size` is only allocated once it is known to be within the cap.
    let mut limited = within_cap(file, path, size, max_bytes)?;
    let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    limited
        .read_to_end(&mut data)
        .map_err(|error| access("read", path, error))?;
    if data.len() as u64 > max_bytes {
        return Err(too_large(path, data.len() as u64, max_bytes, true));
    }
    Ok(data)
}

/// Copies `file` to `out` as [`read_bounded`] reads it: nothing written if it is larger than
/// `max_bytes`, and stopped after `max_bytes` if it grows past that while being read.
fn copy_bounded(
    file: File,
    out: &mut impl Write,
    path: &Path,
    size: u64,
    max_bytes: u64,
) -> Result<u64, Error> {
    let mut limited = within_cap(file, path, size, max_bytes)?;
    let mut buf = vec![0u8; COPY_CHUNK];
    let mut copied = 0u64;
    loop {
        let n = match limited.read(&mut buf) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(access("read", path, error)),
        };
        let room = usize::try_from(max_bytes - copied).unwrap_or(usize::MAX);
        out.write_all(&buf[..n.min(room)])
            .map_err(|error| Error::io("write the output", error))?;
        copied += n.min(room) as u64;
        if n > room {
            return Err(too_large(path, copied + 1, max_bytes, true));
        }
    }
}

/// `file` to be read up to one byte past `max_bytes` (so that growing past it shows), or
/// [`Error::TooLarge`] at once if its `size` as checked is over that already.
fn within_cap<R: Read>(
    file: R,
    path: &Path,
    size: u64,
    max_bytes: u64,
) -> Result<io::Take<R>, Error> {
    if size > max_bytes {
        return Err(too_large(path, size, max_bytes, false));
    }
    Ok(file.take(max_bytes.saturating_add(1)))
}

fn too_large(path: &Path, size: u64, max_bytes: u64, grew: bool) -> Error {
    Error::TooLarge {
        path: path.to_owned(),
        size,
        max_bytes,
        grew,
    }
}

#[cfg(test)]
mod tests {
    use super::{copy_bounded, read_bounded};
    use crate::Error;
    use std::io::{Seek, Write};
    use std::path::Path;

    fn temp_file(contents: &[u8]) -> std::fs::File {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("mntnssandbox-bounded-{}-{n}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .expect("create a temp file");
        std::fs::remove_file(&path).expect("unlink the temp file");
        file.write_all(contents).expect("write the temp file");
        file.rewind().expect("rewind");
        file
    }

    #[test]
    fn within_the_cap_reads_everything() {
        let mut file = temp_file(b"0123456789");
        let data = read_bounded(&mut file, Path::new("/f"), 10, 10).expect("within the cap");
        assert_eq!(data, b"0123456789");
    }

    #[test]
    fn over_the_cap_by_size_reads_nothing() {
        let mut file = temp_file(b"0123456789");
        match read_bounded(&mut file, Path::new("/f"), 10, 9) {
            Err(Error::TooLarge {
                size: 10,
                max_bytes: 9,
                grew: false,
                ..
            }) => {}
            other => panic!("expected TooLarge by size, got {other:?}"),
        }
        assert_eq!(file.stream_position().expect("position"), 0, "read nothing");
    }

    #[test]
    fn copying_stops_at_the_cap_when_the_file_grows() {
        // Checked at 4 bytes; it has 10 by the time it is copied: 6 are written, then the error.
        let file = temp_file(b"0123456789");
        let mut out = Vec::new();
        match copy_bounded(file, &mut out, Path::new("/f"), 4, 6) {
            Err(Error::TooLarge {
                size: 7,
                max_bytes: 6,
                grew: true,
                ..
            }) => {}
            other => panic!("expected TooLarge after growing, got {other:?}"),
        }
        assert_eq!(out, b"012345");
        let file = temp_file(b"0123456789");
        let mut out = Vec::new();
        assert!(matches!(
            copy_bounded(file, &mut out, Path::new("/f"), 10, 9),
            Err(Error::TooLarge { grew: false, .. })
        ));
        assert!(
            out.is_empty(),
            "wrote {} bytes of a file over the cap",
            out.len()
        );
        let file = temp_file(b"0123456789");
        let mut out = Vec::new();
        assert_eq!(
            copy_bounded(file, &mut out, Path::new("/f"), 10, 10).expect("within"),
            10
        );
        assert_eq!(out, b"0123456789");
    }

    #[test]
    fn growing_past_the_cap_stops_at_the_cap() {
        // Checked at 4 bytes; it has 10 by the time it is read.
        let mut file = temp_file(b"0123456789");
        match read_bounded(&mut file, Path::new("/f"), 4, 6) {
            Err(Error::TooLarge {
                size: 7,
                max_bytes: 6,
                grew: true,
                ..
            }) => {}
            other => panic!("expected TooLarge after growing, got {other:?}"),
        }
    }
}
