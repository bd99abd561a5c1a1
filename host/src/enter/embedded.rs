//! The sleeper built into this crate (feature `embedded-sleeper`): built by build.rs from the
//! `mntnssandbox` package's source for the target this crate is built for, and run from a
//! sealed memfd, as runc runs its own sealed copy.
//!
//! The memfd is made on first use and kept for the life of the process: close-on-exec, so no
//! other child inherits it, and sealed against writes, shrinking and growing, so that what
//! runs is what was embedded. The clone3 spawner executes the memfd itself (execveat with
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
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The embedded sleeper: the `mntnssandbox` binary built for this crate's target (feature
/// `embedded-sleeper`). Write it to a file to get the sleeper a Go host such as lxkns finds on
/// `PATH`.
pub const EMBEDDED_SLEEPER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/mntnssandbox"));

/// The way out named by every error of this module.
const WAYS_OUT: &str = "give a sleeper file with Builder::sleeper(path) or $MNTNSSANDBOX_BINARY";

static MEMFD: OnceLock<OwnedFd> = OnceLock::new();

/// The sealed memfd of the embedded sleeper, made on first use; clone3 executes it as it is
/// (execveat), `Command` by [`program`].
pub(crate) fn memfd() -> Result<RawFd, Error> {
    let fd = match MEMFD.get() {
        Some(fd) => fd,
        // Two threads may both make one here; the loser's is closed.
        None => {
            let fd = sealed_memfd()?;
            MEMFD.get_or_init(|| fd)
        }
    };
    Ok(fd.as_raw_fd())
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
    let seals = SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL;
    rustix::fs::fcntl_add_seals(lend(&file), seals)
        .map_err(|errno| Error::io("seal the embedded sleeper's memfd", from_errno(errno)))?;
    Ok(OwnedFd::from(file))
}
