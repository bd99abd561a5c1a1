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

use env::{Environment, Variable};
use join::join;
use linux_raw_sys::errno::ENOENT;
use report::fail;
use rustix::thread::LinkNameSpaceType as Type;

fn main(env: Environment) -> ! {
    signals::set_dispositions();

    // Unset or empty, it fails as opening "" would, before anything is joined.
    let Some(mount) = env.non_empty(cli::SLEEPY_MNTNS) else {
        let unset = Variable::from_static(c"sleepy_mntns=");
        fail(b"open \"", Some(unset), ENOENT as isize)
    };
    if let Some(user) = env.non_empty(cli::SLEEPY_USERNS) {
        join(Type::User, user);
    }
    join(Type::Mount, mount);
    close_inherited_fds();

    // The handshake: exactly `OK\n` in one write, and the only thing ever written to stdout.
    // (Three bytes are written whole or not at all, to a pipe or a file.)
    let written = sys::write(1, b"OK\n");
    if written < 0 {
        fail(b"write OK", None, -written);
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

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    sys::exit_group(report::EXIT_FAILURE)
}

/// Debug builds of `core` refer to the unwinding personality even with `panic = "abort"`.
#[cfg(debug_assertions)]
#[no_mangle]
extern "C" fn rust_eh_personality() {}
