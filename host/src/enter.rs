//! Entering a mount namespace without a process: a short-lived thread of ours unshares its
//! file-system context, setns(2)es into the namespace, opens its root and ends. The calling
//! thread, and every other thread, keep their namespaces; only the two descriptors come back.
//!
//! As lxkns' `pause_task` does. setns(CLONE_NEWNS) needs CAP_SYS_ADMIN over the user namespace
//! that owns the mount namespace and CAP_SYS_CHROOT in our own: this serves privileged hosts,
//! and everyone else falls back to a sleeper.

use crate::error::from_errno;
use crate::fd::{lend, own};
use rustix::fs::{Mode, OFlags};
use rustix::thread::{LinkNameSpaceType, UnshareFlags};
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

/// The mount namespace at `mount`, held by its own descriptor, and a descriptor (`O_PATH`) of
/// its root directory, as a process that joins it sees that root.
pub(crate) fn enter_in_thread(mount: &Path) -> io::Result<(OwnedFd, OwnedFd)> {
    let namespace = OwnedFd::from(std::fs::File::open(mount)?);
    let root = std::thread::scope(|scope| {
        scope
            .spawn(|| -> io::Result<OwnedFd> {
                // SAFETY: CLONE_FS gives this thread its own root, cwd and umask, which nothing
                // else observes; it ends right after, with no other code run on it.
                unsafe { rustix::thread::unshare_unsafe(UnshareFlags::FS) }.map_err(from_errno)?;
                rustix::thread::move_into_link_name_space(
                    lend(&namespace),
                    Some(LinkNameSpaceType::Mount),
                )
                .map_err(from_errno)?;
                let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
                rustix::fs::open("/", flags, Mode::empty())
                    .map(own)
                    .map_err(from_errno)
            })
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the namespace thread panicked")))
    })?;
    Ok((namespace, root))
}
