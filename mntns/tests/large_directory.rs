//! `mntns ls -U` streams a directory as it reads it: a million entries cost no more memory
//! than a few. (A budget, checked against the process's peak RSS.)

#[path = "../../host/tests/common/mod.rs"]
mod common;

use common::{Container, WAIT};
use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Stdio;

const ENTRIES: usize = 1_000_000;
/// The most `mntns ls -U` may hold resident, whatever the directory's size.
const BUDGET_KIB: i64 = 16 * 1024;

/// Runs `command` with stdout counted as it comes (lines, not kept); its peak RSS in KiB,
/// from its own rusage, and the lines it printed. The figure is an upper bound (a child
/// spawned by vfork starts from this test process's high-water mark), which is what a budget
/// needs.
fn peak_rss_and_lines(mut command: std::process::Command) -> (i64, usize) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run mntns");
    let mut stdout = child.stdout.take().expect("piped");
    let counter = std::thread::spawn(move || {
        let (mut lines, mut buf) = (0, vec![0u8; 1 << 16]);
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => return lines,
                Ok(n) => lines += buf[..n].iter().filter(|&&b| b == b'\n').count(),
            }
        }
    });
    let pid = child.id() as libc::pid_t;
    assert!(
        common::wait_gone(child.id(), 6 * WAIT),
        "mntns ls did not finish within {:?}",
        6 * WAIT
    );
    // SAFETY: an all-zero rusage is a valid out-parameter.
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: wait4 on our own exited child, with valid pointers; std's Child is not waited.
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{status}"
    );
    std::mem::forget(child);
    (usage.ru_maxrss, counter.join().expect("the counter"))
}

#[test]
fn ls_unsorted_lists_a_million_entries_in_flat_memory() {
    let container = Container::new("mkdir big; touch big/f");
    let sandbox = container
        .fd_builder()
        .spawn()
        .expect("a sandbox to fill the directory");
    // Hard links to one file: a million names at the cost of their dentries.
    let dir = {
        // SAFETY: a valid directory descriptor and a NUL-terminated name.
        let fd = unsafe {
            libc::openat(
                sandbox.root_fd().as_raw_fd(),
                c"big".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        assert!(fd >= 0, "open big: {}", std::io::Error::last_os_error());
        // SAFETY: just opened, owned here.
        unsafe { OwnedFd::from_raw_fd(fd) }
    };
    for n in 0..ENTRIES {
        let name = CString::new(format!("entry-{n:07}")).expect("no NUL");
        // SAFETY: valid descriptors and NUL-terminated names.
        let linked = unsafe {
            libc::linkat(
                dir.as_raw_fd(),
                c"f".as_ptr(),
                dir.as_raw_fd(),
                name.as_ptr(),
                0,
            )
        };
        assert_eq!(linked, 0, "link {n}: {}", std::io::Error::last_os_error());
    }
    drop(dir);
    drop(sandbox);

    let pid = container.pid().to_string();
    let (rss, lines) = peak_rss_and_lines(container.mntns(&["ls", "-U", &pid, "/big"]));
    eprintln!("mntns ls -U of {lines} entries: peak RSS {rss} KiB");
    assert_eq!(lines, ENTRIES + 1);
    assert!(
        rss < BUDGET_KIB,
        "peak RSS {rss} KiB, over the budget of {BUDGET_KIB} KiB"
    );
    // Sorted, it holds every name (for comparison; not a budget).
    let (sorted_rss, lines) = peak_rss_and_lines(container.mntns(&["ls", &pid, "/big"]));
    eprintln!("mntns ls (sorted) of {lines} entries: peak RSS {sorted_rss} KiB");
    assert_eq!(lines, ENTRIES + 1);
}
