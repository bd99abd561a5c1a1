//! A spawned sleeper as a process: its PID and pidfd, killed and reaped exactly once.

use crate::error::from_errno;
use crate::fd::{lend, own};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use rustix::process::{pidfd_send_signal, waitid, Signal, WaitId, WaitIdOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

/// Our child, named race-free by a pidfd. Dropping it kills and reaps it if that has not
/// happened yet, so no error path can leave a sleeper running or a zombie behind.
#[derive(Debug)]
pub(crate) struct Child {
    pid: u32,
    pidfd: OwnedFd,
    reaped: bool,
}

impl Child {
    /// Takes a pidfd for our own, not yet reaped child `pid`: it cannot have been recycled,
    /// since only we can reap it (unless SIGCHLD is ignored, which makes the kernel reap for us).
    pub(crate) fn adopt(pid: u32) -> io::Result<Self> {
        let raw = i32::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
        let rpid = rustix::process::Pid::from_raw(raw)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
        match rustix::process::pidfd_open(rpid, rustix::process::PidfdFlags::empty()) {
            Ok(pidfd) => Ok(Child {
                pid,
                pidfd: own(pidfd),
                reaped: false,
            }),
            Err(errno) => {
                // Without a pidfd, fall back on the PID, which is still ours: kill and reap.
                let _ = rustix::process::kill_process(rpid, Signal::KILL);
                let _ = rustix::process::waitpid(Some(rpid), rustix::process::WaitOptions::empty());
                Err(from_errno(errno))
            }
        }
    }

    /// Our child `pid` with the pidfd clone3 gave with it.
    pub(crate) fn from_pidfd(pid: u32, pidfd: OwnedFd) -> Self {
        Child {
            pid,
            pidfd,
            reaped: false,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    pub(crate) fn pidfd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// A descriptor of the process's mount namespace (see [`mount_namespace`]).
    pub(crate) fn mount_namespace(&self) -> io::Result<OwnedFd> {
        mount_namespace(&self.pidfd, self.pid)
    }

    /// Whether the process is still running: a pidfd turns readable once the process exits.
    pub(crate) fn is_alive(&self) -> bool {
        !self.exits_within(Duration::ZERO)
    }

    /// Whether the process has exited, or does so within `timeout`.
    pub(crate) fn exits_within(&self, timeout: Duration) -> bool {
        self.reaped || exits_within(self.pidfd.as_fd(), timeout)
    }

    /// SIGKILL through the pidfd (a no-op if it has exited already).
    pub(crate) fn kill(&self) {
        if !self.reaped {
            // ESRCH: exited already. Nothing else can fail for our own child.
            let _ = pidfd_send_signal(lend(&self.pidfd), Signal::KILL);
        }
    }

    /// Waits for the process to end and reaps it. If someone else reaped it (the kernel, when
    /// this process ignores SIGCHLD; or a host's `waitpid(-1)`), the status comes from the
    /// pidfd where the kernel keeps it (Linux 6.15+), else it is `None`.
    pub(crate) fn reap(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.reaped {
            return Ok(None);
        }
        loop {
            match waitid(WaitId::PidFd(lend(&self.pidfd)), WaitIdOptions::EXITED) {
                Ok(status) => {
                    self.reaped = true;
                    return Ok(status.map(|status| {
                        if let Some(code) = status.exit_status() {
                            ExitStatus::from_raw((code & 0xff) << 8)
                        } else {
                            let signal = status.terminating_signal().unwrap_or(0);
                            let core = if status.dumped() { 0x80 } else { 0 };
                            ExitStatus::from_raw(signal | core)
                        }
                    }));
                }
                Err(Errno::INTR) => continue,
                Err(Errno::CHILD) => {
                    self.reaped = true;
                    return Ok(exit_status_from_pidfd(&self.pidfd));
                }
                Err(errno) => return Err(from_errno(errno)),
            }
        }
    }

    /// Kills and reaps; the exit status tells whether it had died by itself before.
    pub(crate) fn kill_and_reap(&mut self) -> io::Result<Option<ExitStatus>> {
        self.kill();
        self.reap()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.kill_and_reap();
    }
}

/// A descriptor of the mount namespace of process `pid` (named by `pidfd`): from the pidfd
/// (`PIDFD_GET_MNT_NAMESPACE`, Linux 6.11+, a few times cheaper than a path through /proc),
/// else `/proc/<pid>/ns/mnt`.
pub(crate) fn mount_namespace(pidfd: &OwnedFd, pid: u32) -> io::Result<OwnedFd> {
    /// `_IO(PIDFS_IOCTL_MAGIC, 3)` of <linux/pidfd.h>.
    const PIDFD_GET_MNT_NAMESPACE: libc::c_ulong = (0xff << 8) | 3;
    // SAFETY: the request returns a new close-on-exec descriptor or -1; its argument must be
    // 0 (the kernel refuses any other with EINVAL, and a variadic call without one passes
    // whatever the register holds).
    let fd = unsafe { libc::ioctl(pidfd.as_raw_fd(), PIDFD_GET_MNT_NAMESPACE as _, 0) };
    if fd >= 0 {
        // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
        return Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
    }
    let error = io::Error::last_os_error();
    // ENOTTY, EINVAL: a kernel without it. Anything else (ESRCH, EPERM) is the answer.
    if !matches!(error.raw_os_error(), Some(libc::ENOTTY | libc::EINVAL)) {
        return Err(error);
    }
    rustix::fs::open(
        format!("/proc/{pid}/ns/mnt").as_str(),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map(own)
    .map_err(from_errno)
}

/// The root directory of process `pid`, as that process sees `/` (`O_PATH`), through
/// `/proc/<pid>/root`.
pub(crate) fn process_root(pid: u32) -> Result<OwnedFd, Errno> {
    let flags =
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC;
    rustix::fs::open(
        format!("/proc/{pid}/root").as_str(),
        flags,
        rustix::fs::Mode::empty(),
    )
    .map(own)
}

/// A pidfd for process `pid` (ESRCH for a number no process can have).
pub(crate) fn pidfd_of(pid: u32) -> Result<OwnedFd, Errno> {
    let rpid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or(Errno::SRCH)?;
    rustix::process::pidfd_open(rpid, rustix::process::PidfdFlags::empty()).map(own)
}

/// Whether the process of `pidfd` is still running: a pidfd turns readable once it exits.
pub(crate) fn is_running(pidfd: &impl AsFd) -> bool {
    !exits_within(pidfd.as_fd(), Duration::ZERO)
}

/// Whether the process of `pidfd` has exited, or does so within `timeout`.
fn exits_within(pidfd: BorrowedFd<'_>, timeout: Duration) -> bool {
    let mut fds = [PollFd::from_borrowed_fd(lend(&pidfd), PollFlags::IN)];
    let timeout = timespec(timeout);
    loop {
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(Errno::INTR) => continue,
            // Cannot happen with a valid pidfd; assume the worst.
            Err(_) => return true,
        }
    }
}

/// `struct pidfd_info` up to its exit code (`PIDFD_INFO_SIZE_VER0`).
#[repr(C)]
#[derive(Default)]
struct PidfdInfo {
    mask: u64,
    cgroupid: u64,
    ids: [u32; 11],
    exit_code: i32,
}

/// `PIDFD_GET_INFO`: `_IOWR(0xFF, 11, struct pidfd_info)`.
const PIDFD_GET_INFO: libc::c_ulong =
    (3 << 30) | ((size_of::<PidfdInfo>() as libc::c_ulong) << 16) | (0xff << 8) | 11;
const PIDFD_INFO_EXIT: u64 = 8;

/// How an exited, already reaped process ended, from its pidfd (Linux 6.15+).
///
/// The kernel records it when it releases the process, a moment after the pidfd turns
/// readable and the process stops being waitable: a few yields bridge that moment.
fn exit_status_from_pidfd(pidfd: &OwnedFd) -> Option<ExitStatus> {
    for _ in 0..1000 {
        let mut info = PidfdInfo {
            mask: PIDFD_INFO_EXIT,
            ..PidfdInfo::default()
        };
        // SAFETY: PIDFD_GET_INFO reads and writes a `struct pidfd_info` of the size encoded in
        // the request, which `info` is.
        let done = unsafe { libc::ioctl(pidfd.as_raw_fd(), PIDFD_GET_INFO as _, &mut info) };
        if done != 0 {
            // ENOTTY, EINVAL: a kernel without it. ESRCH: the process is not known any more.
            return None;
        }
        if info.mask & PIDFD_INFO_EXIT != 0 {
            return Some(ExitStatus::from_raw(info.exit_code));
        }
        std::thread::yield_now();
    }
    None
}

/// A poll(2) timeout from a duration, saturating.
pub(crate) fn timespec(duration: Duration) -> Timespec {
    Timespec {
        tv_sec: duration.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: duration.subsec_nanos().into(),
    }
}
