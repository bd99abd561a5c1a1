//! The tree benchmark: `mntns tar` against GNU tar over `/proc/<pid>/root`, reading one tree
//! of about 20,000 files and 500 MB (deterministic) inside another mount namespace, each into
//! a pipe this process drains, in rounds of a fresh shuffled order. Also GNU tar of the same
//! tree on the host, the machine's limit.
//!
//! ```text
//! cargo bench -p mntns --bench tar [-- --quick] [-- --json FILE]
//! cargo bench -p mntns --bench tar -- --summarize RUN1.json RUN2.json ...
//! ```
//!
//! Needs root (a tmpfs for the tree, a mount namespace to hold it). Builds `mntns` first
//! (`cargo build --release -p mntns`). A ratio is the median over rounds of a row's time over
//! its reference's time in the same round; nothing is asserted: targets are printed beside the
//! figures. Peak RSS of each candidate comes from its own rusage (wait4's `ru_maxrss`), which
//! is an upper bound: a child spawned by vfork (as std spawns) starts from the high-water mark
//! of its parent's memory, the bench's own, printed beside it.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Instant;

/// Directories of the tree, and files in each.
const DIRS: usize = 200;
const FILES_PER_DIR: usize = 100;
/// The size of the whole tree, about; sizes follow a log-uniform law from 64 B to 1 MiB,
/// scaled to this.
const TREE_BYTES: u64 = 500_000_000;
const WARMUP: usize = 2;
/// Targets: `mntns tar` no slower than GNU tar over procfs, and within 32 MiB resident.
const RATIO_TARGET: f64 = 1.0;
const RSS_TARGET_KIB: i64 = 32 * 1024;

struct Mode {
    name: &'static str,
    rounds: usize,
}

const FULL: Mode = Mode {
    name: "full",
    rounds: 21,
};
const QUICK: Mode = Mode {
    name: "quick",
    rounds: 5,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut quick, mut json, mut summarize) = (false, None, None::<Vec<PathBuf>>);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--json" => json = Some(PathBuf::from(args.next().expect("--json FILE"))),
            "--summarize" => summarize = Some(Vec::new()),
            "--bench" => {}
            file if summarize.is_some() => summarize.as_mut().expect("set").push(file.into()),
            other => {
                eprintln!(
                    "tar bench: unknown argument {other:?}; usage: tar [--quick] [--json FILE]"
                );
                std::process::exit(2);
            }
        }
    }
    if let Some(files) = summarize {
        std::process::exit(summarize_runs(&files));
    }
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: the tar benchmark needs root (a tmpfs and a mount namespace)");
        return;
    }
    run(if quick { &QUICK } else { &FULL }, json.as_deref());
}

/// A tmpfs on the host with the tree; unmounted and removed when dropped.
struct Tree {
    mount: PathBuf,
    files: usize,
    bytes: u64,
}

impl Tree {
    fn make() -> Tree {
        let mount = std::env::temp_dir().join(format!("mntns-tar-bench-{}", std::process::id()));
        std::fs::create_dir_all(&mount).expect("create the mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1g", "mntns-tar-bench"])
            .arg(&mount)
            .status()
            .expect("mount a tmpfs");
        assert!(status.success(), "mount a tmpfs for the tree");
        // A deterministic sequence (xorshift), for sizes and contents alike.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let files = DIRS * FILES_PER_DIR;
        let (low, high) = (64f64.ln(), (1u64 << 20) as f64);
        let raw: Vec<f64> = (0..files)
            .map(|_| (low + (next() as f64 / u64::MAX as f64) * (high.ln() - low)).exp())
            .collect();
        let scale = TREE_BYTES as f64 / raw.iter().sum::<f64>();
        let block: Vec<u8> = (0..1 << 20).map(|_| next() as u8).collect();
        let mut bytes = 0;
        for dir in 0..DIRS {
            let dir_path = mount.join(format!("tree/d{dir:03}"));
            std::fs::create_dir_all(&dir_path).expect("create a directory");
            for file in 0..FILES_PER_DIR {
                let size = ((raw[dir * FILES_PER_DIR + file] * scale) as usize).min(block.len());
                let start = (dir * 7919 + file * 104729) % (block.len() - size + 1);
                std::fs::write(
                    dir_path.join(format!("f{file:03}")),
                    &block[start..start + size],
                )
                .expect("write a file");
                bytes += size as u64;
            }
        }
        Tree {
            mount,
            files,
            bytes,
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
        let _ = std::fs::remove_dir(&self.mount);
    }
}

/// A process in a mount namespace of its own (which sees the host's tree); ends when dropped.
struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Holder {
    fn start() -> Holder {
        let mut child = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                "echo ready; read _",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare --mount");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .expect("the holder's ready line");
        assert_eq!(line, "ready\n");
        let stdin = child.stdin.take();
        Holder { child, stdin }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

struct Row {
    id: &'static str,
    label: &'static str,
    command: Command,
    reference: Option<(&'static str, f64)>,
    /// Per round: seconds, archive bytes, peak RSS KiB.
    samples: Vec<(f64, u64, i64)>,
}

/// Runs `command` with stdout into a pipe drained here; its wall time, the bytes it wrote and
/// its peak RSS (KiB), from its own rusage.
fn measure(command: &mut Command) -> (f64, u64, i64) {
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run a candidate");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes += n as u64,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => panic!("read the archive: {error}"),
        }
    }
    let pid = child.id() as libc::pid_t;
    let (mut status, mut usage) = (0, unsafe_zeroed_rusage());
    // SAFETY: wait4 on our own child, with valid pointers; std's Child is forgotten after.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(waited, pid, "wait4");
    std::mem::forget(child);
    let errors = errors.join().expect("stderr");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed ({status}): {errors}"
    );
    (seconds, bytes, usage.ru_maxrss)
}

fn unsafe_zeroed_rusage() -> libc::rusage {
    // SAFETY: an all-zero rusage is a valid out-parameter.
    unsafe { std::mem::zeroed() }
}

/// This process's own peak RSS (`VmHWM`), in KiB.
fn vm_hwm_kib() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(-1)
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn run(mode: &Mode, json_file: Option<&Path>) {
    let begun = Instant::now();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "-p", "mntns"])
        .current_dir(&workspace)
        .status()
        .expect("cargo build");
    assert!(status.success(), "cargo build --release -p mntns");
    let mntns = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("release/mntns");
    eprintln!("tar bench: making the tree ({DIRS} directories of {FILES_PER_DIR} files)");
    let tree = Tree::make();
    let holder = Holder::start();
    let pid = holder.child.id();
    let inside = tree.mount.display().to_string();
    let through_procfs = format!("/proc/{pid}/root{inside}");

    let mut mntns_tar = Command::new(&mntns);
    mntns_tar.args(["tar", &pid.to_string(), &format!("{inside}/tree")]);
    let mut gnu_procfs = Command::new("tar");
    gnu_procfs.args(["-C", &through_procfs, "-cf", "-", "tree"]);
    let mut gnu_host = Command::new("tar");
    gnu_host.args(["-C", &inside, "-cf", "-", "tree"]);
    let mut rows = [
        Row {
            id: "mntns-tar",
            label: "`mntns tar PID DIR` (safe: in the root, nothing followed, checked reopens)",
            command: mntns_tar,
            reference: Some(("gnu-tar-procfs", RATIO_TARGET)),
            samples: Vec::new(),
        },
        Row {
            id: "gnu-tar-procfs",
            label: "GNU tar over /proc/<pid>/root (unsafe)",
            command: gnu_procfs,
            reference: None,
            samples: Vec::new(),
        },
        Row {
            id: "gnu-tar-host",
            label: "GNU tar of the same tree on the host (the machine's limit)",
            command: gnu_host,
            reference: Some(("gnu-tar-procfs", f64::NAN)),
            samples: Vec::new(),
        },
    ];
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut random = fastrand::Rng::with_seed(7);
    for round in 0..WARMUP + mode.rounds {
        random.shuffle(&mut order);
        for &index in &order {
            let sample = measure(&mut rows[index].command);
            if round >= WARMUP {
                rows[index].samples.push(sample);
            }
        }
        eprintln!("  round {}/{}", round + 1, WARMUP + mode.rounds);
    }
    drop(holder);

    let spawner_kib = vm_hwm_kib();
    let find = |id: &str| rows.iter().find(|row| row.id == id).expect("a row");
    let ratio = |row: &Row, reference: &str| {
        let reference = find(reference);
        median(
            row.samples
                .iter()
                .zip(&reference.samples)
                .map(|(a, b)| a.0 / b.0)
                .collect(),
        )
    };
    let number = |value: f64| {
        if value.is_finite() {
            json!(value)
        } else {
            Value::Null
        }
    };
    let mut table = format!(
        "\n## tar benchmark ({} mode: {} shuffled rounds)\n\ntree: {} files in {DIRS} \
         directories, {:.0} MB, on a tmpfs; read inside another mount namespace\n\n\
         | candidate | id | seconds p50 | MB/s | files/s | × reference (target) | peak RSS KiB, at most |\n\
         |---|---|---:|---:|---:|---|---:|\n",
        mode.name,
        mode.rounds,
        tree.files,
        tree.bytes as f64 / 1e6
    );
    let mut json_rows = Vec::new();
    for row in &rows {
        let seconds = median(row.samples.iter().map(|s| s.0).collect());
        let rss = row.samples.iter().map(|s| s.2).max().unwrap_or(0);
        let (mb_s, files_s) = (
            tree.bytes as f64 / 1e6 / seconds,
            tree.files as f64 / seconds,
        );
        let (ratio_value, reference_text) = match row.reference {
            Some((id, target)) => {
                let value = ratio(row, id);
                let verdict = if target.is_nan() {
                    String::new()
                } else {
                    format!(
                        " (≤ {target:.2} {})",
                        if value <= target { "✓" } else { "✗" }
                    )
                };
                (value, format!("{value:.3} × {id}{verdict}"))
            }
            None => (f64::NAN, String::new()),
        };
        let rss_text = if row.id == "mntns-tar" {
            let mark = if rss <= RSS_TARGET_KIB { "✓" } else { "✗" };
            format!("{rss} (≤ {RSS_TARGET_KIB} {mark})")
        } else {
            rss.to_string()
        };
        table.push_str(&format!(
            "| {} | `{}` | {seconds:.3} | {mb_s:.0} | {files_s:.0} | {reference_text} | {rss_text} |\n",
            row.label, row.id
        ));
        json_rows.push(json!({
            "id": row.id,
            "label": row.label,
            "samples": row.samples.len(),
            "p50_us": number(seconds * 1e6),
            "ratio": number(ratio_value),
            "reference": row.reference.map(|(id, _)| id),
            "target": row.reference.map(|(_, target)| number(target)),
            "mb_per_s": number(mb_s),
            "files_per_s": number(files_s),
            "peak_rss_kib": rss,
            "peak_rss_target_kib": (row.id == "mntns-tar").then_some(RSS_TARGET_KIB),
            "archive_bytes": row.samples.first().map(|s| s.1),
        }));
    }
    let total = begun.elapsed().as_secs_f64();
    table.push_str(&format!(
        "\nPeak RSS is wait4's ru_maxrss, an upper bound: a vfork'ed child starts from its \
         parent's high-water mark (the bench's own: {spawner_kib} KiB). Total {total:.0} s.\n"
    ));
    print!("{table}");
    if let Some(path) = json_file {
        let report = json!({
            "mode": mode.name,
            "rounds": mode.rounds,
            "tree": { "files": tree.files, "directories": DIRS, "bytes": tree.bytes },
            "rows": json_rows,
            "spawner_vm_hwm_kib": spawner_kib,
        });
        let mut file = std::fs::File::create(path).expect("create the JSON file");
        writeln!(
            file,
            "{}",
            serde_json::to_string_pretty(&report).expect("JSON")
        )
        .expect("write the JSON file");
        eprintln!("tar bench: figures in {}", path.display());
    }
}

/// `--summarize`: the table of several runs, from the JSON files they wrote: for every row the
/// median over runs of its seconds, MB/s, files/s and ratio, the highest peak RSS, and each
/// run's ratio with its verdict.
fn summarize_runs(files: &[PathBuf]) -> i32 {
    let mut runs = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("{}: {error}", file.display());
                return 1;
            }
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(run) if run["rows"].is_array() => runs.push(run),
            _ => {
                eprintln!("{}: not a tar benchmark report", file.display());
                return 1;
            }
        }
    }
    let Some(first) = runs.first() else {
        eprintln!("--summarize needs the JSON files of one run or more");
        return 2;
    };
    let tree = &first["tree"];
    println!(
        "\n## tar benchmark: {} runs ({} rounds each)\n\ntree: {} files in {} directories, \
         {:.0} MB\n\n| candidate | id | seconds p50 | MB/s | files/s | × reference (target): median; each run | peak RSS KiB, at most |\n\
         |---|---|---:|---:|---:|---|---:|",
        runs.len(),
        first["rounds"],
        tree["files"],
        tree["directories"],
        tree["bytes"].as_f64().unwrap_or(f64::NAN) / 1e6
    );
    for row in first["rows"].as_array().into_iter().flatten() {
        let id = row["id"].as_str().unwrap_or("?");
        let of = |field: &str| -> Vec<f64> {
            runs.iter()
                .filter_map(|run| {
                    let rows = run["rows"].as_array()?;
                    rows.iter().find(|r| r["id"] == id)?[field].as_f64()
                })
                .collect()
        };
        let seconds = median(of("p50_us")) / 1e6;
        let reference = match (row["reference"].as_str(), row["target"].as_f64()) {
            (Some(reference), target) => {
                let verdict = |ratio: f64| match target {
                    Some(target) if ratio <= target => format!("{ratio:.3} ✓"),
                    Some(_) => format!("{ratio:.3} ✗"),
                    None => format!("{ratio:.3}"),
                };
                let each: Vec<String> = of("ratio").into_iter().map(verdict).collect();
                let target = target.map_or(String::new(), |t| format!(" (≤ {t:.2})"));
                format!(
                    "{} × {reference}{target}; runs: {}",
                    verdict(median(of("ratio"))),
                    each.join(", ")
                )
            }
            (None, _) => String::new(),
        };
        let rss = of("peak_rss_kib").into_iter().fold(f64::NAN, f64::max);
        println!(
            "| {} | `{id}` | {seconds:.3} | {:.0} | {:.0} | {reference} | {rss:.0} |",
            row["label"].as_str().unwrap_or("?"),
            median(of("mb_per_s")),
            median(of("files_per_s")),
        );
    }
    0
}
