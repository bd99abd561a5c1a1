//! mntnssandbox: join a mount namespace (and first, optionally, a user namespace), say `OK`,
//! and sleep — so that a host can read that namespace's files through `/proc/<pid>/root`.
//!
//! The protocol, shared with lxkns:
//! - `sleepy_userns` (optional): path of a user namespace to join first;
//! - `sleepy_mntns` (required): path of the mount namespace to join;
//! - success: exactly `OK\n` on stdout, then sleep; failure: one line on stderr, exit 66;
//! - `sleepy_lifeline` (ours): sleep reading stdin and exit 0 on EOF.

#![no_std]
#![no_main]

mod arch;
mod env;
mod join;
mod mem;
mod report;
mod sleep;
mod start;
mod sys;

use core::convert::Infallible;
use env::Environment;
use join::{join, Kind};
use report::{report, Failure};

/// Exit status on any failure, as lxkns' own sleeper uses.
const EXIT_FAILURE: i32 = 66;

fn main(_argc: usize, env: Environment) -> ! {
    let Err(failure) = run(env);
    report(&failure);
    sys::exit_group(EXIT_FAILURE)
}

fn run(env: Environment) -> Result<Infallible, Failure> {
    // A host that closed our stdout must see exit 66, not a death by SIGPIPE.
    let _ = sys::block_signal(linux_raw_sys::general::SIGPIPE);

    let mount = env.non_empty(b"sleepy_mntns").ok_or(Failure::MountNamespaceUnset)?;
    if let Some(user) = env.non_empty(b"sleepy_userns") {
        enter(Kind::User, user)?;
    }
    enter(Kind::Mount, mount)?;
    close_inherited_fds();
    say_ok()?;

    if env.non_empty(b"sleepy_lifeline").is_some() {
        Err(sleep::until_lifeline_closes())
    } else {
        sleep::forever()
    }
}

fn enter(kind: Kind, path: &'static core::ffi::CStr) -> Result<(), Failure> {
    join(kind, path).map_err(|(step, errno)| Failure::Namespace { step, kind, path, errno })
}

/// A long-lived sleeper must not keep its host's sockets or pipes alive: keep only 0, 1, 2.
fn close_inherited_fds() {
    if sys::close_from(3).is_err() {
        // Before Linux 5.9 there is no close_range; close what a default fd limit allows.
        for fd in 3..1024 {
            // SAFETY: we own every fd of this process and use none above 2 from here on.
            unsafe { rustix::io::close(fd) };
        }
    }
}

/// The handshake: exactly `OK\n`, in one write, and the only thing ever written to stdout.
fn say_ok() -> Result<(), Failure> {
    // SAFETY: fd 1 is borrowed for this one write; if it is closed the write fails with EBADF.
    let stdout = unsafe { rustix::fd::BorrowedFd::borrow_raw(1) };
    match rustix::io::write(stdout, b"OK\n") {
        Ok(3) => Ok(()),
        Ok(_) => Err(Failure::Handshake(rustix::io::Errno::IO)),
        Err(errno) => Err(Failure::Handshake(errno)),
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    sys::exit_group(EXIT_FAILURE)
}

/// Debug builds of `core` refer to the unwinding personality even with `panic = "abort"`.
#[cfg(debug_assertions)]
#[no_mangle]
extern "C" fn rust_eh_personality() {}
