//! Between std's and rustix's descriptor types, which differ while rustix's `std` feature is
//! off (see the crate's Cargo.toml). This crate keeps std's types and lends rustix borrows.

use std::os::fd::{AsFd, AsRawFd, FromRawFd};

/// Turns a descriptor rustix returned into std's owned type.
pub(crate) fn own(fd: rustix::fd::OwnedFd) -> std::os::fd::OwnedFd {
    use rustix::fd::IntoRawFd;
    // SAFETY: `fd` was open and owned; ownership moves from one wrapper to the other.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd.into_raw_fd()) }
}

/// Lends a std descriptor to rustix for as long as it is borrowed.
pub(crate) fn lend<Fd: AsFd>(fd: &Fd) -> rustix::fd::BorrowedFd<'_> {
    // SAFETY: the descriptor stays open for the borrow's lifetime, which is `fd`'s.
    unsafe { rustix::fd::BorrowedFd::borrow_raw(fd.as_fd().as_raw_fd()) }
}

/// Which file a descriptor refers to: its device and inode.
pub(crate) fn identity<Fd: AsFd>(fd: &Fd) -> std::io::Result<(u64, u64)> {
    let stat = rustix::fs::fstat(lend(fd)).map_err(crate::error::from_errno)?;
    Ok((stat.st_dev, stat.st_ino))
}

/// Opens the very file an `O_PATH` handle names, for reading, without a lookup by name,
/// without blocking and without a controlling terminal: through this thread's own descriptor
/// table in procfs (`thread-self`, so that it holds even for a thread that unshared its
/// descriptor table). Out of descriptors, it tries once more after raising the soft limit.
pub(crate) fn reopen<Fd: AsFd>(handle: &Fd) -> std::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    let link = format!("/proc/thread-self/fd/{}", handle.as_fd().as_raw_fd());
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let open = || rustix::fs::open(link.as_str(), flags, Mode::empty());
    match open() {
        Err(rustix::io::Errno::MFILE) if crate::enter::privilege::raise_open_files_limit() => {
            open()
        }
        opened => opened,
    }
    .map(own)
    .map_err(crate::error::from_errno)
}
