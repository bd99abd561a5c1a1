//! The authority bound: in a mount namespace owned by another user namespace, every operation
//! runs with no more authority than that user namespace's root has.
//!
//! A root host reading a namespace that a local user made (`unshare -U -r -m`, a rootless
//! container) would otherwise read with root's authority whatever the user planted there: a
//! link to a root-only host file, a bind mount of a host directory the user cannot search. So
//! for the duration of each call the calling thread takes the namespace root's credentials:
//! fsuid and fsgid of the host ids its user namespace maps 0 to, no supplementary groups, an
//! empty effective capability set. All with per-thread system calls (setfsuid(2),
//! setfsgid(2), setgroups(2) and capset(2) act on the calling thread only; nothing here uses
//! libc's process-wide `set*id` family), and everything is restored before the call returns.
//!
//! What the kernel does on the side, and is undone: a change of fsuid or fsgid resets the
//! thread's parent-death signal and sets the process's dumpable flag to `fs.suid_dumpable`
//! (`commit_creds`); both are put back as they were (the dumpable flag once no call of ours
//! is inside the bound any more). A change of fsuid away from 0 clears the file-system
//! capabilities from the effective set, and back to 0 raises them from the permitted set; the
//! saved sets are restored exactly afterwards.
//!
//! The bound is cheaper than the exact authority (a process in that user namespace opening on
//! our behalf) and errs on the safe side: the namespace's root holds CAP_DAC_OVERRIDE over the
//! files of every user mapped into its namespace, which the bound does not give, so a file of
//! another mapped user that is not readable by the root's host id (a `0600` file of uid 1 in a
//! rootless container) is refused with EACCES. Never the other way round.

use crate::error::from_errno;
use rustix::thread::{CapabilitySet, CapabilitySets};
use std::fmt;
use std::io;
use std::sync::Mutex;

/// The ids a user namespace maps, one `uid_map` or `gid_map`: ranges of
/// `(inside, outside, count)`, outside as seen from this process's user namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdMap {
    ranges: Vec<(u32, u32, u32)>,
}

impl IdMap {
    /// Parses the text of `/proc/<pid>/uid_map` or `gid_map`.
    pub(crate) fn parse(text: &str) -> Option<IdMap> {
        let mut ranges = Vec::new();
        for line in text.lines() {
            let mut fields = line.split_whitespace().map(|field| field.parse::<u32>());
            match (fields.next(), fields.next(), fields.next(), fields.next()) {
                (Some(Ok(inside)), Some(Ok(outside)), Some(Ok(count)), None) => {
                    ranges.push((inside, outside, count))
                }
                _ => return None,
            }
        }
        Some(IdMap { ranges })
    }

    /// The identity: how this process's own user namespace sees its ids.
    pub(crate) fn identity() -> IdMap {
        IdMap {
            ranges: vec![(0, 0, u32::MAX)],
        }
    }

    /// Whether nothing is mapped (or the map is unknown).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The id that `inside` (an id in the namespace) is outside it, if it is mapped.
    pub fn to_outside(&self, inside: u32) -> Option<u32> {
        self.ranges.iter().find_map(|&(first, outside, count)| {
            let offset = inside.checked_sub(first)?;
            (offset < count)
                .then(|| outside.checked_add(offset))
                .flatten()
        })
    }

    /// The id that `outside` (an id as this process sees it) is inside the namespace, if it is
    /// mapped there: what a process in the container sees as a file's owner.
    pub fn to_inside(&self, outside: u32) -> Option<u32> {
        self.ranges.iter().find_map(|&(inside, first, count)| {
            let offset = outside.checked_sub(first)?;
            (offset < count)
                .then(|| inside.checked_add(offset))
                .flatten()
        })
    }
}

/// Whose authority the operations of a [`Sandbox`](crate::Sandbox) have; see the crate's
/// threat model.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// This process's own: the mount namespace is owned by this process's user namespace (a
    /// rootful container, or the host's own namespace), whose root the host is anyway.
    Own,
    /// At most the namespace root's: the mount namespace is owned by another user namespace,
    /// and every operation runs with fsuid `uid` and fsgid `gid` (the host ids that user
    /// namespace maps 0 to; where 0 is unmapped, its owner's uid and the overflow gid), no
    /// supplementary groups and no effective capabilities.
    NamespaceRoot {
        /// The fsuid operations run with.
        uid: u32,
        /// The fsgid operations run with.
        gid: u32,
    },
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authority::Own => f.write_str("Own"),
            Authority::NamespaceRoot { uid, gid } => {
                write!(f, "NamespaceRoot(fsuid {uid}, fsgid {gid})")
            }
        }
    }
}

impl Authority {
    /// Takes this authority on the calling thread until the returned guard is dropped (a no-op
    /// for [`Authority::Own`]). Fails, changing nothing, where the thread cannot take it
    /// (no CAP_SETUID to take another fsuid, say): the operation must then not run.
    pub(crate) fn enter(self) -> io::Result<Bounded> {
        match self {
            Authority::Own => Ok(Bounded { saved: None }),
            Authority::NamespaceRoot { uid, gid } => {
                take(uid, gid).map(|saved| Bounded { saved: Some(saved) })
            }
        }
    }
}

/// The calling thread inside the bound; its credentials are restored when this is dropped.
#[must_use]
pub(crate) struct Bounded {
    saved: Option<Saved>,
}

impl Drop for Bounded {
    fn drop(&mut self) {
        if let Some(saved) = self.saved.take() {
            restore(saved);
        }
    }
}

/// What the thread had before, to be put back.
struct Saved {
    capabilities: CapabilitySets,
    /// The fsuid and fsgid, where they were changed.
    fsuid: Option<u32>,
    fsgid: Option<u32>,
    /// The supplementary groups, where they were dropped.
    groups: Option<Vec<libc::gid_t>>,
    /// The parent-death signal, where a change of fsuid or fsgid cleared it.
    parent_death_signal: Option<i32>,
}

/// Calls of ours inside a bound that changed fsuid or fsgid, and whether the process was
/// dumpable before the first of them.
static DUMPABLE: Mutex<(usize, bool)> = Mutex::new((0, false));

fn take(uid: u32, gid: u32) -> io::Result<Saved> {
    let capabilities = rustix::thread::capabilities(None).map_err(from_errno)?;
    let mut saved = Saved {
        capabilities,
        fsuid: None,
        fsgid: None,
        groups: None,
        parent_death_signal: None,
    };
    let (fsuid, fsgid) = (set_fsuid(u32::MAX), set_fsgid(u32::MAX));
    let changes_ids = fsuid != uid || fsgid != gid;
    if changes_ids {
        saved.parent_death_signal = Some(parent_death_signal());
        let mut dumpable = lock_dumpable();
        if dumpable.0 == 0 {
            dumpable.1 = is_dumpable();
        }
        dumpable.0 += 1;
    }
    // From here on, whatever fails is undone by restore().
    let result = (|| {
        // Without CAP_SETGID the groups stay (an unprivileged host keeps its own groups, as
        // the namespaces it made do).
        if capabilities.effective.contains(CapabilitySet::SETGID) {
            let groups = groups()?;
            if !groups.is_empty() {
                rustix::thread::set_thread_groups(&[]).map_err(from_errno)?;
                saved.groups = Some(groups);
            }
        }
        if fsgid != gid {
            saved.fsgid = Some(fsgid);
            set_fsgid(gid);
            if set_fsgid(u32::MAX) != gid {
                return Err(refused("fsgid", gid));
            }
        }
        if fsuid != uid {
            saved.fsuid = Some(fsuid);
            set_fsuid(uid);
            if set_fsuid(u32::MAX) != uid {
                return Err(refused("fsuid", uid));
            }
        }
        if !capabilities.effective.is_empty() {
            let none = CapabilitySets {
                effective: CapabilitySet::empty(),
                ..capabilities
            };
            rustix::thread::set_capabilities(None, none).map_err(from_errno)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(saved),
        Err(error) => {
            restore(saved);
            Err(error)
        }
    }
}

/// Puts back what [`take`] changed, in the order that has the capabilities for each step.
fn restore(saved: Saved) {
    // CAP_SETUID and CAP_SETGID back first, for the ids and groups.
    let _ = rustix::thread::set_capabilities(None, saved.capabilities);
    if let Some(fsuid) = saved.fsuid {
        set_fsuid(fsuid);
    }
    if let Some(fsgid) = saved.fsgid {
        set_fsgid(fsgid);
    }
    if let Some(groups) = &saved.groups {
        // SAFETY: `groups` is a valid array of that many gids during the call; setgroups(2)
        // acts on the calling thread only.
        unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    }
    if saved.fsuid.is_some() {
        // An fsuid back to 0 raised the file-system capabilities the saved sets may lack.
        let _ = rustix::thread::set_capabilities(None, saved.capabilities);
    }
    if let Some(signal) = saved.parent_death_signal {
        if signal != 0 {
            // SAFETY: PR_SET_PDEATHSIG takes a signal number; it acts on the calling thread.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) };
        }
        let mut dumpable = lock_dumpable();
        dumpable.0 -= 1;
        if dumpable.0 == 0 && dumpable.1 {
            // SAFETY: PR_SET_DUMPABLE takes 0 or 1.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1 as libc::c_ulong) };
        }
    }
}

fn lock_dumpable() -> std::sync::MutexGuard<'static, (usize, bool)> {
    // Nothing panics while holding it; a poisoned one is still sound.
    DUMPABLE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn refused(what: &str, id: u32) -> io::Error {
    let error = io::Error::last_os_error();
    let errno = error.raw_os_error().filter(|&errno| errno != 0);
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "cannot take the namespace root's {what} {id} (EPERM ({}): this process lacks \
             CAP_SETUID and CAP_SETGID) and will not read with more authority",
            errno.unwrap_or(libc::EPERM)
        ),
    )
}

/// setfsuid(2) of the calling thread; returns the previous fsuid (`u32::MAX`, an invalid id,
/// changes nothing and returns the current one).
fn set_fsuid(uid: u32) -> u32 {
    // SAFETY: setfsuid takes an id and cannot fail; it acts on the calling thread only.
    unsafe { libc::syscall(libc::SYS_setfsuid, uid) as u32 }
}

/// setfsgid(2), as [`set_fsuid`].
fn set_fsgid(gid: u32) -> u32 {
    // SAFETY: setfsgid takes an id and cannot fail; it acts on the calling thread only.
    unsafe { libc::syscall(libc::SYS_setfsgid, gid) as u32 }
}

/// The calling thread's supplementary groups.
fn groups() -> io::Result<Vec<libc::gid_t>> {
    loop {
        // SAFETY: with a size of 0, getgroups(2) only counts.
        let count = unsafe { libc::syscall(libc::SYS_getgroups, 0, std::ptr::null_mut::<u32>()) };
        if count < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut groups = vec![0; count as usize];
        // SAFETY: the kernel writes at most `count` gids into a buffer of that many.
        let got = unsafe { libc::syscall(libc::SYS_getgroups, count, groups.as_mut_ptr()) };
        if got == count {
            return Ok(groups);
        }
        // Changed in between (EINVAL: more now): count again.
    }
}

fn parent_death_signal() -> i32 {
    let mut signal: libc::c_int = 0;
    // SAFETY: PR_GET_PDEATHSIG writes one int to the address given.
    unsafe { libc::prctl(libc::PR_GET_PDEATHSIG, &mut signal as *mut libc::c_int) };
    signal
}

fn is_dumpable() -> bool {
    // SAFETY: PR_GET_DUMPABLE takes no argument.
    unsafe { libc::prctl(libc::PR_GET_DUMPABLE) == 1 }
}

#[cfg(test)]
mod tests {
    use super::IdMap;

    #[test]
    fn maps_translate_both_ways_within_their_ranges() {
        let map =
            IdMap::parse("         0     100000      65536\n     65536       1000          1\n")
                .expect("parses");
        assert_eq!(map.to_outside(0), Some(100000));
        assert_eq!(map.to_outside(65535), Some(165535));
        assert_eq!(map.to_outside(65536), Some(1000));
        assert_eq!(map.to_outside(65537), None);
        assert_eq!(map.to_inside(100000), Some(0));
        assert_eq!(map.to_inside(1000), Some(65536));
        assert_eq!(map.to_inside(0), None);
        assert_eq!(
            IdMap::identity().to_inside(4_000_000_000),
            Some(4_000_000_000)
        );
        assert_eq!(IdMap::parse("0 0\n"), None);
        assert_eq!(IdMap::parse(""), Some(IdMap::default()));
    }
}
