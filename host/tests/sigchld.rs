//! A host that ignores SIGCHLD (the kernel then reaps its children at once) and cannot use
//! clone3 (here: forced onto `Command`) gets a clear refusal before anything is spawned, never
//! a pidfd that may name a stranger. (With clone3 it spawns: tests/spawner.rs.) Alone in its
//! test binary: the disposition and the spawner choice are process-wide.

mod common;

use common::{child_pids, fd_count, Container};
use mntnssandbox_host::Error;

/// Sets SIGCHLD's action (`SIG_IGN`, or the default with `flags`), returning the previous one.
fn set_sigchld(handler: libc::sighandler_t, flags: libc::c_int) -> libc::sigaction {
    // SAFETY: zeroed sigactions are valid; SIGCHLD's action is replaced and the old one kept.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = flags;
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(libc::SIGCHLD, &action, &mut old), 0);
        old
    }
}

fn restore_sigchld(old: &libc::sigaction) {
    // SAFETY: `old` was returned by sigaction for SIGCHLD.
    assert_eq!(
        unsafe { libc::sigaction(libc::SIGCHLD, old, std::ptr::null_mut()) },
        0
    );
}

#[test]
fn spawning_by_command_with_sigchld_ignored_is_refused_before_spawning() {
    // Read once, at this binary's first spawn.
    std::env::set_var(mntnssandbox_host::SPAWNER_ENV, "command");
    let container = Container::new("echo ok > file");
    let builder = container.builder();
    for (what, handler, flags) in [
        ("SIG_IGN", libc::SIG_IGN, 0),
        ("SA_NOCLDWAIT", libc::SIG_DFL, libc::SA_NOCLDWAIT),
    ] {
        let (children, fds) = (child_pids(), fd_count());
        let old = set_sigchld(handler, flags);
        let spawned = builder.spawn();
        restore_sigchld(&old);
        match spawned {
            Err(Error::SigchldIgnored) => {}
            other => panic!("{what}: expected SigchldIgnored, got {other:?}"),
        }
        assert_eq!(child_pids(), children, "{what}: a process was spawned");
        assert_eq!(fd_count(), fds, "{what}: fds left open");
    }
    // With SIGCHLD back to its default action, spawning works.
    let sandbox = builder.spawn().expect("spawn");
    assert_eq!(sandbox.read("/file").expect("read"), b"ok\n");
}
