//! Scale by namespaces: the bench holds sandboxes on 5,000 *distinct* mount namespaces at once,
//! each held by its descriptors (no process), and reads what they cost from its memory cgroup.
//!
//! The namespaces come from a helper process (this bench again, `--namespaces N`): in a private
//! mount namespace of its own it unshares `CLONE_NEWNS` N times, keeping each new namespace's
//! descriptor, so that they exist before the bench holds any and are charged to the helper,
//! not to the bench. Each sandbox names its namespace as `/proc/<helper>/fd/<n>`, as a user
//! names a container's namespace by a path. The bench's own descriptor table thus holds only
//! what its sandboxes hold (2 per sandbox: the namespace and its root).

use crate::cgroup::{per_item_kib, MemoryCgroup};
use crate::harness::{builder, How};
use crate::stats::median;
use mntnssandbox_host::Sandbox;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Instant;

/// How many namespaces are held at once.
pub const NAMESPACES: usize = 5000;

/// The per-spawn medians compared: the first and the last this many spawns (a tenth).
pub const TENTH: usize = NAMESPACES / 10;

/// The helper's side: make `count` mount namespaces, say `ready FD...` (their descriptors),
/// hold them until the end of input.
pub fn helper(count: usize) -> i32 {
    match make_namespaces(count) {
        Ok(fds) => {
            let fds: Vec<String> = fds.iter().map(i32::to_string).collect();
            println!("ready {}", fds.join(" "));
            let _ = io::stdout().flush();
            let _ = io::stdin().read_to_end(&mut Vec::new());
            0
        }
        Err(error) => {
            eprintln!("namespace helper: {error}");
            1
        }
    }
}

fn make_namespaces(count: usize) -> io::Result<Vec<i32>> {
    use rustix::thread::UnshareFlags;
    let to_io = |errno: rustix::io::Errno| io::Error::from_raw_os_error(errno.raw_os_error());
    crate::scale::raise_fd_limit(count + 64);
    // SAFETY: this process is single-threaded: its file-system context and mount namespace
    // are its own to change.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNS) }.map_err(to_io)?;
    // Private, so that no mount event propagates into (or out of) the 5,000 copies.
    // SAFETY: valid NUL-terminated strings or nulls, as mount(2) takes them.
    let private = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if private != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut fds = Vec::with_capacity(count);
    for _ in 0..count {
        // SAFETY: as above.
        unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNS) }.map_err(to_io)?;
        let fd = rustix::fs::open(
            c"/proc/thread-self/ns/mnt",
            rustix::fs::OFlags::RDONLY,
            rustix::fs::Mode::empty(),
        )
        .map_err(to_io)?;
        fds.push(rustix::fd::IntoRawFd::into_raw_fd(fd));
    }
    Ok(fds)
}

/// The bench's side of the helper: the namespaces' paths; ends the helper when dropped.
pub struct Namespaces {
    child: Child,
    stdin: Option<ChildStdin>,
    pub paths: Vec<String>,
    pub seconds: f64,
}

impl Namespaces {
    pub fn start(count: usize) -> Namespaces {
        let begun = Instant::now();
        let exe = std::env::current_exe().expect("the bench's own path");
        let mut child = Command::new(exe)
            .arg("--namespaces")
            .arg(count.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the namespace helper");
        let mut ready = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut ready)
            .expect("read the namespace helper's ready line");
        let fields: Vec<usize> = ready
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("namespace helper said {ready:?}"))
            .split_whitespace()
            .map(|field| field.parse().expect("the helper's numbers"))
            .collect();
        assert_eq!(fields.len(), count, "the namespace helper's descriptors");
        let pid = child.id();
        let paths = fields
            .iter()
            .map(|fd| format!("/proc/{pid}/fd/{fd}"))
            .collect();
        Namespaces {
            stdin: child.stdin.take(),
            child,
            paths,
            seconds: begun.elapsed().as_secs_f64(),
        }
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// What holding `NAMESPACES` sandboxes measured, over repetitions.
#[derive(Default)]
pub struct NamespaceScale {
    /// Every spawn's time to the sandbox ready, µs, all repetitions.
    pub spawn_us: Vec<f64>,
    /// Per repetition: median of the last `TENTH` spawns over the median of the first `TENTH`.
    pub last_to_first: Vec<f64>,
    /// Per repetition, per namespace held: cgroup memory (all, and the kernel's part), KiB;
    /// `None` where a reading was missing or fell.
    pub cgroup_kib: Vec<Option<f64>>,
    pub cgroup_kernel_kib: Vec<Option<f64>>,
    /// Per repetition: descriptors this process had open while holding them all (`None`:
    /// /proc/self/fd unreadable).
    pub fds_held: Vec<Option<usize>>,
}

/// Opens a sandbox (as `how` says: `CrateDetached` or `CrateThread`) on each of `namespaces`,
/// one after the other, all held at once; memory from `cgroup`, which the bench is in meanwhile.
pub fn hold_namespaces(
    how: &How,
    namespaces: &Namespaces,
    cgroup: Option<&MemoryCgroup>,
    scale: &mut NamespaceScale,
) {
    let count = namespaces.paths.len();
    // Everything the loop keeps is allocated before the first reading.
    let mut sandboxes: Vec<Sandbox> = Vec::with_capacity(count);
    let mut times = Vec::with_capacity(count);
    let entered = cgroup.map(MemoryCgroup::enter);
    let before = cgroup.map(MemoryCgroup::usage);
    for path in &namespaces.paths {
        let builder = builder(how, path);
        let start = Instant::now();
        let sandbox = builder
            .spawn()
            .unwrap_or_else(|error| panic!("{how:?} on {path}: {error}"));
        times.push(start.elapsed());
        sandboxes.push(sandbox);
    }
    let after = cgroup.map(MemoryCgroup::usage);
    scale
        .fds_held
        .push(std::fs::read_dir("/proc/self/fd").map(Iterator::count).ok());
    drop(sandboxes);
    drop(entered);

    let micros: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e6).collect();
    scale
        .last_to_first
        .push(median(&micros[count - TENTH..]) / median(&micros[..TENTH]));
    scale.spawn_us.extend(micros);
    if let (Some(before), Some(after)) = (before, after) {
        let what = format!("{count} namespaces held ({how:?})");
        scale
            .cgroup_kib
            .push(per_item_kib(&what, before.total, after.total, count));
        if before.kernel.is_some() || after.kernel.is_some() {
            let what = format!("{what}, kernel");
            scale
                .cgroup_kernel_kib
                .push(per_item_kib(&what, before.kernel, after.kernel, count));
        }
    }
}
