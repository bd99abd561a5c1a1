//! Low descriptor numbers for a sleeper's stdin, stdout and stderr, so that a spawn copies a
//! few descriptors into the child, not this process's whole table.
//!
//! clone3 shares our descriptor table with the child (`CLONE_FILES`, see clone3.rs), and the
//! child's first step is `close_range(K, ~0, CLOSE_RANGE_UNSHARE)`: the kernel gives it a table
//! of its own holding only our descriptors below K (fs/file.c, `dup_fd` with a punched hole).
//! Without that, clone copies every descriptor we have (and exec then closes them all again):
//! a host holding 5,000 sandboxes (10,000 descriptors) pays for all of them at every spawn.
//!
//! K must lie above the three descriptors the child takes as 0, 1 and 2. A host that holds
//! sandboxes has its low numbers taken by their descriptors, and new pipes land above them all;
//! so while any sandbox is alive (or where the pipes land high), three low numbers are
//! *slots*, kept open on `/dev/null` between spawns, into which each spawn dup3s its three
//! descriptors (under a lock: one spawn at a time uses them) and which it points back at
//! `/dev/null` after. The slots are taken at the first spawn that needs them (while the table
//! is still small, in a host that opens sandboxes one by one) and closed with the last sandbox,
//! or after the spawn if none is alive: a host holding no sandbox holds no descriptor of ours.

use crate::error::from_errno;
use crate::fd::{lend, own};
use rustix::io::DupFlags;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Sandboxes alive in this process.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// `/dev/null`, then the three slots (all on `/dev/null` between spawns); `None` while no
/// sandbox is alive.
static SLOTS: Mutex<Option<[OwnedFd; 4]>> = Mutex::new(None);

/// Counts a sandbox alive while held: the slots stay reserved while one is.
#[derive(Debug)]
pub(crate) struct Lease(());

impl Lease {
    pub(crate) fn take() -> Lease {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Lease(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if LIVE.fetch_sub(1, Ordering::SeqCst) == 1 {
            let mut slots = lock();
            // A spawn holding the lock has finished with them; a sandbox opened meanwhile
            // keeps them.
            if LIVE.load(Ordering::SeqCst) == 0 {
                *slots = None;
            }
        }
    }
}

fn lock() -> MutexGuard<'static, Option<[OwnedFd; 4]>> {
    // Nothing panics while holding it; if something did, the slots are still sound.
    SLOTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where a spawn's three descriptors are for the child: `fds` (each ≥ 3), every descriptor the
/// child needs lies below `keep_below`. Slots in use go back to `/dev/null` when dropped.
pub(crate) struct Placed {
    pub(crate) fds: [RawFd; 3],
    pub(crate) keep_below: RawFd,
    slots: Option<MutexGuard<'static, Option<[OwnedFd; 4]>>>,
}

/// Below this, the child's table is the one embedded in its `files_struct`
/// (`NR_OPEN_DEFAULT`): a copy this small costs nothing worth a slot.
const SMALL_TABLE: RawFd = 64;

/// Places `stdio` (each ≥ 3) for a spawn: where they are if no sandbox is alive and they lie
/// low, else in the slots (reserving them first if needed).
pub(crate) fn place(stdio: [&OwnedFd; 3]) -> io::Result<Placed> {
    let natural = stdio.map(AsRawFd::as_raw_fd);
    let natural_below = natural.iter().max().map_or(3, |fd| fd + 1);
    if LIVE.load(Ordering::SeqCst) == 0 && natural_below <= SMALL_TABLE {
        return Ok(Placed {
            fds: natural,
            keep_below: natural_below,
            slots: None,
        });
    }
    let mut guard = lock();
    if guard.is_none() {
        *guard = Some(reserve()?);
    }
    let slots = guard.as_ref().expect("reserved above");
    let mut fds = [0; 3];
    for ((fd, slot), source) in fds.iter_mut().zip(&slots[1..]).zip(stdio) {
        dup_into(source, slot).map_err(from_errno)?;
        *fd = slot.as_raw_fd();
    }
    let keep_below = slots.iter().map(AsRawFd::as_raw_fd).max().unwrap_or(2) + 1;
    Ok(Placed {
        fds,
        keep_below,
        slots: Some(guard),
    })
}

/// dup3(2) of `source` onto the slot (close-on-exec), which stays open and ours.
fn dup_into(source: &OwnedFd, slot: &OwnedFd) -> rustix::io::Result<()> {
    use rustix::fd::FromRawFd;
    // SAFETY: the slot is open and stays so: dup3 replaces what it refers to, and the
    // ManuallyDrop never closes it.
    let mut target =
        std::mem::ManuallyDrop::new(unsafe { rustix::fd::OwnedFd::from_raw_fd(slot.as_raw_fd()) });
    rustix::io::dup3(lend(source), &mut target, DupFlags::CLOEXEC)
}

/// `/dev/null` at the lowest free number above 2, and three copies of it, the slots.
fn reserve() -> io::Result<[OwnedFd; 4]> {
    use rustix::fs::{Mode, OFlags};
    let null = rustix::fs::open(
        c"/dev/null",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map(own)
    .map_err(from_errno)?;
    let above_stdio = |fd: &OwnedFd| {
        rustix::io::fcntl_dupfd_cloexec(lend(fd), 3)
            .map(own)
            .map_err(from_errno)
    };
    // Above 2 even in a host that closed its own stdio (then the first open got 0, 1 or 2).
    let null = if null.as_raw_fd() > 2 {
        null
    } else {
        above_stdio(&null)?
    };
    let slots = [
        above_stdio(&null)?,
        above_stdio(&null)?,
        above_stdio(&null)?,
    ];
    let [stdin, stdout, stderr] = slots;
    Ok([null, stdin, stdout, stderr])
}

impl Drop for Placed {
    fn drop(&mut self) {
        let Some(guard) = &mut self.slots else { return };
        if LIVE.load(Ordering::SeqCst) == 0 {
            // No sandbox to keep them for (this spawn's, if it succeeds, takes its lease
            // later, and the next spawn reserves them again).
            **guard = None;
            return;
        }
        let Some(slots) = guard.as_ref() else { return };
        for slot in &slots[1..] {
            // Cannot fail: both are open, and the number is in use already.
            let _ = dup_into(&slots[0], slot);
        }
    }
}
