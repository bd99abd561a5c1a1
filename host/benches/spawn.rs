//! The spawn benchmark: how fast a sleeper says `OK`, through the host crate and without it,
//! against the least a process can do (the *floor*, benches/floor.rs, laid out like the
//! sleeper), `nsenter`, and spawning from a host that holds 4 GiB; how fast a sandbox opens
//! without a process (a thread, kept or new; a PID's root); what a read through a sandbox
//! costs against a naive one, and inside the authority bound; and what holding 1,000 costs,
//! from the memory cgroup; and what holding sandboxes on 5,000 distinct mount namespaces by
//! their descriptors costs, per namespace and per spawn as more are held.
//!
//! ```text
//! cargo bench -p mntnssandbox-host --bench spawn [-- --quick] [-- --json FILE]
//! cargo bench -p mntnssandbox-host --bench spawn -- --summarize RUN1.json RUN2.json ...
//! ```
//!
//! Needs root (joining a mount namespace does). Builds the sleeper first
//! (`cargo build --release -p mntnssandbox`) unless `$MNTNSSANDBOX_BINARY` names one (then
//! that one runs, and `crate-held-memfd`, which needs the embedded sleeper, is left out), and
//! compiles the floor with `rustc`.
//!
//! Fair by construction: every candidate joins another process's mount namespace (a holder
//! started with `unshare --mount`), with an empty environment but `sleepy_mntns`; each round
//! runs every candidate once in an order shuffled afresh; a ratio is the median over rounds of
//! two candidates' times in the same round. Nothing is asserted of the figures (targets are
//! printed beside them), but every crate row's way is, once up front.
//!
//! Rooms: `harness` (the namespace, the ways to spawn, one timed measurement, the check of
//! the ways), `candidates` (the rows), `reading` (the read rows), `worker` (the 4 GiB host),
//! `scale` (1,000 held), `namespaces` (5,000 distinct namespaces held by fds) and `cgroup`
//! (their memory), `stats`, `report` (JSON, and the table from it), `summary` (the table of
//! several runs' JSON), `prepare` (sleeper, floor, machine).

#[path = "spawn/candidates.rs"]
mod candidates;
#[path = "spawn/cgroup.rs"]
mod cgroup;
#[path = "spawn/harness.rs"]
mod harness;
#[path = "spawn/namespaces.rs"]
mod namespaces;
#[path = "spawn/prepare.rs"]
mod prepare;
#[path = "spawn/reading.rs"]
mod reading;
#[path = "spawn/report.rs"]
mod report;
#[path = "spawn/scale.rs"]
mod scale;
#[path = "spawn/stats.rs"]
mod stats;
#[path = "spawn/summary.rs"]
mod summary;
#[path = "spawn/worker.rs"]
mod worker;

use candidates::{Setup, Where};
use harness::{measure, How, NamespaceHolder};
use namespaces::{hold_namespaces, NamespaceScale, Namespaces, NAMESPACES};
use reading::Reading;
use scale::{hold_many, Scale, HELD};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use worker::Worker;

/// Rounds run first and thrown away.
const WARMUP: usize = 5;

struct Mode {
    name: &'static str,
    rounds: usize,
    /// The no-op `pre_exec` spawn from the big host takes ~100 ms: only every n-th round.
    pre_exec_every: usize,
    /// How often the scale figures are taken (each: 1,000 held of every kind).
    scale_reps: usize,
    /// How often the 5,000 namespaces are held (each: by the sleeper path and the thread path).
    namespace_reps: usize,
    /// The 64 MiB reads take tens of ms each: only every n-th round.
    read_large_every: usize,
}

const FULL: Mode = Mode {
    name: "full",
    rounds: 2000,
    pre_exec_every: 40,
    scale_reps: 5,
    namespace_reps: 3,
    read_large_every: 4,
};

const QUICK: Mode = Mode {
    name: "quick",
    rounds: 200,
    pre_exec_every: 50,
    scale_reps: 1,
    namespace_reps: 1,
    read_large_every: 2,
};

const USAGE: &str = "usage: spawn [--quick] [--json FILE] | spawn --summarize RUN.json...";

fn main() {
    let mut args = std::env::args().skip(1);
    let mut quick = false;
    let mut json = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--worker" => {
                let sleeper = args.next().expect("--worker SLEEPER NAMESPACE");
                harness::set_namespace(args.next().expect("--worker SLEEPER NAMESPACE"));
                std::process::exit(worker::worker(Path::new(&sleeper)));
            }
            "--cold-thread" => {
                harness::set_namespace(args.next().expect("--cold-thread NAMESPACE SLEEPER"));
                let sleeper = args.next().expect("--cold-thread NAMESPACE SLEEPER");
                std::process::exit(harness::cold_thread(Path::new(&sleeper)));
            }
            "--summarize" => {
                // Cargo appends `--bench` after the arguments it was given.
                let paths: Vec<PathBuf> = args
                    .by_ref()
                    .filter(|arg| arg != "--bench")
                    .map(PathBuf::from)
                    .collect();
                std::process::exit(summary::summarize(&paths));
            }
            "--namespaces" => {
                let count = args.next().expect("--namespaces COUNT");
                std::process::exit(namespaces::helper(count.parse().expect("a count")));
            }
            "--quick" => quick = true,
            "--json" => json = Some(PathBuf::from(args.next().expect("--json FILE"))),
            // Cargo passes `--bench` to every bench binary.
            "--bench" => {}
            arg if arg.starts_with("--json=") => json = Some(PathBuf::from(&arg[7..])),
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            other => {
                eprintln!("spawn bench: unknown argument {other:?}; {USAGE}");
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

fn run(mode: &Mode, json: Option<&Path>) {
    let begun = Instant::now();
    let mut notes = Vec::new();
    let machine = prepare::machine();
    let target = prepare::target_dir();
    let sleeper = prepare::sleeper(&target);
    assert!(sleeper.is_file(), "no sleeper at {}", sleeper.display());
    let _holder = NamespaceHolder::start();
    // The worker touches its 4 GiB while the floor compiles.
    eprintln!("4 GiB worker: touching every page");
    let mut worker = Worker::start(&sleeper);
    let floor = prepare::floor(&target, &sleeper);
    let nsenter = Command::new("nsenter")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    // With $MNTNSSANDBOX_BINARY set, `Builder` runs that file where no sleeper is given.
    let embedded = prepare::sleeper_from_env().is_none()
        && mntnssandbox_host::Builder::default_sleeper().ok()
            == Some(mntnssandbox_host::Sleeper::Embedded);
    harness::check_paths(&sleeper, embedded);
    eprintln!(
        "reading: a {} MiB file in {}",
        reading::LARGE_BYTES >> 20,
        target.display()
    );
    let reading = Reading::start(&target, &mut notes);
    if let Some(authority) = reading.bound_authority {
        eprintln!("reading: read-bound reads with authority {authority:?}");
    }
    let setup = Setup {
        sleeper: &sleeper,
        floor: &floor,
        nsenter,
        embedded,
        bound: reading.bound(),
        small_bytes: reading.small_bytes,
        pre_exec_every: mode.pre_exec_every,
        read_large_every: mode.read_large_every,
    };
    let mut rows = candidates::rows(&setup, &mut notes);
    for note in &notes {
        eprintln!("note: {note}");
    }

    worker.ready();
    eprintln!(
        "4 GiB worker: ready ({} ms to touch, VmRSS {} MiB); {} rounds (+{WARMUP} warm-up)",
        worker.touched_ms,
        worker
            .vm_rss_kib
            .map_or("?".into(), |kib| (kib / 1024).to_string()),
        mode.rounds
    );
    let measured = Instant::now();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut random = fastrand::Rng::new();
    for round in 0..WARMUP + mode.rounds {
        let keep = round >= WARMUP;
        if round == WARMUP {
            harness::reset_thread_restarts();
        }
        // A fresh order every round: no candidate always follows the same one (a heavy one
        // like nsenter leaves work behind for whoever comes next).
        random.shuffle(&mut order);
        for &index in &order {
            let row = &mut rows[index];
            if round % row.every != 0 {
                if keep {
                    row.times.push(None);
                }
                continue;
            }
            let sample = match (&row.how, row.at) {
                (How::Read(read), _) => harness::Sample {
                    spawn_to_ok: reading.sample(*read),
                    rss_kib: None,
                    pss_kib: None,
                },
                (how, Where::Here) => measure(how),
                (_, Where::Big(request)) => worker.measure(request),
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
    drop(reading);
    let (restarted, samples) = harness::thread_restarts();
    if restarted > 0 {
        notes.push(format!(
            "crate-thread: the kept entering thread had ended (200 ms idle) before {restarted} \
             of {samples} samples; each of those was preceded by an untimed spawn to start it"
        ));
    }

    let (fd_soft, fd_hard) = scale::raise_fd_limit((HELD * 4).max(NAMESPACES * 2) + 64);
    let memory = cgroup::MemoryCgroup::create();
    let memory_source = match &memory {
        Ok(cgroup) => cgroup.describe.clone(),
        Err(why) => format!("no memory cgroup ({why})"),
    };
    eprintln!(
        "scale: {HELD} held at once, {} times each; RLIMIT_NOFILE {fd_soft}/{fd_hard}; {memory_source}",
        mode.scale_reps
    );
    let kinds = [
        ("floor", "floor", How::raw(&floor)),
        (
            "sleeper_raw_command",
            "sleeper (raw `Command`)",
            How::raw(&sleeper),
        ),
        ("crate_held", "crate-held", How::CrateHeld(sleeper.clone())),
    ];
    let mut scales: Vec<Scale> = kinds.iter().map(|_| Scale::default()).collect();
    let mut kind_order: Vec<usize> = (0..kinds.len()).collect();
    for _ in 0..mode.scale_reps {
        random.shuffle(&mut kind_order);
        for &kind in &kind_order {
            hold_many(&kinds[kind].2, memory.as_ref().ok(), &mut scales[kind]);
        }
    }

    let distinct = Namespaces::start(NAMESPACES);
    eprintln!(
        "scale: {NAMESPACES} distinct mount namespaces made by a helper in {:.1} s; held by fds, \
         {} times each way",
        distinct.seconds, mode.namespace_reps
    );
    let ways = [
        (
            "crate_detached_5000",
            "crate-detached (sleeper path)",
            How::CrateDetached(sleeper.clone()),
        ),
        (
            "crate_thread_5000",
            "crate-thread (thread path)",
            How::CrateThread(sleeper.clone()),
        ),
    ];
    let mut namespace_scales: Vec<NamespaceScale> =
        ways.iter().map(|_| NamespaceScale::default()).collect();
    let mut way_order: Vec<usize> = (0..ways.len()).collect();
    for _ in 0..mode.namespace_reps {
        random.shuffle(&mut way_order);
        for &way in &way_order {
            hold_namespaces(
                &ways[way].2,
                &distinct,
                memory.as_ref().ok(),
                &mut namespace_scales[way],
            );
        }
    }
    drop(distinct);
    drop(memory);

    let report = report::Report {
        mode: mode.name,
        rounds: mode.rounds,
        machine: &machine,
        namespace: harness::namespace(),
        sleeper: match prepare::sleeper_from_env() {
            Some(path) => format!("{} ($MNTNSSANDBOX_BINARY)", path.display()),
            None => sleeper.display().to_string(),
        },
        rows: &rows,
        scale: kinds
            .iter()
            .map(|(key, label, _)| (*key, *label))
            .zip(scales)
            .map(|((key, label), figures)| (key, label, figures))
            .collect(),
        namespaces: ways
            .iter()
            .map(|(key, label, _)| (*key, *label))
            .zip(namespace_scales)
            .map(|((key, label), figures)| (key, label, figures))
            .collect(),
        memory_source,
        sleeper_bytes: prepare::file_size(&sleeper),
        floor_bytes: prepare::file_size(&floor),
        worker_vm_rss_kib,
        notes,
        seconds: begun.elapsed().as_secs_f64(),
    };
    let json_report = report.json();
    print!("{}", report::markdown(&json_report));
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&json_report).expect("JSON of the report");
        std::fs::write(path, text + "\n")
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        eprintln!("wrote {}", path.display());
    }
}
