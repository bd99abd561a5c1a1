//! The way in for a reference that names a process: its root through `/proc/<pid>/root`, as
//! lxkns' mountineer does. No thread, no process, no setns: the cost of a few opens.
//!
//! A pidfd is taken first; then the root (`O_PATH | O_DIRECTORY`) and the mount namespace
//! (from the pidfd, `PIDFD_GET_MNT_NAMESPACE`, else `/proc/<pid>/ns/mnt`) are opened, and the
//! pidfd must show the process still running after both: so the PID was not reused in
//! between, and both are that process's. The namespace descriptor keeps the namespace whole
//! once the process is gone, as every sandbox held by descriptors does.
//!
//! What is read is what that process sees as `/`, its chroot included.

use super::child::{is_running, mount_namespace, pidfd_of, process_root};
use super::Builder;
use crate::error::{from_errno, Error};
use crate::sandbox::{Sandbox, Way};
use rustix::io::Errno;

/// Opens the sandbox of process `pid` through its root; `None` where this process may not
/// (EACCES, EPERM: another user's process, or one that is not dumpable), so that another way
/// is tried.
pub(super) fn open(builder: &Builder, pid: u32) -> Result<Option<Sandbox>, Error> {
    let gone =
        |errno: Errno| Error::io(format!("open the root of process {pid}"), from_errno(errno));
    let pidfd = pidfd_of(pid).map_err(gone)?;
    let root = match process_root(pid) {
        Ok(root) => root,
        Err(Errno::ACCESS | Errno::PERM) => return Ok(None),
        Err(errno) => return Err(gone(errno)),
    };
    let namespace = match mount_namespace(&pidfd, pid) {
        Ok(namespace) => namespace,
        Err(error) if matches!(error.raw_os_error(), Some(libc::EACCES | libc::EPERM)) => {
            return Ok(None)
        }
        Err(error) => {
            return Err(Error::io(
                format!("open the namespace of process {pid}"),
                error,
            ))
        }
    };
    if !is_running(&pidfd) {
        return Err(gone(Errno::SRCH));
    }
    let owner = builder.owner_of(&namespace, &[pid])?;
    Ok(Some(Sandbox::held_by_fds(
        namespace,
        root,
        owner,
        Way::ProcessRoot,
    )))
}
