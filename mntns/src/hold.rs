//! `mntns hold`: keep a namespace held by a sleeper until told to let go.

use crate::nsarg::NamespaceArg;
use crate::{builder, fail, sleeper_of, write_failed, Cli, Outcome};
use mntnssandbox_host::{Hold, OsError};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// The signals that end `hold` cleanly, blocked and read from a signalfd.
const HOLD_SIGNALS: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

pub(crate) fn hold(cli: &Cli, nsref: &NamespaceArg) -> Outcome {
    // Block the signals before anything else (we have no other threads), so none is lost; the
    // sleeper is spawned with an empty signal mask by std.
    let signals =
        signalfd(&HOLD_SIGNALS).map_err(|error| format!("signalfd: {}", OsError(&error)))?;
    let sandbox = builder(cli, nsref)?
        .hold(Hold::Sleeper)
        .spawn()
        .map_err(fail)?;
    let (pid, root) = sleeper_of(&sandbox);
    let pidfd = sandbox.pidfd().map(|pidfd| pidfd.as_raw_fd());
    {
        let mut out = io::stdout().lock();
        writeln!(out, "{pid} {}", root.display())
            .and_then(|()| out.flush())
            .map_err(write_failed)?;
    }

    let stdin = io::stdin();
    let stdin_fd = stdin.as_fd();
    loop {
        let mut fds = [
            libc::pollfd {
                fd: stdin_fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: signals.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: pidfd.unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of pollfd for the duration of the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll: {}", OsError(&error)));
        }
        if fds[2].revents != 0 {
            // Died under us (killed from outside): close() says how.
            return sandbox.close().map_err(fail);
        }
        if fds[1].revents != 0 {
            break;
        }
        if fds[0].revents != 0 {
            let mut sink = [0u8; 4096];
            // SAFETY: reading into a local buffer of the given size.
            let n = unsafe { libc::read(0, sink.as_mut_ptr().cast(), sink.len()) };
            if n == 0 {
                break;
            }
            if n < 0 {
                let error = io::Error::last_os_error();
                match error.kind() {
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => continue,
                    _ => break,
                }
            }
        }
    }
    sandbox.close().map_err(fail)
}

/// Blocks `signals` for this thread and returns a signalfd (close-on-exec) that reads them.
fn signalfd(signals: &[i32]) -> io::Result<OwnedFd> {
    // SAFETY: plain libc calls on a local, initialised sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &signal in signals {
            libc::sigaddset(&mut set, signal);
        }
        let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}
