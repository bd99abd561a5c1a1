//! The sleeper built into this crate (feature `embedded-sleeper`): built by build.rs from the
//! `mntnssandbox` package's source for the target this crate is built for, and run from a
//! sealed memfd, as runc runs its own sealed copy.
//!
//! The memfd is made on first use and kept for the life of the process: close-on-exec, so no
//! other child inherits it, and sealed against writes, shrinking and growing, so that what
//! runs is what was embedded. Before each use it is checked to still be that file (a host may
//! close descriptors it does not own, and the number name another file), and made anew if not. The clone3 spawner executes the memfd itself (execveat with
//! `AT_EMPTY_PATH`: no path lookup); the `Command` fallback as `/proc/self/fd/N` (std has no
//! execveat), which needs `/proc`. Where executable memfds are refused (`vm.memfd_noexec = 2`)
//! spawning fails with an error that says so and names the ways out; there is no fallback to
//! a file on disk, which is what that setting is there to prevent.

use crate::error::{from_errno, Error};
use crate::fd::{lend, own};
use rustix::fs::{MemfdFlags, SealFlags};
use rustix::io::Errno;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::Mutex;

/// The embedded sleeper: the `mntnssandbox` binary built for this crate's target (feature
/// `embedded-sleeper`). Write it to a file to get the sleeper a Go host such as lxkns finds on
/// `PATH`.
pub const EMBEDDED_SLEEPER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/mntnssandbox"));

/// The way out named by every error of this module.
const WAYS_OUT: &str = "give a sleeper file with Builder::sleeper(path) or $MNTNSSANDBOX_BINARY";

/// The seals that make the memfd immutable.
const SEALS: SealFlags = SealFlags::WRITE
    .union(SealFlags::SHRINK)
    .union(SealFlags::GROW)
    .union(SealFlags::SEAL);

/// The memfd by its number, and the file that number must still name: a host that closes
/// descriptors it does not own (a daemon closing "everything above 2") may have closed ours,
/// and the number may name another file since. It is never closed by us: once it is no
/// longer ours, closing it would close someone else's.
#[derive(Clone, Copy)]
struct Memfd {
    fd: RawFd,
    identity: (u64, u64),
}

static MEMFD: Mutex<Option<Memfd>> = Mutex::new(None);

/// The sealed memfd of the embedded sleeper, made on first use and checked at every use (the
/// same file, sealed, of the sleeper's size), made anew where it is not; clone3 executes it as
/// it is (execveat), `Command` by [`program`].
pub(crate) fn memfd() -> Result<RawFd, Error> {
    let mut memfd = MEMFD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = *memfd {
        if is_ours(known) {
            return Ok(known.fd);
        }
    }
    let fd = sealed_memfd()?;
    let identity = crate::fd::identity(&fd).map_err(|error| Error::io("fstat the memfd", error))?;
    let known = Memfd {
        fd: fd.into_raw_fd(),
        identity,
    };
    *memfd = Some(known);
    Ok(known.fd)
}

/// Whether `known.fd` still is our sealed memfd.
fn is_ours(known: Memfd) -> bool {
    // SAFETY: only looked at, never closed; if the number names another file now, fstat and
    // fcntl tell, and change nothing.
    let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(known.fd) };
    let same = rustix::fs::fstat(fd).is_ok_and(|stat| {
        (stat.st_dev, stat.st_ino) == known.identity
            && stat.st_size as u64 == EMBEDDED_SLEEPER.len() as u64
    });
    same && rustix::fs::fcntl_get_seals(fd).is_ok_and(|seals| seals.contains(SEALS))
}

/// The path to execute the embedded sleeper by: `/proc/self/fd/N` of its sealed memfd.
pub(crate) fn program() -> Result<PathBuf, Error> {
    Ok(PathBuf::from(format!("/proc/self/fd/{}", memfd()?)))
}

/// The error for an embedded sleeper that could not be executed from its memfd.
pub(crate) fn exec_error(program: &std::path::Path, source: io::Error) -> Error {
    let why = match source.raw_os_error() {
        Some(libc::ENOENT) => " (is /proc mounted?)",
        Some(libc::EACCES) => " (vm.memfd_noexec = 2, or a security module, forbids it?)",
        _ => "",
    };
    Error::io(
        format!(
            "execute the embedded sleeper from its memfd {}{why}; {WAYS_OUT}",
            program.display()
        ),
        source,
    )
}

fn sealed_memfd() -> Result<OwnedFd, Error> {
    let name = c"mntnssandbox";
    let flags = MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING;
    let fd = match rustix::fs::memfd_create(name, flags | MemfdFlags::EXEC) {
        Ok(fd) => fd,
        // Before Linux 6.3 there is no MFD_EXEC, and every memfd may be executed.
        Err(Errno::INVAL) => rustix::fs::memfd_create(name, flags).map_err(|errno| {
            Error::io("memfd_create for the embedded sleeper", from_errno(errno))
        })?,
        Err(Errno::ACCESS) => {
            return Err(Error::io(
                format!(
                    "create an executable memfd for the embedded sleeper: \
                     vm.memfd_noexec = 2 forbids it; {WAYS_OUT}"
                ),
                from_errno(Errno::ACCESS),
            ))
        }
        Err(errno) => {
            return Err(Error::io(
                "memfd_create for the embedded sleeper",
                from_errno(errno),
            ))
        }
    };
    let mut file = File::from(own(fd));
    file.write_all(EMBEDDED_SLEEPER)
        .map_err(|source| Error::io("write the embedded sleeper to its memfd", source))?;
    rustix::fs::fcntl_add_seals(lend(&file), SEALS)
        .map_err(|errno| Error::io("seal the embedded sleeper's memfd", from_errno(errno)))?;
    Ok(OwnedFd::from(file))
}
