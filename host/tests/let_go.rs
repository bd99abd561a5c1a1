//! Sleepers let go (`Hold::Fds` through a sleeper) are killed and reaped off the caller's path,
//! by a reaper thread; a sandbox dropped before the thread came round reaps its sleeper itself.
//! Either way nothing is left behind. Its own binary: it counts children and descriptors.

mod common;

use common::{assert_no_leaks, child_pids, serial, Container, WAIT};
use mntnssandbox_host::Sandbox;
use std::time::Instant;

fn let_go(container: &Container) -> Sandbox {
    container
        .fd_builder()
        .threads(false)
        .spawn()
        .expect("spawn and let go")
}

/// The children of this thread (which spawns the sleepers), read at once: no scan of /proc, so
/// that a sleeper still on the reaper's list right after a drop would show.
fn my_children() -> String {
    std::fs::read_to_string("/proc/thread-self/children").expect("read /proc/thread-self/children")
}

#[test]
fn sandboxes_dropped_at_once_leave_nothing_behind() {
    let _serial = serial();
    let container = Container::new("echo hello > file");
    assert_no_leaks("1,000 sandboxes let go and dropped at once", || {
        let before = my_children();
        for round in 0..1000 {
            let sandbox = let_go(&container);
            assert!(sandbox.pid().is_none());
            drop(sandbox);
            assert_eq!(
                my_children(),
                before,
                "round {round}: its sleeper is still here"
            );
        }
    });
}

#[test]
fn the_reaper_thread_reaps_while_the_sandboxes_live() {
    let _serial = serial();
    let container = Container::new("echo hello > file");
    assert_no_leaks("100 sandboxes let go, held", || {
        let before = child_pids();
        let sandboxes: Vec<Sandbox> = (0..100).map(|_| let_go(&container)).collect();
        let deadline = Instant::now() + WAIT;
        while child_pids() != before {
            assert!(
                Instant::now() < deadline,
                "sleepers let go not reaped within {WAIT:?}: {:?}",
                common::children()
            );
            std::thread::yield_now();
        }
        for sandbox in &sandboxes {
            assert_eq!(sandbox.read("/file").expect("read /file"), b"hello\n");
        }
    });
}
