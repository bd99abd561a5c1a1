//! The big host: a worker process (this bench again, `--worker`) that holds 4 GiB of touched
//! memory and spawns on request, in the same rounds as the other candidates.

use crate::harness::{measure, namespace, How, Sample};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// How much memory the big host holds, every page touched.
pub const BIG_HOST: usize = 4 << 30;
/// The longest a worker gets to exit once told to.
const WORKER_EXIT: Duration = Duration::from_secs(20);

/// The worker's side: touch 4 GiB, say `ready`, then measure what each line on stdin names
/// (`raw`, `pre_exec`, `host`) and answer `ok NANOS RSS PSS`; exit on end of input.
pub fn worker(sleeper: &Path) -> i32 {
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
            "raw" => How::raw(sleeper),
            "pre_exec" => How::RawPreExec(sleeper.into()),
            "host" => How::CrateHeld(sleeper.into()),
            other => {
                eprintln!("worker: unknown request {other:?}");
                return 1;
            }
        };
        let sample = measure(&how);
        let kib = |kib: Option<u64>| kib.map_or("-".into(), |kib| kib.to_string());
        let answer = writeln!(
            out,
            "ok {} {} {}",
            sample.spawn_to_ok.as_nanos(),
            kib(sample.rss_kib),
            kib(sample.pss_kib)
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
pub struct Worker {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// How long touching the 4 GiB took, and the worker's VmRSS after (`None`: unreadable).
    pub touched_ms: u64,
    pub vm_rss_kib: Option<u64>,
}

impl Worker {
    pub fn start(sleeper: &Path) -> Worker {
        let exe = std::env::current_exe().expect("the bench's own path");
        let mut child = Command::new(exe)
            .arg("--worker")
            .arg(sleeper)
            .arg(namespace())
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
            vm_rss_kib: None,
        }
    }

    /// Waits for the worker to have touched its 4 GiB.
    pub fn ready(&mut self) {
        let ready = self.line();
        let fields: Vec<&str> = ready.split_whitespace().collect();
        assert!(
            fields.len() == 3 && fields[0] == "ready",
            "worker said {ready:?}"
        );
        self.touched_ms = fields[1].parse().unwrap_or(0);
        self.vm_rss_kib = fields[2].parse().ok();
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

    pub fn measure(&mut self, request: &str) -> Sample {
        let stdin = self.stdin.as_mut().expect("worker running");
        writeln!(stdin, "{request}")
            .and_then(|()| stdin.flush())
            .expect("write to the worker");
        let answer = self.line();
        let fields: Vec<Option<u64>> = answer
            .strip_prefix("ok ")
            .unwrap_or_else(|| panic!("worker said {answer:?}"))
            .split_whitespace()
            .map(|field| field.parse().ok())
            .collect();
        assert_eq!(fields.len(), 3, "worker said {answer:?}");
        Sample {
            spawn_to_ok: Duration::from_nanos(fields[0].expect("the worker's time")),
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
