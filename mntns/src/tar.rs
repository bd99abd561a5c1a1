//! `mntns tar`: a tar stream of subtrees of a hostile namespace, on stdout, written with the
//! `tar` crate: regular files' content through the walk's checked reopen, directories,
//! symlinks as links (targets as written, byte for byte), hard links seen twice as links,
//! owners numeric and as the container sees them, modes and mtimes kept. FIFOs, sockets and
//! devices are never opened, and stored only with `--specials`; sparse files and files over
//! `--max-file-bytes` are skipped, never expanded. GNU tar's conventions: a file that changes
//! while read is stored as it was when checked, with a warning; exit status 0 when all was
//! stored, 1 when something was skipped or changed, 2 on a fatal error; every message one
//! line, names escaped.

use crate::complain;
use crate::read::escaped;
use mntnssandbox_host::{FileKind, NotDescended, Sandbox, Stat, WalkEntry};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tar::{EntryType, Header};

/// How much of the archive is gathered before a write(2).
const OUTPUT_BUFFER: usize = 256 * 1024;
/// Files up to this size are read into the output buffer; larger ones are sent by the kernel
/// (sendfile: no copy through this process).
const SEND_FILE_ABOVE: u64 = 64 * 1024;
/// The owner unmapped ids show as inside a user namespace.
const OVERFLOW_ID: u64 = 65534;

/// What `mntns tar` was asked.
pub(crate) struct Options {
    pub(crate) specials: bool,
    pub(crate) max_file_bytes: Option<u64>,
    pub(crate) one_file_system: bool,
}

/// How the archive went: GNU tar's exit statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Stored = 0,
    /// Something was skipped, or changed while it was read.
    Incomplete = 1,
    Fatal = 2,
}

/// One line on stderr about `path`, escaped.
fn warn(path: &Path, what: impl std::fmt::Display) {
    complain(format_args!(
        "{}: {what}",
        escaped(path.as_os_str().as_bytes())
    ));
}

pub(crate) fn tar(sandbox: &Sandbox, paths: &[PathBuf], options: &Options) -> ExitCode {
    let outcome = archive(sandbox, paths, options).unwrap_or_else(|message| {
        complain(message);
        Outcome::Fatal
    });
    ExitCode::from(outcome as u8)
}

/// Writes the archive of `paths` to stdout; how it went, or the fatal error.
fn archive(sandbox: &Sandbox, paths: &[PathBuf], options: &Options) -> Result<Outcome, String> {
    let stdout = io::stdout();
    if stdout.is_terminal() {
        return Err("refusing to write a tar archive to a terminal (redirect stdout)".into());
    }
    let output = Output::new(stdout.as_fd()).map_err(|error| format!("stdout: {error}"))?;
    let mut archive = Archive {
        builder: tar::Builder::new(output),
        sandbox,
        options,
        links: HashMap::new(),
        outcome: Outcome::Stored,
    };
    let written = paths
        .iter()
        .try_for_each(|path| archive.add_tree(path))
        .and_then(|()| archive.builder.finish())
        .and_then(|()| archive.builder.get_mut().flush());
    // Never dropped: its drop would end a broken stream with end-of-archive blocks, and it
    // must not pass for whole.
    std::mem::forget(archive.builder);
    written.map_err(|error| format!("write the archive: {error}"))?;
    Ok(archive.outcome)
}

struct Archive<'a> {
    builder: tar::Builder<Output>,
    sandbox: &'a Sandbox,
    options: &'a Options,
    /// The names stored for files with more than one link, by device and inode.
    links: HashMap<(u64, u64), Vec<u8>>,
    outcome: Outcome,
}

impl Archive<'_> {
    fn note(&mut self, outcome: Outcome) {
        self.outcome = self.outcome.max(outcome);
    }

    /// Stores the tree at `path`; an error is the archive's (writing it), the rest is told
    /// per entry.
    fn add_tree(&mut self, path: &Path) -> io::Result<()> {
        let mut walk = self
            .sandbox
            .walk(path)
            .one_file_system(self.options.one_file_system);
        while let Some(entry) = walk.next() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    warn(&error.path, error_text(&error.error));
                    // The start itself missing is GNU tar's fatal case.
                    let fatal = error.path == path;
                    self.note(if fatal {
                        Outcome::Fatal
                    } else {
                        Outcome::Incomplete
                    });
                    continue;
                }
            };
            let name = member_name(entry.path());
            let stat = *entry.stat();
            match stat.kind {
                FileKind::Dir => {
                    if let Some(why) = entry.not_descended() {
                        warn(entry.path(), why);
                        if !matches!(why, NotDescended::PseudoFilesystem(_)) {
                            self.note(Outcome::Incomplete);
                        }
                    }
                    let mut name = name;
                    if !name.ends_with(b"/") {
                        name.push(b'/');
                    }
                    let header = self.header(&stat, EntryType::Directory, 0);
                    self.append(header, &name)?;
                }
                FileKind::Symlink => {
                    let target = entry.link_target().unwrap_or(Path::new(""));
                    let header = self.header(&stat, EntryType::Symlink, 0);
                    self.append_link(header, &name, target.as_os_str().as_bytes())?;
                }
                FileKind::File => self.add_file(&mut walk, &entry, name)?,
                FileKind::Fifo | FileKind::CharDevice | FileKind::BlockDevice
                    if self.options.specials =>
                {
                    let kind = match stat.kind {
                        FileKind::Fifo => EntryType::Fifo,
                        FileKind::CharDevice => EntryType::Char,
                        _ => EntryType::Block,
                    };
                    let mut header = self.header(&stat, kind, 0);
                    if kind != EntryType::Fifo {
                        let (major, minor) =
                            (rustix::fs::major(stat.rdev), rustix::fs::minor(stat.rdev));
                        header.set_device_major(major)?;
                        header.set_device_minor(minor)?;
                    }
                    self.append(header, &name)?;
                }
                FileKind::Socket => {
                    warn(entry.path(), "socket ignored");
                    self.note(Outcome::Incomplete);
                }
                kind => {
                    warn(
                        entry.path(),
                        format!("{kind}: not stored (--specials stores it)"),
                    );
                    self.note(Outcome::Incomplete);
                }
            }
        }
        Ok(())
    }

    fn add_file(
        &mut self,
        walk: &mut mntnssandbox_host::Walk<'_>,
        entry: &WalkEntry,
        name: Vec<u8>,
    ) -> io::Result<()> {
        let stat = *entry.stat();
        let path = entry.path();
        if stat.nlink > 1 {
            if let Some(first) = self.links.get(&(stat.dev, stat.ino)).cloned() {
                let header = self.header(&stat, EntryType::Link, 0);
                return self.append_link(header, &name, &first);
            }
        }
        if stat.size == 0 {
            // Nothing to read: not opened (as GNU tar does).
            self.remember_link(&stat, &name);
            let header = self.header(&stat, EntryType::Regular, 0);
            return self.append(header, &name);
        }
        if let Some(max) = self.options.max_file_bytes.filter(|&max| stat.size > max) {
            warn(
                path,
                format!("{} bytes, over --max-file-bytes {max}: skipped", stat.size),
            );
            self.note(Outcome::Incomplete);
            return Ok(());
        }
        let file = match walk.open(entry) {
            Ok(file) => file,
            Err(error) => {
                warn(path, error_text(&error));
                self.note(Outcome::Incomplete);
                return Ok(());
            }
        };
        if stat.blocks.saturating_mul(512) < stat.size && has_hole(&file, stat.size) {
            warn(
                path,
                format!(
                    "a sparse file ({} bytes, {} allocated): skipped, not expanded",
                    stat.size,
                    stat.blocks * 512
                ),
            );
            self.note(Outcome::Incomplete);
            return Ok(());
        }
        self.remember_link(&stat, &name);
        let header = self.header(&stat, EntryType::Regular, stat.size);
        self.append(header, &name)?;
        let copied = self.builder.get_mut().copy_file(&file, stat.size)?;
        if copied < stat.size {
            let missing = stat.size - copied;
            self.builder.get_mut().write_zeros(missing)?;
            let bytes = if missing == 1 { "byte" } else { "bytes" };
            warn(
                path,
                format!("File shrank by {missing} {bytes}; padding with zeros"),
            );
            self.note(Outcome::Incomplete);
        } else if changed(&file, &stat) {
            warn(path, "file changed as we read it");
            self.note(Outcome::Incomplete);
        }
        self.builder.get_mut().pad_block(stat.size)
    }

    /// Remembers `name` as the first stored of a file with more than one link.
    fn remember_link(&mut self, stat: &Stat, name: &[u8]) {
        if stat.nlink > 1 {
            self.links.insert((stat.dev, stat.ino), name.to_vec());
        }
    }

    /// A header for `stat` as the container sees it: owners through its user namespace.
    fn header(&self, stat: &Stat, kind: EntryType, size: u64) -> Header {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_mode(stat.mode);
        let inside = |id: Option<u32>| id.map_or(OVERFLOW_ID, u64::from);
        header.set_uid(inside(self.sandbox.uid_map().to_inside(stat.uid)));
        header.set_gid(inside(self.sandbox.gid_map().to_inside(stat.gid)));
        header.set_mtime(stat.mtime.max(0) as u64);
        header
    }

    /// Writes `header` under `name` (a GNU long name entry first, where the name needs one).
    fn append(&mut self, mut header: Header, name: &[u8]) -> io::Result<()> {
        let name = Path::new(std::ffi::OsStr::from_bytes(name));
        self.builder.append_data(&mut header, name, io::empty())
    }

    /// Writes a link entry (symlink or hard link) whose target is `target`, byte for byte:
    /// up to 100 bytes in the header itself, else in a GNU long link entry before it.
    fn append_link(&mut self, mut header: Header, name: &[u8], target: &[u8]) -> io::Result<()> {
        const FIELD: usize = 100;
        if target.len() <= FIELD {
            header.set_link_name_literal(target)?;
        } else {
            let mut long = Header::new_gnu();
            long.set_entry_type(EntryType::GNULongLink);
            long.set_size(target.len() as u64 + 1);
            long.set_mode(0o644);
            long.as_gnu_mut().expect("a GNU header").name[..13].copy_from_slice(b"././@LongLink");
            long.set_cksum();
            self.builder.append(&long, target.chain(&[0u8][..]))?;
            header.set_link_name_literal(&target[..FIELD])?;
        }
        self.append(header, name)
    }
}

/// The member name of `path`: without its leading `/`s, as GNU tar stores it (`.` for `/`).
fn member_name(path: &Path) -> Vec<u8> {
    let mut relative = path.as_os_str().as_bytes();
    while let Some(rest) = relative.strip_prefix(b"/") {
        relative = rest;
    }
    if relative.is_empty() {
        b".".to_vec()
    } else {
        relative.to_vec()
    }
}

/// An error about a path as one line, without the path (the line names it first already).
fn error_text(error: &mntnssandbox_host::Error) -> String {
    use mntnssandbox_host::Error;
    match error {
        // The library's own words after `{op} {path:?}: `.
        Error::Access { op, path, .. } | Error::BeyondAuthority { op, path, .. } => {
            let text = error.to_string();
            match text.strip_prefix(&format!("{op} {path:?}: ")) {
                Some(why) => format!("{op}: {why}"),
                None => text,
            }
        }
        Error::NotRegularFile { kind, .. } => format!("not a regular file: {kind}"),
        Error::PseudoFilesystem { filesystem, .. } => {
            format!("on {filesystem}, a kernel pseudo-filesystem (not read)")
        }
        other => other.to_string().replace('\n', " "),
    }
}

/// Whether `file` has a hole before `size` (SEEK_HOLE finds one): a sparse file.
fn has_hole(file: &File, size: u64) -> bool {
    // SAFETY: lseek on a descriptor `file` keeps open; it only moves the file offset, which
    // is put back at the start.
    let hole = unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_HOLE) };
    // SAFETY: as above.
    unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_SET) };
    hole >= 0 && (hole as u64) < size
}

/// Whether `file` changed since `stat` was taken: GNU tar's test (size, mtime, ctime).
fn changed(file: &File, stat: &Stat) -> bool {
    use std::os::unix::fs::MetadataExt;
    match file.metadata() {
        Ok(now) => {
            now.size() != stat.size
                || (now.mtime(), now.mtime_nsec() as u32) != (stat.mtime, stat.mtime_nsec)
                || (now.ctime(), now.ctime_nsec() as u32) != (stat.ctime, stat.ctime_nsec)
        }
        Err(_) => true,
    }
}

/// The archive's output: stdout, gathered in a buffer; large files' content sent by the
/// kernel where it can (sendfile to a pipe or a file), else copied.
struct Output {
    /// A descriptor of stdout of our own.
    out: File,
    /// The buffer, initialised once; `filled` bytes of it are to be written.
    buf: Box<[u8]>,
    filled: usize,
    /// sendfile(2) said it cannot write to this stdout: copy from then on.
    no_send_file: bool,
}

impl Output {
    fn new(stdout: BorrowedFd<'_>) -> io::Result<Self> {
        // Onto a pipe, a pipe as large as our buffer: fewer round trips with the reader.
        // (Refused past /proc/sys/fs/pipe-max-size without CAP_SYS_RESOURCE: then as it is.)
        // SAFETY: F_SETPIPE_SZ takes an int; on anything but a pipe it fails, changing nothing.
        unsafe {
            libc::fcntl(
                stdout.as_raw_fd(),
                libc::F_SETPIPE_SZ,
                OUTPUT_BUFFER as libc::c_int,
            )
        };
        Ok(Output {
            out: File::from(stdout.try_clone_to_owned()?),
            buf: vec![0; OUTPUT_BUFFER].into_boxed_slice(),
            filled: 0,
            no_send_file: false,
        })
    }

    /// Copies up to `len` bytes of `file` (from its start) into the archive; how many there
    /// were (fewer if it shrank).
    fn copy_file(&mut self, file: &File, len: u64) -> io::Result<u64> {
        let mut copied = 0u64;
        if len > SEND_FILE_ABOVE && !self.no_send_file {
            self.flush()?;
            while copied < len {
                let chunk = usize::try_from(len - copied)
                    .unwrap_or(usize::MAX)
                    .min(1 << 30);
                // SAFETY: both descriptors stay open for the call; a null offset reads from
                // (and moves) `file`'s own offset.
                let sent = unsafe {
                    libc::sendfile(
                        self.out.as_raw_fd(),
                        file.as_raw_fd(),
                        std::ptr::null_mut(),
                        chunk,
                    )
                };
                match sent {
                    0 => return Ok(copied),
                    n if n > 0 => copied += n as u64,
                    _ => {
                        let error = io::Error::last_os_error();
                        match error.raw_os_error() {
                            Some(libc::EINTR | libc::EAGAIN) => {}
                            // This stdout takes no sendfile: copy, from here on.
                            Some(libc::EINVAL | libc::ENOSYS) if copied == 0 => {
                                self.no_send_file = true;
                                break;
                            }
                            _ => return Err(error),
                        }
                    }
                }
            }
            if copied == len {
                return Ok(copied);
            }
        }
        let mut reader = file.take(len - copied);
        while copied < len {
            if self.filled == self.buf.len() {
                self.flush()?;
            }
            match reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    self.filled += n;
                    copied += n as u64;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        Ok(copied)
    }

    fn write_zeros(&mut self, mut count: u64) -> io::Result<()> {
        let zeros = [0u8; 4096];
        while count > 0 {
            let n = count.min(zeros.len() as u64) as usize;
            self.write_all(&zeros[..n])?;
            count -= n as u64;
        }
        Ok(())
    }

    /// Zeros up to the next 512-byte block after `size` bytes of content.
    fn pad_block(&mut self, size: u64) -> io::Result<()> {
        self.write_zeros((512 - size % 512) % 512)
    }
}

impl Write for Output {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.filled + bytes.len() > self.buf.len() {
            self.flush()?;
        }
        if bytes.len() >= self.buf.len() {
            return self.out.write(bytes);
        }
        self.buf[self.filled..self.filled + bytes.len()].copy_from_slice(bytes);
        self.filled += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut written = 0;
        while written < self.filled {
            match self.out.write(&self.buf[written..self.filled]) {
                Ok(n) => written += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.buf.copy_within(written..self.filled, 0);
                    self.filled -= written;
                    return Err(error);
                }
            }
        }
        self.filled = 0;
        Ok(())
    }
}
