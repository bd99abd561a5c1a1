//! The spawn benchmark (issue 4): how fast a sleeper says `OK`, what it costs to keep, and how
//! that compares with the least a sleeper can be (the *floor*, benches/floor.rs, also run
//! joining the namespace and nothing else), with `nsenter`, and with spawning from a host that
//! holds 4 GiB of memory.
//!
//! ```text
//! cargo bench -p mntnssandbox-host --bench spawn [-- --quick] [-- --json FILE]
//! ```
//!
//! Needs root (joining a mount namespace does). Builds the sleeper first
//! (`cargo build --release -p mntnssandbox`) unless `$MNTNSSANDBOX_BINARY` names one, and
//! compiles the floor with `rustc`.
//!
//! The machine this runs on is shared and noisy, so every figure that matters is a ratio of
//! two candidates measured side by side: each round runs every candidate once, in an order
//! shuffled afresh every round, and a ratio is the median over rounds of the two
//! candidates' times *in the same round*. Candidates "from a 4 GiB host" run in a worker
//! process (this binary again, `--worker`) that holds 4 GiB of touched memory and takes part
//! in the same rounds. Nothing is asserted: targets are printed beside the figures.
//!
//! Every process spawned is killed and reaped by a guard, also when a measurement panics.

use mntnssandbox_host::{Builder, NamespaceRef, MNTNS_ENV};
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// The mount namespace every sleeper joins: the bench's own (joining it is a real setns(2)).
const NAMESPACE: &str = "/proc/self/ns/mnt";
/// How much memory the big host holds, every page touched.
const BIG_HOST: usize = 4 << 30;
/// How many sleepers the scale figures hold at once.
const SCALE: usize = 1000;
/// Rounds run first and thrown away.
const WARMUP: usize = 5;
/// The longest a worker gets to exit once told to.
const WORKER_EXIT: Duration = Duration::from_secs(20);

struct Mode {
    name: &'static str,
    /// Rounds of every candidate but the slow one.
    rounds: usize,
    /// The no-op `pre_exec` spawn from the big host takes ~100 ms: only every n-th round.
    pre_exec_every: usize,
    /// How often the scale figures are taken (each: 1000 sleepers, then 1000 floors).
    scale_reps: usize,
}

const FULL: Mode = Mode {
    name: "full",
    rounds: 4000,
    pre_exec_every: 40,
    scale_reps: 7,
};

const QUICK: Mode = Mode {
    name: "quick",
    rounds: 300,
    pre_exec_every: 60,
    scale_reps: 3,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut quick = false;
    let mut json = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--worker" => {
                let sleeper = args.next().expect("--worker SLEEPER");
                std::process::exit(worker(Path::new(&sleeper)));
            }
            "--quick" => quick = true,
            "--json" => json = Some(PathBuf::from(args.next().expect("--json FILE"))),
            // Cargo passes `--bench` to every bench binary.
            "--bench" => {}
            arg if arg.starts_with("--json=") => json = Some(PathBuf::from(&arg[7..])),
            "-h" | "--help" => {
                println!("usage: spawn [--quick] [--json FILE]");
                return;
            }
            other => {
                eprintln!(
                    "spawn bench: unknown argument {other:?}; usage: spawn [--quick] [--json FILE]"
                );
                std::process::exit(2);
            }
        }
    }
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: the spawn benchmark needs root (the sleepers join a mount namespace)");
        return;
    }
    run(if quick { &QUICK } else { &FULL }, json.as_deref());
}

// ---------------------------------------------------------------------------------------------
// Candidates and one measurement

/// One way of getting a process to say `OK`.
#[derive(Clone, Debug)]
enum How {
    /// `Command` with an empty environment but `sleepy_mntns`, stdout piped, read `OK\n`.
    Raw(PathBuf),
    /// The same, with the namespace as argument: the floor that joins it first.
    FloorJoin(PathBuf),
    /// The same with a no-op `pre_exec`, which makes std fork+exec instead of posix_spawn.
    RawPreExec(PathBuf),
    /// `nsenter --mount=NS -- sh -c 'echo OK; exec sleep 1000000'`.
    Nsenter,
    /// `Builder::new(NS).sleeper(path).spawn()` of the host crate.
    Host(PathBuf),
}

/// What one spawn measured.
#[derive(Clone, Copy, Debug)]
struct Sample {
    /// From just before the spawn until `OK\n` was read.
    spawn_to_ok: Duration,
    rss_kib: u64,
    pss_kib: u64,
}

/// A child killed and reaped when dropped, whatever happened.
struct Held(Child);

impl Drop for Held {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn command(how: &How) -> Command {
    match how {
        How::Raw(path) | How::RawPreExec(path) | How::FloorJoin(path) => {
            let mut command = Command::new(path);
            command.env_clear().env(MNTNS_ENV, NAMESPACE);
            match how {
                // SAFETY: the closure does nothing at all, so it is async-signal-safe.
                How::RawPreExec(_) => unsafe {
                    command.pre_exec(|| Ok(()));
                },
                How::FloorJoin(_) => {
                    command.arg(NAMESPACE);
                }
                _ => {}
            }
            command
        }
        How::Nsenter => {
            let mut command = Command::new("nsenter");
            command
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .arg(format!("--mount={NAMESPACE}"))
                .args(["--", "sh", "-c", "echo OK; exec sleep 1000000"]);
            command
        }
        How::Host(_) => unreachable!("the host crate spawns by itself"),
    }
}

/// Spawns once, waits for `OK\n`, reads the sleeping process's memory, kills and reaps it.
fn measure(how: &How) -> Sample {
    if let How::Host(path) = how {
        let builder = Builder::new(NamespaceRef::Path(NAMESPACE.into()))
            .sleeper(path)
            .timeout(Duration::from_secs(10));
        let start = Instant::now();
        let sandbox = builder
            .spawn()
            .unwrap_or_else(|error| panic!("host crate spawn of {}: {error}", path.display()));
        let spawn_to_ok = start.elapsed();
        let (rss_kib, pss_kib) = memory(sandbox.pid()).expect("smaps_rollup of the sleeper");
        sandbox.close().expect("close the sandbox");
        return Sample {
            spawn_to_ok,
            rss_kib,
            pss_kib,
        };
    }
    let mut command = command(how);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let start = Instant::now();
    let child = command
        .spawn()
        .unwrap_or_else(|error| panic!("spawn {how:?}: {error}"));
    let mut child = Held(child);
    let mut stdout = child.0.stdout.take().expect("stdout is piped");
    read_ok(&mut stdout).unwrap_or_else(|error| panic!("{how:?}: {error}"));
    let spawn_to_ok = start.elapsed();
    let pid = child.0.id();
    if let How::Nsenter = how {
        // sh said OK and is about to exec sleep: measure the sleeping `sleep`.
        let deadline = Instant::now() + Duration::from_secs(2);
        while std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c != "sleep\n")
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let (rss_kib, pss_kib) = memory(pid).expect("smaps_rollup of the sleeper");
    drop(child);
    Sample {
        spawn_to_ok,
        rss_kib,
        pss_kib,
    }
}

fn read_ok(stdout: &mut ChildStdout) -> io::Result<()> {
    let mut ok = [0u8; 3];
    stdout.read_exact(&mut ok)?;
    if &ok != b"OK\n" {
        return Err(io::Error::other(format!("said {ok:?}, not OK")));
    }
    Ok(())
}

/// `Rss` and `Pss` of a process in KiB, from /proc/PID/smaps_rollup.
fn memory(pid: u32) -> io::Result<(u64, u64)> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let field = |name: &str| {
        rollup
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| io::Error::other(format!("no {name} in smaps_rollup of {pid}")))
    };
    Ok((field("Rss:")?, field("Pss:")?))
}

// ---------------------------------------------------------------------------------------------
// The big host: a worker process holding 4 GiB that spawns on request

/// The worker's side: touch 4 GiB, say `ready`, then measure what each line on stdin names
/// (`raw`, `pre_exec`, `host`) and answer `ok NANOS RSS PSS`; exit on end of input.
fn worker(sleeper: &Path) -> i32 {
    let start = Instant::now();
    let mut big = vec![0u8; BIG_HOST];
    // Every page written (one thread per CPU: faulting in 4 GiB takes seconds); the threads
    // are gone before the first spawn.
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    std::thread::scope(|scope| {
        for part in big.chunks_mut(BIG_HOST.div_ceil(threads)) {
            scope.spawn(move || {
                for page in part.chunks_mut(4096) {
                    page[0] = 1;
                }
            });
        }
    });
    std::hint::black_box(&mut big);
    let touched = start.elapsed();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let vm_rss = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .unwrap_or("VmRSS: ?")
        .split_whitespace()
        .nth(1)
        .unwrap_or("?")
        .to_owned();
    let mut out = io::stdout().lock();
    if writeln!(out, "ready {} {vm_rss}", touched.as_millis())
        .and_then(|()| out.flush())
        .is_err()
    {
        return 1;
    }
    for line in io::stdin().lock().lines() {
        let Ok(line) = line else { return 1 };
        let how = match line.trim() {
            "raw" => How::Raw(sleeper.into()),
            "pre_exec" => How::RawPreExec(sleeper.into()),
            "host" => How::Host(sleeper.into()),
            other => {
                eprintln!("worker: unknown request {other:?}");
                return 1;
            }
        };
        let sample = measure(&how);
        let answer = writeln!(
            out,
            "ok {} {} {}",
            sample.spawn_to_ok.as_nanos(),
            sample.rss_kib,
            sample.pss_kib
        )
        .and_then(|()| out.flush());
        if answer.is_err() {
            return 1;
        }
    }
    std::hint::black_box(&big);
    0
}

/// The bench's side of a worker; dropping it ends the worker (end of its input) and reaps it.
struct Worker {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// How long touching the 4 GiB took, and the worker's VmRSS after.
    touched_ms: u64,
    vm_rss_kib: u64,
}

impl Worker {
    fn start(sleeper: &Path) -> Worker {
        let exe = std::env::current_exe().expect("the bench's own path");
        let mut child = Command::new(exe)
            .arg("--worker")
            .arg(sleeper)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the 4 GiB worker");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Worker {
            child: Some(child),
            stdin,
            stdout,
            touched_ms: 0,
            vm_rss_kib: 0,
        }
    }

    /// Waits for the worker to have touched its 4 GiB.
    fn ready(&mut self) {
        let ready = self.line();
        let fields: Vec<&str> = ready.split_whitespace().collect();
        assert!(
            fields.len() == 3 && fields[0] == "ready",
            "worker said {ready:?}"
        );
        self.touched_ms = fields[1].parse().unwrap_or(0);
        self.vm_rss_kib = fields[2].parse().unwrap_or(0);
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .expect("read from the worker");
        assert!(n > 0, "the 4 GiB worker died");
        line
    }

    fn measure(&mut self, request: &str) -> Sample {
        let stdin = self.stdin.as_mut().expect("worker running");
        writeln!(stdin, "{request}")
            .and_then(|()| stdin.flush())
            .expect("write to the worker");
        let answer = self.line();
        let fields: Vec<u64> = answer
            .strip_prefix("ok ")
            .unwrap_or_else(|| panic!("worker said {answer:?}"))
            .split_whitespace()
            .map(|field| field.parse().expect("worker's numbers"))
            .collect();
        Sample {
            spawn_to_ok: Duration::from_nanos(fields[0]),
            rss_kib: fields[1],
            pss_kib: fields[2],
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // End of input: the worker finishes (its guards reap its sleepers) and exits.
        drop(self.stdin.take());
        let Some(mut child) = self.child.take() else {
            return;
        };
        let deadline = Instant::now() + WORKER_EXIT;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Rows, statistics, rounds

#[derive(Clone, Copy, PartialEq, Eq)]
enum Where {
    /// Spawned by the bench itself (a small process).
    Here,
    /// Spawned by the worker holding 4 GiB; the request to send it.
    Big(&'static str),
}

struct Row {
    key: &'static str,
    label: String,
    how: How,
    at: Where,
    /// The row this one is judged against, and the target for that ratio.
    reference: Option<(usize, f64)>,
    /// Per round; `None` for rounds this row sat out.
    times: Vec<Option<f64>>,
    rss: Vec<u64>,
    pss: Vec<u64>,
}

impl Row {
    fn new(key: &'static str, label: impl Into<String>, how: How, at: Where) -> Row {
        Row {
            key,
            label: label.into(),
            how,
            at,
            reference: None,
            times: Vec::new(),
            rss: Vec::new(),
            pss: Vec::new(),
        }
    }

    fn micros(&self) -> Vec<f64> {
        self.times.iter().flatten().copied().collect()
    }
}

/// The `p`-quantile (nearest rank) of `values`; NaN if there are none.
fn quantile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn median_u64(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

/// The median over rounds of `a`'s time divided by `b`'s in the same round.
fn paired_ratio(a: &Row, b: &Row) -> f64 {
    let ratios: Vec<f64> = a
        .times
        .iter()
        .zip(&b.times)
        .filter_map(|(a, b)| Some((*a)? / (*b)?))
        .collect();
    quantile(&ratios, 0.5)
}

/// xorshift64*: enough to shuffle the candidates, no dependency.
struct Random(u64);

impl Random {
    fn seeded() -> Random {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64);
        Random(nanos | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as usize % n
    }

    /// Fisher–Yates.
    fn shuffle(&mut self, items: &mut [usize]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scale: 1000 held at once

/// Sleepers held at once; all killed, then all reaped, when dropped.
struct Herd(Vec<Child>);

impl Drop for Herd {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

struct Scale {
    /// Wall time until all `SCALE` said OK, ms.
    wall_ms: Vec<f64>,
    pss_kib: Vec<f64>,
    rss_kib: Vec<f64>,
    /// Growth of KernelStack + PageTables + SUnreclaim (/proc/meminfo) per process, KiB.
    kernel_kib: Vec<f64>,
}

fn meminfo_kernel_kib() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    meminfo
        .lines()
        .filter(|line| {
            ["KernelStack:", "PageTables:", "SUnreclaim:"]
                .iter()
                .any(|name| line.starts_with(name))
        })
        .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// Spawns `SCALE` of `program` one after the other, each to OK, all held at once.
fn hold_many(program: &Path, scale: &mut Scale) {
    let kernel_before = meminfo_kernel_kib();
    let mut herd = Herd(Vec::with_capacity(SCALE));
    let start = Instant::now();
    for _ in 0..SCALE {
        let child = Command::new(program)
            .env_clear()
            .env(MNTNS_ENV, NAMESPACE)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {} for scale: {error}", program.display()));
        herd.0.push(child);
        let child = herd.0.last_mut().expect("just pushed");
        // Only the Child (a PID) is kept: its pipe is closed once OK is read.
        let mut stdout = child.stdout.take().expect("piped");
        read_ok(&mut stdout).unwrap_or_else(|error| panic!("{}: {error}", program.display()));
    }
    let wall = start.elapsed();
    let kernel_after = meminfo_kernel_kib();
    let (mut rss, mut pss) = (0, 0);
    for child in &herd.0 {
        let (r, p) = memory(child.id()).expect("smaps_rollup");
        rss += r;
        pss += p;
    }
    drop(herd);
    scale.wall_ms.push(wall.as_secs_f64() * 1e3);
    scale.rss_kib.push(rss as f64 / SCALE as f64);
    scale.pss_kib.push(pss as f64 / SCALE as f64);
    scale
        .kernel_kib
        .push(kernel_after.saturating_sub(kernel_before) as f64 / SCALE as f64);
}

/// Makes sure the fd limit is no obstacle to holding `SCALE` children (we keep no fd per child,
/// but a stray limit of a few hundred would still hurt the spawns): raises the soft limit to
/// the hard one if it is low. Returns (soft, hard) after.
fn fd_limit() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0
            && limit.rlim_cur < (SCALE as u64) * 3 + 64
            && limit.rlim_cur < limit.rlim_max
        {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    (limit.rlim_cur, limit.rlim_max)
}

// ---------------------------------------------------------------------------------------------
// Preparation: the sleeper, the floor, the machine

fn target_dir() -> PathBuf {
    // The bench runs as <target>/<profile>/deps/spawn-HASH.
    let exe = std::env::current_exe().expect("the bench's own path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(option_env!("CARGO").unwrap_or("cargo")))
}

/// The sleeper: `$MNTNSSANDBOX_BINARY` if set, else built now with cargo.
fn sleeper(target: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("MNTNSSANDBOX_BINARY").filter(|path| !path.is_empty()) {
        eprintln!(
            "sleeper: $MNTNSSANDBOX_BINARY = {}",
            Path::new(&path).display()
        );
        return PathBuf::from(path);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    eprintln!("sleeper: cargo build --release -p mntnssandbox");
    let status = Command::new(cargo())
        .args(["build", "--release", "-p", "mntnssandbox"])
        .current_dir(&workspace)
        .stdout(Stdio::null())
        .status();
    let path = target.join("release/mntnssandbox");
    match status {
        Ok(status) if status.success() => {}
        other => {
            assert!(
                path.exists(),
                "building the sleeper failed ({other:?}) and there is none at {}: \
                 run `cargo build --release -p mntnssandbox` first",
                path.display()
            );
            eprintln!(
                "WARNING: building the sleeper failed ({other:?}); using the existing {}",
                path.display()
            );
        }
    }
    path
}

fn rustc() -> PathBuf {
    if let Some(rustc) = std::env::var_os("RUSTC").filter(|rustc| !rustc.is_empty()) {
        return rustc.into();
    }
    let beside_cargo = cargo().with_file_name("rustc");
    if beside_cargo.is_file() {
        return beside_cargo;
    }
    PathBuf::from("rustc")
}

/// Compiles benches/floor.rs to `<target>/bench-floor` and checks that it says OK.
fn floor(target: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/floor.rs");
    let output = target.join("bench-floor");
    let rustc = rustc();
    eprintln!("floor: {} {}", rustc.display(), source.display());
    let status = Command::new(&rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "bin",
            "--crate-name",
            "bench_floor",
        ])
        .args([
            "-C",
            "panic=abort",
            "-C",
            "opt-level=z",
            "-C",
            "debuginfo=0",
        ])
        .args(["-C", "relocation-model=static", "-C", "strip=symbols"])
        .args(["-C", "link-arg=-nostartfiles", "-C", "link-arg=-nostdlib"])
        .args(["-C", "link-arg=-static", "-C", "link-arg=-no-pie"])
        .arg("-o")
        .arg(&output)
        .arg(&source)
        .status()
        .unwrap_or_else(|error| panic!("run {}: {error}", rustc.display()));
    assert!(status.success(), "compiling the floor failed: {status}");
    let sample = measure(&How::Raw(output.clone()));
    let joining = measure(&How::FloorJoin(output.clone()));
    eprintln!(
        "floor: {} ({} bytes) says OK in {:?} ({:?} joining {NAMESPACE} first)",
        output.display(),
        file_size(&output),
        sample.spawn_to_ok,
        joining.spawn_to_ok,
    );
    output
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0)
}

struct Machine {
    nproc: usize,
    cpu: String,
    kernel: String,
    thp: String,
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_else(|| "?".into());
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|text| text.trim().to_owned())
            .unwrap_or_else(|_| "?".into())
    };
    Machine {
        nproc: std::thread::available_parallelism().map_or(0, usize::from),
        cpu,
        kernel: read("/proc/sys/kernel/osrelease"),
        thp: read("/sys/kernel/mm/transparent_hugepage/enabled"),
    }
}

// ---------------------------------------------------------------------------------------------
// The run

fn run(mode: &Mode, json: Option<&Path>) {
    let begun = Instant::now();
    let machine = machine();
    let target = target_dir();
    let sleeper = sleeper(&target);
    assert!(sleeper.is_file(), "no sleeper at {}", sleeper.display());
    // The worker touches its 4 GiB while the floor compiles.
    eprintln!("4 GiB worker: touching every page");
    let mut worker = Worker::start(&sleeper);
    let floor = floor(&target);
    let musl = target
        .join(format!("{}-unknown-linux-musl", std::env::consts::ARCH))
        .join("release/mntnssandbox");
    let musl = musl.is_file().then_some(musl);
    let nsenter = Command::new("nsenter")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    let (fd_soft, fd_hard) = fd_limit();

    let mut rows = vec![Row::new(
        "floor",
        "floor (no libc: write OK, pause)",
        How::Raw(floor.clone()),
        Where::Here,
    )];
    rows.push(Row::new(
        "sleeper",
        "mntnssandbox, raw `Command`",
        How::Raw(sleeper.clone()),
        Where::Here,
    ));
    const FLOOR: usize = 0;
    const RAW: usize = 1;
    rows[RAW].reference = Some((FLOOR, 1.10));
    let floor_join = rows.len();
    rows.push(Row::new(
        "floor_join",
        "floor + join (openat + setns, then OK)",
        How::FloorJoin(floor.clone()),
        Where::Here,
    ));
    if let Some(musl) = &musl {
        let mut row = Row::new(
            "sleeper_musl",
            "mntnssandbox (musl build), raw `Command`",
            How::Raw(musl.clone()),
            Where::Here,
        );
        row.reference = Some((FLOOR, 1.10));
        rows.push(row);
    }
    if nsenter {
        rows.push(Row::new(
            "nsenter",
            "`nsenter --mount` + `sh -c 'echo OK; exec sleep'`",
            How::Nsenter,
            Where::Here,
        ));
    }
    let host = rows.len();
    let mut row = Row::new(
        "host",
        "host crate `Builder::spawn`",
        How::Host(sleeper.clone()),
        Where::Here,
    );
    row.reference = Some((RAW, 1.15));
    rows.push(row);
    let big_raw = rows.len();
    let mut row = Row::new(
        "big_raw",
        "4 GiB host: raw `Command`",
        How::Raw(sleeper.clone()),
        Where::Big("raw"),
    );
    row.reference = Some((RAW, 1.5));
    rows.push(row);
    let big_host = rows.len();
    let mut row = Row::new(
        "big_host",
        "4 GiB host: host crate `Builder::spawn`",
        How::Host(sleeper.clone()),
        Where::Big("host"),
    );
    row.reference = Some((host, 1.5));
    rows.push(row);
    let big_pre_exec = rows.len();
    let mut row = Row::new(
        "big_pre_exec",
        "4 GiB host: raw `Command` + no-op `pre_exec`",
        How::RawPreExec(sleeper.clone()),
        Where::Big("pre_exec"),
    );
    row.reference = Some((big_raw, f64::NAN));
    rows.push(row);

    worker.ready();
    eprintln!(
        "4 GiB worker: ready ({} ms to touch, VmRSS {} MiB)",
        worker.touched_ms,
        worker.vm_rss_kib / 1024
    );

    eprintln!(
        "rounds: {} (+{WARMUP} warm-up), the pre_exec row every {}th",
        mode.rounds, mode.pre_exec_every
    );
    let measured = Instant::now();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut random = Random::seeded();
    for round in 0..WARMUP + mode.rounds {
        let keep = round >= WARMUP;
        // A fresh order every round: no candidate always follows the same one (a heavy one
        // like nsenter leaves work behind for whoever comes next).
        random.shuffle(&mut order);
        for &index in &order {
            let row = &mut rows[index];
            if index == big_pre_exec && round % mode.pre_exec_every != 0 {
                if keep {
                    row.times.push(None);
                }
                continue;
            }
            let sample = match row.at {
                Where::Here => measure(&row.how),
                Where::Big(request) => worker.measure(request),
            };
            if keep {
                row.times.push(Some(sample.spawn_to_ok.as_secs_f64() * 1e6));
                row.rss.push(sample.rss_kib);
                row.pss.push(sample.pss_kib);
            }
        }
        if keep && (round - WARMUP + 1) % (mode.rounds / 5).max(1) == 0 {
            eprintln!(
                "  round {}/{} ({:.1} s)",
                round - WARMUP + 1,
                mode.rounds,
                measured.elapsed().as_secs_f64()
            );
        }
    }
    let worker_vm_rss_kib = worker.vm_rss_kib;
    drop(worker);

    eprintln!(
        "scale: {SCALE} held at once, {} times each",
        mode.scale_reps
    );
    let mut scale_sleeper = Scale {
        wall_ms: vec![],
        pss_kib: vec![],
        rss_kib: vec![],
        kernel_kib: vec![],
    };
    let mut scale_floor = Scale {
        wall_ms: vec![],
        pss_kib: vec![],
        rss_kib: vec![],
        kernel_kib: vec![],
    };
    for rep in 0..mode.scale_reps {
        if rep % 2 == 0 {
            hold_many(&sleeper, &mut scale_sleeper);
            hold_many(&floor, &mut scale_floor);
        } else {
            hold_many(&floor, &mut scale_floor);
            hold_many(&sleeper, &mut scale_sleeper);
        }
    }

    // ---- report
    let sleeper_size = file_size(&sleeper);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## spawn benchmark ({} mode: {} rounds, pre_exec row {} rounds)\n",
        mode.name,
        mode.rounds,
        rows[big_pre_exec].micros().len()
    );
    let _ = writeln!(
        out,
        "machine: {} CPUs, {}, Linux {}; THP {}; RLIMIT_NOFILE {fd_soft}/{fd_hard}",
        machine.nproc, machine.cpu, machine.kernel, machine.thp
    );
    let _ = writeln!(
        out,
        "namespace: {NAMESPACE} (each process joins the bench's own mount namespace: a real \
         setns(2), as root)"
    );
    let _ = writeln!(
        out,
        "4 GiB host: a worker process (this bench, `--worker`) holding 4 GiB, every page touched \
         (VmRSS {} MiB), spawning in the same rounds\n",
        worker_vm_rss_kib / 1024
    );
    let _ = writeln!(
        out,
        "| candidate | spawn→OK p50 µs | p90 µs | × floor | × reference (target) | RSS KiB | PSS KiB |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---|---:|---:|");
    for row in &rows {
        let micros = row.micros();
        let vs_floor = if row.key == "floor" {
            "1".to_owned()
        } else {
            format!("{:.3}", paired_ratio(row, &rows[FLOOR]))
        };
        let reference = match row.reference {
            Some((index, target)) => {
                let ratio = paired_ratio(row, &rows[index]);
                let target = if target.is_nan() {
                    String::new()
                } else {
                    format!(
                        " (≤ {target:.2}{})",
                        if ratio <= target { " ✓" } else { " ✗" }
                    )
                };
                format!("{ratio:.3} × {}{target}", short(&rows[index]))
            }
            None => "".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.0} | {vs_floor} | {reference} | {} | {} |",
            row.label,
            quantile(&micros, 0.5),
            quantile(&micros, 0.9),
            median_u64(&row.rss),
            median_u64(&row.pss),
        );
    }
    let _ = writeln!(
        out,
        "\n| {SCALE} held at once ({} reps) | wall ms (median) | × floor | µs per process | RSS KiB / proc | PSS KiB / proc | kernel KiB / proc* |",
        mode.scale_reps
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    let wall_ratio: Vec<f64> = scale_sleeper
        .wall_ms
        .iter()
        .zip(&scale_floor.wall_ms)
        .map(|(a, b)| a / b)
        .collect();
    let wall_ratio = quantile(&wall_ratio, 0.5);
    for (name, scale, ratio) in [
        ("floor", &scale_floor, "1".to_owned()),
        ("mntnssandbox", &scale_sleeper, format!("{wall_ratio:.3}")),
    ] {
        let wall = quantile(&scale.wall_ms, 0.5);
        let _ = writeln!(
            out,
            "| {name} | {wall:.0} | {ratio} | {:.0} | {:.1} | {:.2} | {:.1} |",
            wall * 1e3 / SCALE as f64,
            quantile(&scale.rss_kib, 0.5),
            quantile(&scale.pss_kib, 0.5),
            quantile(&scale.kernel_kib, 0.5),
        );
    }
    let _ = writeln!(
        out,
        "\n\\* growth of KernelStack + PageTables + SUnreclaim in /proc/meminfo while holding \
         them, per process: outside PSS, approximate (the machine is shared)."
    );
    let sleeper_vs_floor = paired_ratio(&rows[RAW], &rows[FLOOR]);
    let join_vs_floor = paired_ratio(&rows[floor_join], &rows[FLOOR]);
    let sleeper_vs_join = paired_ratio(&rows[RAW], &rows[floor_join]);
    let host_vs_raw = paired_ratio(&rows[host], &rows[RAW]);
    let big_vs_small = paired_ratio(&rows[big_host], &rows[host]);
    let pre_exec_vs_raw = paired_ratio(&rows[big_pre_exec], &rows[big_raw]);
    let pss_at_scale = quantile(&scale_sleeper.pss_kib, 0.5);
    let _ = writeln!(
        out,
        "\n**Summary:** mntnssandbox {sleeper_vs_floor:.3}× the floor (≤ 1.10; joining alone \
         costs {join_vs_floor:.3}×, the sleeper is {sleeper_vs_join:.3}× a floor that joins), host crate \
         {host_vs_raw:.3}× raw `Command` (≤ 1.15), {big_vs_small:.3}× from a 4 GiB host (≤ 1.5; \
         a no-op `pre_exec` there: {pre_exec_vs_raw:.1}×); RSS {} KiB, PSS {pss_at_scale:.2} KiB \
         per sleeper at {SCALE} (≤ 8); sleeper file {sleeper_size} bytes (floor {} bytes). \
         Total {:.0} s.",
        median_u64(&rows[RAW].rss),
        file_size(&floor),
        begun.elapsed().as_secs_f64()
    );
    print!("{out}");

    if let Some(path) = json {
        let text = to_json(&JsonInput {
            mode,
            machine: &machine,
            rows: &rows,
            scale: [("floor", &scale_floor), ("mntnssandbox", &scale_sleeper)],
            sleeper_size,
            floor_size: file_size(&floor),
            summary: [
                ("sleeper_vs_floor", sleeper_vs_floor),
                ("floor_join_vs_floor", join_vs_floor),
                ("sleeper_vs_floor_join", sleeper_vs_join),
                ("host_vs_raw", host_vs_raw),
                ("big_host_vs_small_host", big_vs_small),
                ("big_pre_exec_vs_big_raw", pre_exec_vs_raw),
                ("pss_kib_per_sleeper_at_scale", pss_at_scale),
            ],
        });
        std::fs::write(path, text)
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        eprintln!("wrote {}", path.display());
    }
}

/// The reference's name in the table.
fn short(row: &Row) -> &'static str {
    match row.key {
        "floor" => "floor",
        "floor_join" => "floor + join",
        "sleeper" => "raw",
        "host" => "host crate (small host)",
        "big_raw" => "raw (4 GiB host)",
        _ => row.key,
    }
}

// ---------------------------------------------------------------------------------------------
// JSON, by hand

struct JsonInput<'a> {
    mode: &'a Mode,
    machine: &'a Machine,
    rows: &'a [Row],
    scale: [(&'static str, &'a Scale); 2],
    sleeper_size: u64,
    floor_size: u64,
    summary: [(&'static str, f64); 7],
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A number, or `null` for NaN and infinities (which JSON has not).
fn json_number(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.3}")
    } else {
        "null".into()
    }
}

fn to_json(input: &JsonInput) -> String {
    let mut out = String::from("{\n");
    let machine = input.machine;
    let _ = writeln!(
        out,
        "  \"mode\": {}, \"rounds\": {}, \"namespace\": {}, \"big_host_bytes\": {BIG_HOST},",
        json_string(input.mode.name),
        input.mode.rounds,
        json_string(NAMESPACE)
    );
    let _ = writeln!(
        out,
        "  \"machine\": {{\"nproc\": {}, \"cpu\": {}, \"kernel\": {}, \"thp\": {}}},",
        machine.nproc,
        json_string(&machine.cpu),
        json_string(&machine.kernel),
        json_string(&machine.thp)
    );
    out.push_str("  \"rows\": [\n");
    let floor = &input.rows[0];
    for (i, row) in input.rows.iter().enumerate() {
        let micros = row.micros();
        let (reference, ratio) = match row.reference {
            Some((index, _)) => (
                json_string(input.rows[index].key),
                json_number(paired_ratio(row, &input.rows[index])),
            ),
            None => ("null".into(), "null".into()),
        };
        let _ = writeln!(
            out,
            "    {{\"key\": {}, \"label\": {}, \"samples\": {}, \"p50_us\": {}, \"p90_us\": {}, \
             \"ratio_to_floor\": {}, \"reference\": {reference}, \"ratio_to_reference\": {ratio}, \
             \"rss_kib\": {}, \"pss_kib\": {}}}{}",
            json_string(row.key),
            json_string(&row.label),
            micros.len(),
            json_number(quantile(&micros, 0.5)),
            json_number(quantile(&micros, 0.9)),
            json_number(paired_ratio(row, floor)),
            median_u64(&row.rss),
            median_u64(&row.pss),
            if i + 1 < input.rows.len() { "," } else { "" }
        );
    }
    out.push_str("  ],\n  \"scale\": {\n");
    for (i, (name, scale)) in input.scale.iter().enumerate() {
        let _ = writeln!(
            out,
            "    {}: {{\"processes\": {SCALE}, \"reps\": {}, \"wall_ms\": {}, \
             \"rss_kib_per_process\": {}, \"pss_kib_per_process\": {}, \
             \"kernel_kib_per_process\": {}}}{}",
            json_string(name),
            scale.wall_ms.len(),
            json_number(quantile(&scale.wall_ms, 0.5)),
            json_number(quantile(&scale.rss_kib, 0.5)),
            json_number(quantile(&scale.pss_kib, 0.5)),
            json_number(quantile(&scale.kernel_kib, 0.5)),
            if i + 1 < input.scale.len() { "," } else { "" }
        );
    }
    out.push_str("  },\n  \"summary\": {");
    for (name, value) in input.summary {
        let _ = write!(out, "{}: {}, ", json_string(name), json_number(value));
    }
    let _ = writeln!(
        out,
        "\"sleeper_bytes\": {}, \"floor_bytes\": {}}}\n}}",
        input.sleeper_size, input.floor_size
    );
    out
}
