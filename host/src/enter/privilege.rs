//! What this process may do itself, asked of the kernel before spawning: whether it can enter
//! a mount namespace without joining a user namespace, whether its children can be named
//! safely by a pidfd taken after the spawn, and room for more descriptors.

use super::nsfs;
use crate::fd::identity;
use rustix::thread::CapabilitySet;
use std::io;
use std::os::fd::OwnedFd;

/// User namespaces nest at most 32 deep.
const MAX_USERNS_DEPTH: usize = 33;

/// Whether a child of ours (same credentials) can setns(2) into the mount namespace
/// `namespace` as it is: setns needs CAP_SYS_CHROOT in our own user namespace and CAP_SYS_ADMIN
/// over the user namespace that owns the mount namespace, which we have when both are in our
/// effective set and that owner is our user namespace or one below it. Then joining the
/// container's user namespace first is not needed, and not wanted: it would put the sleeper's
/// credentials where the container's root can signal and ptrace it. Any doubt answers `false`.
pub(crate) fn enters_without_userns(namespace: &OwnedFd) -> bool {
    may_setns() && owned_by_our_userns_or_below(namespace).unwrap_or(false)
}

/// Whether this thread holds what setns(CLONE_NEWNS) asks of it in its own user namespace
/// (CAP_SYS_ADMIN, CAP_SYS_CHROOT); whether that reaches the target namespace is the kernel's
/// to say.
pub(crate) fn may_setns() -> bool {
    let needed = CapabilitySet::SYS_ADMIN | CapabilitySet::SYS_CHROOT;
    rustix::thread::capabilities(None).is_ok_and(|sets| sets.effective.contains(needed))
}

/// The soft `RLIMIT_NOFILE`, for messages: a number, or `unlimited`.
pub(crate) fn open_files_limit() -> String {
    match rustix::process::getrlimit(rustix::process::Resource::Nofile).current {
        Some(limit) => limit.to_string(),
        None => "unlimited".into(),
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; whether it was below it.
pub(crate) fn raise_open_files_limit() -> bool {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    match (limit.current, limit.maximum) {
        (Some(current), maximum) if maximum.is_none_or(|maximum| current < maximum) => {
            let raised = rustix::process::Rlimit {
                current: maximum,
                maximum,
            };
            setrlimit(Resource::Nofile, raised).is_ok()
        }
        _ => false,
    }
}

fn owned_by_our_userns_or_below(namespace: &OwnedFd) -> io::Result<bool> {
    let ours = nsfs::own_user_namespace()?;
    let mut owner = nsfs::owner(namespace)?;
    for _ in 0..MAX_USERNS_DEPTH {
        if identity(&owner)? == ours {
            return Ok(true);
        }
        // EPERM once the parent is above our own user namespace: not below us.
        owner = match nsfs::ns_ioctl(&owner, libc::NS_GET_PARENT) {
            Ok(parent) => parent,
            Err(_) => return Ok(false),
        };
    }
    Ok(false)
}

/// Whether the kernel reaps our children by itself (SIGCHLD ignored, or `SA_NOCLDWAIT`): then
/// a child may be gone, and its PID reused, before a pidfd is taken for it.
pub(crate) fn children_reaped_by_kernel() -> bool {
    // SAFETY: a zeroed sigaction is a valid out-parameter; no action is installed.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: querying the current action only (no new action given).
    let queried = unsafe { libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut action) };
    queried == 0
        && (action.sa_sigaction == libc::SIG_IGN || action.sa_flags & libc::SA_NOCLDWAIT != 0)
}
