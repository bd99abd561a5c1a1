//! Scale: many processes held at once, each spawned to `OK` and timed, their memory read from
//! the memory cgroup while they are all held.

use crate::cgroup::{per_item_kib, MemoryCgroup};
use crate::harness::{namespace, read_ok, How};
use crate::stats::median;
use mntnssandbox_host::{Sandbox, MNTNS_ENV};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// How many processes are held at once.
pub const HELD: usize = 1000;

/// Processes held at once; all killed, then all reaped, when dropped.
enum Herd {
    Raw(Vec<Child>),
    Crate(Vec<Sandbox>),
}

impl Drop for Herd {
    fn drop(&mut self) {
        match self {
            Herd::Raw(children) => {
                for child in children.iter_mut() {
                    let _ = child.kill();
                }
                for child in children.iter_mut() {
                    let _ = child.wait();
                }
            }
            Herd::Crate(sandboxes) => sandboxes.clear(),
        }
    }
}

/// What holding `HELD` processes measured, over repetitions.
#[derive(Default)]
pub struct Scale {
    /// Every spawn's time to OK, µs, all repetitions.
    pub spawn_us: Vec<f64>,
    /// Per repetition: median of the last tenth of the spawns over median of the first tenth.
    pub last_to_first: Vec<f64>,
    /// Per repetition, per process held: cgroup memory (all, and the kernel's part), KiB;
    /// `None` where a reading was missing or fell (no memory cgroup: no repetitions at all).
    pub cgroup_kib: Vec<Option<f64>>,
    pub cgroup_kernel_kib: Vec<Option<f64>>,
    pub rss_kib: Vec<f64>,
    pub pss_kib: Vec<f64>,
}

/// Spawns `HELD` processes as `how` says (`Raw` or `CrateHeld`), one after the other, each to
/// OK, all held at once; memory is read from `cgroup`, which the bench is in meanwhile.
pub fn hold_many(how: &How, cgroup: Option<&MemoryCgroup>, scale: &mut Scale) {
    let entered = cgroup.map(MemoryCgroup::enter);
    let before = cgroup.map(MemoryCgroup::usage);
    let mut times = Vec::with_capacity(HELD);
    let mut herd = match how {
        How::CrateHeld(_) => Herd::Crate(Vec::with_capacity(HELD)),
        _ => Herd::Raw(Vec::with_capacity(HELD)),
    };
    for _ in 0..HELD {
        let start = Instant::now();
        match (how, &mut herd) {
            (How::CrateHeld(sleeper), Herd::Crate(sandboxes)) => {
                let sandbox =
                    crate::harness::builder(&How::CrateHeld(sleeper.clone()), namespace())
                        .spawn()
                        .unwrap_or_else(|error| panic!("crate spawn at scale: {error}"));
                times.push(start.elapsed());
                sandboxes.push(sandbox);
            }
            (How::Raw { program, .. }, Herd::Raw(children)) => {
                children.push(spawn_raw(program));
                let child = children.last_mut().expect("just pushed");
                // Only the Child (a PID) is kept: its pipe is closed once OK is read.
                let mut stdout = child.stdout.take().expect("piped");
                read_ok(&mut stdout)
                    .unwrap_or_else(|error| panic!("{}: {error}", program.display()));
                times.push(start.elapsed());
            }
            _ => unreachable!("scale holds raw or crate sleepers"),
        }
    }
    let after = cgroup.map(MemoryCgroup::usage);
    let pids: Vec<u32> = match &herd {
        Herd::Raw(children) => children.iter().map(Child::id).collect(),
        Herd::Crate(sandboxes) => sandboxes.iter().filter_map(Sandbox::pid).collect(),
    };
    let (mut rss, mut pss) = (0, 0);
    for pid in pids {
        let (r, p) = crate::harness::memory(pid).expect("smaps_rollup");
        rss += r;
        pss += p;
    }
    drop(herd);
    drop(entered);

    let micros: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e6).collect();
    let tenth = HELD / 10;
    scale
        .last_to_first
        .push(median(&micros[HELD - tenth..]) / median(&micros[..tenth]));
    scale.spawn_us.extend(micros);
    if let (Some(before), Some(after)) = (before, after) {
        let what = format!("{HELD} held ({how:?})");
        scale
            .cgroup_kib
            .push(per_item_kib(&what, before.total, after.total, HELD));
        // The kernel's part only where the cgroup has one (cgroup v1 without kmem has none).
        if before.kernel.is_some() || after.kernel.is_some() {
            let what = format!("{what}, kernel");
            scale
                .cgroup_kernel_kib
                .push(per_item_kib(&what, before.kernel, after.kernel, HELD));
        }
    }
    scale.rss_kib.push(rss as f64 / HELD as f64);
    scale.pss_kib.push(pss as f64 / HELD as f64);
}

fn spawn_raw(program: &Path) -> Child {
    Command::new(program)
        .env_clear()
        .env(MNTNS_ENV, namespace())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|error| panic!("spawn {} for scale: {error}", program.display()))
}

/// Makes sure the fd limit is no obstacle to `need` descriptors: raises the soft limit to the
/// hard one if it is lower than `need`. Returns (soft, hard) after.
pub fn raise_fd_limit(need: usize) -> (u64, u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let (soft, hard) = (
        limit.current.unwrap_or(u64::MAX),
        limit.maximum.unwrap_or(u64::MAX),
    );
    if soft < need as u64 && soft < hard {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return (hard, hard);
        }
    }
    (soft, hard)
}
