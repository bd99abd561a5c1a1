//! Whose namespace it is: the user namespace that owns a mount namespace, how that user
//! namespace maps ids, and so the authority every operation in it may have
//! (sandbox/authority.rs).

use super::nsfs;
use crate::error::Error;
use crate::fd::identity;
use crate::sandbox::authority::{Authority, IdMap};
use std::io;
use std::os::fd::OwnedFd;

/// The owner of a mount namespace as reads in it need it.
#[derive(Debug)]
pub(crate) struct Owner {
    pub(crate) authority: Authority,
    /// How the owner maps uids and gids (the identity for our own user namespace).
    pub(crate) uid_map: IdMap,
    pub(crate) gid_map: IdMap,
    /// The owning user namespace, where its maps are still to be read (no process of it was
    /// at hand).
    pub(crate) unmapped: Option<OwnedFd>,
}

impl Owner {
    /// This process's own user namespace.
    pub(crate) fn own() -> Owner {
        Owner {
            authority: Authority::Own,
            uid_map: IdMap::identity(),
            gid_map: IdMap::identity(),
            unmapped: None,
        }
    }
}

/// The owner of the mount namespace `namespace`; its id maps are read from the first of
/// `processes` that lives in that user namespace.
///
/// Where no such process is found, the maps are left to [`Owner::with_maps`] (`unmapped` says
/// so), and until then operations run as the overflow ids (`nobody`), the least authority there
/// is: they still read what anyone may.
pub(crate) fn owner_of(namespace: &OwnedFd, processes: &[u32]) -> Result<Owner, Error> {
    let what = "find the user namespace owning the mount namespace";
    let owner = match nsfs::owner(namespace) {
        Ok(owner) => owner,
        // Owned by a user namespace above ours, whose root has all the authority we have.
        Err(error) if error.raw_os_error() == Some(libc::EPERM) => return Ok(Owner::own()),
        Err(error) => return Err(Error::io(what, error)),
    };
    let owner_id = identity(&owner).map_err(|error| Error::io(what, error))?;
    let ours = nsfs::own_user_namespace().map_err(|error| Error::io(what, error))?;
    if owner_id == ours {
        return Ok(Owner::own());
    }
    let maps = processes.iter().find_map(|&pid| maps_of(pid, owner_id));
    Ok(match maps {
        Some(maps) => Owner::mapped(&owner, maps),
        None => {
            let mut unknown = Owner::mapped(&owner, Default::default());
            unknown.unmapped = Some(owner);
            unknown
        }
    })
}

impl Owner {
    /// The owner user namespace `owner` with its maps, and so the bound of its root.
    fn mapped(owner: &OwnedFd, (uid_map, gid_map): (IdMap, IdMap)) -> Owner {
        let overflow = |kind| overflow_id(kind);
        let uid = match uid_map.to_outside(0) {
            Some(uid) => uid,
            // Mapped, but not 0: its creator's, as the kernel sees a process of the creator
            // there.
            None if !uid_map.is_empty() => {
                nsfs::creator_uid(owner).unwrap_or_else(|_| overflow("overflowuid"))
            }
            None => overflow("overflowuid"),
        };
        let gid = gid_map
            .to_outside(0)
            .unwrap_or_else(|| overflow("overflowgid"));
        Owner {
            authority: Authority::NamespaceRoot { uid, gid },
            uid_map,
            gid_map,
            unmapped: None,
        }
    }

    /// This owner, its maps now known (read by a probe of its user namespace).
    pub(crate) fn with_maps(self, maps: (IdMap, IdMap)) -> Owner {
        match &self.unmapped {
            Some(owner) => Owner::mapped(owner, maps),
            None => self,
        }
    }
}

/// The uid and gid maps of process `pid`, if it lives in the user namespace `owner`; read
/// while a pidfd shows that it is the same process throughout. Any failure: `None`.
fn maps_of(pid: u32, owner: (u64, u64)) -> Option<(IdMap, IdMap)> {
    let pidfd = super::child::pidfd_of(pid).ok()?;
    let in_owner = || {
        rustix::fs::stat(format!("/proc/{pid}/ns/user").as_str())
            .is_ok_and(|user| (user.st_dev, user.st_ino) == owner)
    };
    if !in_owner() {
        return None;
    }
    let maps = id_maps(pid).ok()?;
    // Still that process (the pidfd), still in that user namespace: the maps are its.
    (super::child::is_running(&pidfd) && in_owner()).then_some(maps)
}

/// The uid and gid maps of process `pid`, as `/proc/<pid>/uid_map` and `gid_map` give them.
pub(super) fn id_maps(pid: u32) -> Result<(IdMap, IdMap), Error> {
    let read = |name: &str| -> Result<IdMap, Error> {
        let path = format!("/proc/{pid}/{name}");
        let text = std::fs::read_to_string(&path)
            .map_err(|error| Error::io(format!("read {path}"), error))?;
        IdMap::parse(&text)
            .ok_or_else(|| Error::io(format!("read {path}"), io::Error::other("unreadable")))
    };
    Ok((read("uid_map")?, read("gid_map")?))
}

/// `/proc/sys/kernel/overflowuid` or `overflowgid`: the id unmapped ids show as.
fn overflow_id(name: &str) -> u32 {
    std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(65534)
}
