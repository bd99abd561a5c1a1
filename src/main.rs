//! mntnssandbox: join a mount namespace (and first, optionally, a user namespace), say `OK`,
//! and sleep — so that a host can read that namespace's files through `/proc/<pid>/root`.
//!
//! The protocol, shared with lxkns:
//! - `sleepy_userns` (optional): path of a user namespace to join first;
//! - `sleepy_mntns` (required): path of the mount namespace to join;
//! - success: exactly `OK\n` on stdout, then sleep; failure: one line on stderr, exit 66;
//! - `sleepy_lifeline` (ours): with stdin a pipe or a socket, sleep reading it; exit 0 on EOF.

#![no_std]
#![no_main]

mod arch;
mod cli;
mod elf;
mod env;
mod join;
mod mem;
mod report;
mod signals;
mod sleep;
mod start;
mod sys;

// A `compile_error!` when built for musl without the flags it needs (see build.rs).
include!(concat!(env!("OUT_DIR"), "/target_check.rs"));

use env::Environment;
use join::{join, MOUNT, USER};
use report::fail;
use rustix::thread::{set_capabilities, CapabilitySet, CapabilitySets};

fn main(env: Environment) -> ! {
    signals::set_dispositions();
    // Asked before any join: in a joined user namespace, getuid(2) gives the id mapped there.
    let started_as_root = sys::getuid() == 0;

    // Unset or empty, it is an empty path, which open(2) refuses (ENOENT) before anything is
    // joined: `invalid mount namespace reference "": No such file or directory`.
    let mount = env.non_empty(cli::SLEEPY_MNTNS).unwrap_or(c"");
    if let Some(user) = env.non_empty(cli::SLEEPY_USERNS) {
        join(&USER, user);
    }
    join(&MOUNT, mount);
    close_inherited_fds();
    drop_capabilities();
    if started_as_root {
        // Not dumpable, a root host's sleeper is out of reach of anyone without CAP_SYS_PTRACE
        // over it, such as a root process without capabilities or a container's root. Last,
        // after the joins and the capability drop, which may reset the flag. (It cannot fail.)
        sys::prctl_set_dumpable(false);
    }

    // The handshake: exactly `OK\n` in one write, and the only thing ever written to stdout.
    // (Three bytes are written whole or not at all, to a pipe or a file.)
    let written = sys::write(1, b"OK\n");
    if written < 0 {
        fail(b"cannot write OK", written.wrapping_neg());
    }
    sleep::sleep(env.non_empty(cli::SLEEPY_LIFELINE).is_some())
}

/// A long-lived sleeper must not keep its host's sockets or pipes alive: keep only 0, 1, 2.
fn close_inherited_fds() {
    if sys::close_range_from(3) < 0 {
        // No close_range before Linux 5.9: close what the default fd limit allows.
        for fd in 3..1024 {
            sys::close(fd);
        }
    }
}

/// Joined, the sleeper needs no capability to sleep, reap orphans as PID 1 or read its
/// lifeline: it keeps none (effective, permitted, inheritable; the kernel clears the ambient
/// set with the last two), so that a sleeper left behind is worth nothing to anyone.
fn drop_capabilities() {
    let none = CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    };
    if let Err(errno) = set_capabilities(None, none) {
        fail(b"cannot drop capabilities", errno.raw_os_error() as isize);
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    sys::exit_group(report::EXIT_FAILURE)
}

/// Debug builds of `core` refer to the unwinding personality even with `panic = "abort"`.
#[cfg(debug_assertions)]
#[no_mangle]
extern "C" fn rust_eh_personality() {}
