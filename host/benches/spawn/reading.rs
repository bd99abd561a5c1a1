//! Reading: what a file read through a sandbox costs, against reading the same file naively
//! through `/proc/<holder>/root/...` (`std::fs::read`), for a small file and for a 64 MiB one;
//! and what the authority bound adds per read, on a namespace owned by another user namespace.
//!
//! The safe rows read through `Builder::new(NamespaceRef::Pid(holder))` with the defaults (the
//! holder's root, `/proc/<pid>/root`: the very directory the naive rows go through). That
//! sandbox is opened, untimed, before each sample and closed after it, so that no sandbox is
//! alive while the spawn rows run (a live one moves every crate spawn's stdio into the
//! descriptor slots, which would change what they measure). Only the reads are timed.
//!
//! The small file is one the holder's namespace has (`/etc/hostname`); a sample is one untimed
//! read, then `SMALL_BATCH` reads timed together and divided out, on both sides: one read is a
//! few µs, and the first one after a spawn costs 2–3 times the next (cold caches), which would
//! measure the spawn row that ran before rather than the read (and the untimed open of the
//! safe row's sandbox would warm its path but not the naive one's). The large file is made by
//! the bench (deterministic content, `LARGE_BYTES`, the default `ReadPolicy` cap) in its target
//! directory, which the holder's namespace sees, and removed afterwards; a sample is one read.

use crate::harness::{holder_pid, NamespaceHolder};
use mntnssandbox_host::{Authority, Builder, NamespaceRef, Sandbox, Way};
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The large file's size: 64 MiB, exactly the default cap on whole-file reads.
pub const LARGE_BYTES: usize = 64 << 20;

/// Reads per sample of the small file (timed together, divided out).
pub const SMALL_BATCH: usize = 16;

/// The small files looked for, in this order: the first regular one is read.
const SMALL_FILES: [&str; 2] = ["/etc/hostname", "/etc/passwd"];

/// The uid that makes the second holder's user namespace (through setpriv).
const BOUND_UID: u32 = 65534;

/// What a reading row reads, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// `Sandbox::read` of the small file.
    Safe,
    /// `std::fs::read` of `/proc/<holder>/root/<small file>`.
    Naive,
    /// `Sandbox::read` of the large file.
    SafeLarge,
    /// `std::fs::read` of `/proc/<holder>/root/<large file>`.
    NaiveLarge,
    /// `Sandbox::read` of the small file in the second holder's namespace, owned by another
    /// user namespace: every read inside the authority bound.
    Bound,
}

impl Read {
    /// Reads timed per sample (after one untimed read, for the small file).
    pub fn batch(self) -> usize {
        match self {
            Read::SafeLarge | Read::NaiveLarge => 1,
            Read::Safe | Read::Naive | Read::Bound => SMALL_BATCH,
        }
    }
}

/// The files, the second holder, and how to read each way.
pub struct Reading {
    /// The small file, as named inside the namespaces, and its size.
    pub small: PathBuf,
    pub small_bytes: u64,
    large: LargeFile,
    naive_small: PathBuf,
    naive_large: PathBuf,
    /// The second holder (a user namespace of `BOUND_UID`'s), if it could be started.
    bound: Option<NamespaceHolder>,
    /// What `read-bound`'s sandbox said its authority was.
    pub bound_authority: Option<Authority>,
}

/// The bench's large file, removed when dropped.
struct LargeFile(PathBuf);

impl Drop for LargeFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The large file's content: a xorshift64 stream, the same every run.
fn large_content() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut data = Vec::with_capacity(LARGE_BYTES);
    while data.len() < LARGE_BYTES {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data
}

impl Reading {
    /// Makes the large file in `dir` (seen by the holder's namespace), starts the second
    /// holder, and checks that every way reads the same bytes (and the bound's authority).
    /// `notes` gets a line for what could not be set up.
    pub fn start(dir: &Path, notes: &mut Vec<String>) -> Reading {
        let small = SMALL_FILES
            .iter()
            .map(PathBuf::from)
            .find(|path| std::fs::metadata(path).is_ok_and(|meta| meta.is_file()))
            .unwrap_or_else(|| panic!("none of {SMALL_FILES:?} is a regular file"));
        let path = dir.join(format!(
            "bench-read-{}MiB-{}",
            LARGE_BYTES >> 20,
            std::process::id()
        ));
        let content = large_content();
        let large = LargeFile(path.clone());
        let mut file = std::fs::File::create(&path)
            .unwrap_or_else(|error| panic!("create {}: {error}", path.display()));
        file.write_all(&content)
            .and_then(|()| file.sync_all())
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        drop(file);
        let root = format!("/proc/{}/root", holder_pid());
        let inside = |path: &Path| {
            PathBuf::from(format!(
                "{root}/{}",
                path.to_str().expect("UTF-8").trim_start_matches('/')
            ))
        };
        let mut reading = Reading {
            small_bytes: std::fs::metadata(&small).map_or(0, |meta| meta.len()),
            naive_small: inside(&small),
            naive_large: inside(&path),
            small,
            large,
            bound: None,
            bound_authority: None,
        };
        match NamespaceHolder::user(BOUND_UID) {
            Ok(holder) => reading.bound = Some(holder),
            Err(why) => notes.push(format!(
                "read-bound left out: no holder in a user namespace of uid {BOUND_UID} ({why})"
            )),
        }
        reading.check(&content);
        reading
    }

    /// Whether `read-bound` can be measured.
    pub fn bound(&self) -> bool {
        self.bound.is_some()
    }

    fn sandbox(&self, read: Read) -> Sandbox {
        let pid = match read {
            Read::Bound => self.bound.as_ref().expect("the second holder").pid(),
            _ => holder_pid(),
        };
        Builder::new(NamespaceRef::Pid(pid))
            .spawn()
            .unwrap_or_else(|error| panic!("open the sandbox for {read:?}: {error}"))
    }

    fn check(&mut self, large: &[u8]) {
        let small = std::fs::read(&self.small).expect("read the small file");
        let held = self.sandbox(Read::Safe);
        assert_eq!(held.way(), Way::ProcessRoot, "read-safe: {held:?}");
        assert_eq!(held.authority(), Authority::Own, "read-safe: {held:?}");
        assert_eq!(held.read(&self.small).expect("read-safe"), small);
        assert_eq!(std::fs::read(&self.naive_small).expect("read-naive"), small);
        assert!(held.read(&self.large.0).expect("read-safe-large") == large);
        assert!(std::fs::read(&self.naive_large).expect("read-naive-large") == large);
        drop(held);
        if self.bound() {
            let bound = self.sandbox(Read::Bound);
            assert_eq!(bound.way(), Way::ProcessRoot, "read-bound: {bound:?}");
            assert!(
                matches!(bound.authority(), Authority::NamespaceRoot { .. }),
                "read-bound must read inside the bound: {bound:?}"
            );
            assert_eq!(bound.read(&self.small).expect("read-bound"), small);
            self.bound_authority = Some(bound.authority());
        }
    }

    /// One sample: the time of one read (`read.batch()` reads timed together, divided out).
    pub fn sample(&self, read: Read) -> Duration {
        let batch = read.batch();
        let expected = match read {
            Read::SafeLarge | Read::NaiveLarge => LARGE_BYTES,
            _ => self.small_bytes as usize,
        };
        let check = |data: Vec<u8>| assert_eq!(black_box(data).len(), expected, "{read:?}");
        let elapsed = match read {
            Read::Naive | Read::NaiveLarge => {
                let path = match read {
                    Read::Naive => &self.naive_small,
                    _ => &self.naive_large,
                };
                let once = || check(std::fs::read(black_box(path)).expect("naive read"));
                if batch > 1 {
                    once();
                }
                let start = Instant::now();
                for _ in 0..batch {
                    once();
                }
                start.elapsed()
            }
            Read::Safe | Read::SafeLarge | Read::Bound => {
                let path = match read {
                    Read::SafeLarge => &self.large.0,
                    _ => &self.small,
                };
                let sandbox = self.sandbox(read);
                let once = || check(sandbox.read(black_box(path)).expect("sandbox read"));
                if batch > 1 {
                    once();
                }
                let start = Instant::now();
                for _ in 0..batch {
                    once();
                }
                let elapsed = start.elapsed();
                drop(sandbox);
                elapsed
            }
        };
        elapsed / batch as u32
    }
}
