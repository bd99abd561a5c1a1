//! A spawn gives the sleeper a small descriptor table however many descriptors the host holds:
//! the clone3 child shares our table and takes its own with only the descriptors below its
//! three stdio ones (close_range with CLOSE_RANGE_UNSHARE), which sit in low slots while
//! sandboxes are alive or our pipes land high. A copy of the host's whole table would show in
//! the sleeper's `FDSize` (its table's size, /proc/PID/status). Its own binary: it opens
//! thousands of descriptors and counts them.

mod common;

use common::{assert_no_leaks, Container};
use mntnssandbox_host::Sandbox;
use std::os::fd::OwnedFd;

/// More descriptors than any table the sleeper would need (64 slots are built in).
const HOST_FDS: usize = 3000;

/// The size of `pid`'s descriptor table.
fn fd_size(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("FDSize:"))
        .and_then(|size| size.trim().parse().ok())
        .expect("FDSize in /proc/PID/status")
}

fn assert_small_table(sandbox: &Sandbox, what: &str) {
    let pid = sandbox.pid().expect("held by a sleeper");
    let size = fd_size(pid);
    assert!(
        size <= 64,
        "{what}: sleeper {pid} got a table of {size} descriptors (the host holds {HOST_FDS})"
    );
    assert_eq!(sandbox.read("/file").expect("read /file"), b"hello\n");
}

#[test]
fn a_sleeper_gets_a_small_table_whatever_the_host_holds() {
    let container = Container::new("echo hello > file");
    // Room for them: the soft limit up to the hard one (often 1024 soft).
    let mut limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    limit.current = limit.maximum;
    let _ = rustix::process::setrlimit(rustix::process::Resource::Nofile, limit);
    assert_no_leaks(
        "spawns while the host holds thousands of descriptors",
        || {
            // As a host opens sandboxes one by one: the first, then the second (which finds one
            // alive and takes the slots, low), then thousands of descriptors above them.
            let first = container.builder().spawn().expect("spawn the first");
            assert_small_table(&first, "the first");
            let second = container.builder().spawn().expect("spawn the second");
            assert_small_table(&second, "the second");
            let null = std::fs::File::open("/dev/null").expect("open /dev/null");
            let many: Vec<OwnedFd> = (0..HOST_FDS)
                .map(|_| OwnedFd::from(null.try_clone().expect("dup /dev/null (RLIMIT_NOFILE?)")))
                .collect();
            let third = container.builder().spawn().expect("spawn the third");
            assert_small_table(&third, "a sandbox alive");
            // Sleepers let go, then another held while they are.
            let detached: Vec<Sandbox> = (0..10)
                .map(|_| {
                    container
                        .fd_builder()
                        .threads(false)
                        .spawn()
                        .expect("spawn and let go")
                })
                .collect();
            let fourth = container.builder().spawn().expect("spawn the fourth");
            assert_small_table(&fourth, "sandboxes held by fds alive");
            drop((detached, many));
            for sandbox in [first, second, third, fourth] {
                sandbox.close().expect("close");
            }
        },
    );
}
