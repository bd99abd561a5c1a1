//! The candidates: every row of the table, what it spawns, where, and what it is judged
//! against. A new row is one more `Row::new` here and, if it spawns in a new way, one more
//! `How` in harness.rs.

use crate::harness::How;
use crate::reading::{Read, LARGE_BYTES};
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// Spawned (or read) by the bench itself (a small process).
    Here,
    /// Spawned by the worker holding 4 GiB; the request to send it.
    Big(&'static str),
}

/// What a row times: a spawn (to `OK`, or the sandbox ready), or a read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Spawn,
    /// Reads of a file of `bytes` bytes, `batch` of them per sample (divided out).
    Read {
        bytes: u64,
        batch: usize,
    },
}

pub struct Row {
    /// The JSON id.
    pub id: &'static str,
    pub label: &'static str,
    pub how: How,
    pub at: Where,
    pub kind: Kind,
    /// The id of the row this one is judged against, and the target for that ratio (NaN: none).
    pub reference: Option<(&'static str, f64)>,
    /// Other rows this one is shown against too (not judged).
    pub also: Vec<&'static str>,
    /// Measured only every n-th round (the slow fork from the 4 GiB host, the large reads).
    pub every: usize,
    /// Per round, µs; `None` for rounds this row sat out.
    pub times: Vec<Option<f64>>,
    /// Per sample, KiB; `None` where there is no process (fd-held sandboxes, reads).
    pub rss: Vec<Option<u64>>,
    pub pss: Vec<Option<u64>>,
}

impl Row {
    fn new(id: &'static str, label: &'static str, how: How, at: Where) -> Row {
        Row {
            id,
            label,
            how,
            at,
            kind: Kind::Spawn,
            reference: None,
            also: Vec::new(),
            every: 1,
            times: Vec::new(),
            rss: Vec::new(),
            pss: Vec::new(),
        }
    }

    fn read(id: &'static str, label: &'static str, read: Read, bytes: u64) -> Row {
        Row {
            kind: Kind::Read {
                bytes,
                batch: read.batch(),
            },
            ..Row::new(id, label, How::Read(read), Where::Here)
        }
    }

    fn judged(mut self, reference: &'static str, target: f64) -> Row {
        self.reference = Some((reference, target));
        self
    }

    fn also(mut self, reference: &'static str) -> Row {
        self.also.push(reference);
        self
    }

    fn every(mut self, every: usize) -> Row {
        self.every = every.max(1);
        self
    }

    pub fn micros(&self) -> Vec<f64> {
        self.times.iter().flatten().copied().collect()
    }

    /// Whether this row is judged by throughput (a large read), not time.
    pub fn by_throughput(&self) -> bool {
        matches!(self.kind, Kind::Read { bytes, .. } if bytes >= LARGE_BYTES as u64)
    }
}

/// What the rows depend on besides the programs.
pub struct Setup<'a> {
    pub sleeper: &'a Path,
    pub floor: &'a Path,
    pub nsenter: bool,
    /// Whether the embedded sleeper is what `Builder` runs by default (not with
    /// `$MNTNSSANDBOX_BINARY` set): `crate-held-memfd` needs it.
    pub embedded: bool,
    /// Whether the second holder (a user namespace of another uid) runs: `read-bound`.
    pub bound: bool,
    pub small_bytes: u64,
    pub pre_exec_every: usize,
    pub read_large_every: usize,
}

/// The throughput target of the large reads: at least this fraction of the naive read's.
pub const LARGE_THROUGHPUT_TARGET: f64 = 0.95;

/// Every candidate, the floor first; `notes` gets a line for each row left out.
pub fn rows(setup: &Setup, notes: &mut Vec<String>) -> Vec<Row> {
    let sleeper = setup.sleeper;
    let floor = setup.floor;
    let sleeper_raw = || How::raw(sleeper);
    let mut rows = vec![
        Row::new(
            "floor",
            "floor (no libc, sleeper's layout: write OK, pause)",
            How::raw(floor),
            Where::Here,
        ),
        Row::new(
            "floor-join",
            "floor + join (openat + setns, then OK)",
            How::Raw {
                program: floor.to_owned(),
                join: true,
            },
            Where::Here,
        )
        .judged("floor", f64::NAN),
        Row::new(
            "sleeper",
            "mntnssandbox, raw `Command`",
            sleeper_raw(),
            Where::Here,
        )
        .judged("floor", 1.10)
        .also("raw-command"),
        Row::new(
            "raw-command",
            "raw `Command` of the sleeper (reference for the crate)",
            sleeper_raw(),
            Where::Here,
        )
        .judged("floor", f64::NAN),
        Row::new(
            "raw-command-root",
            "raw `Command` of the sleeper + open of `/proc/<pid>/root` after OK (what the crate's sleeper rows do too)",
            How::RawRoot(sleeper.to_owned()),
            Where::Here,
        )
        .judged("raw-command", f64::NAN),
        Row::new(
            "crate-held",
            "host crate `Builder::spawn`, held sleeper",
            How::CrateHeld(sleeper.to_owned()),
            Where::Here,
        )
        .judged("raw-command", 0.85)
        .also("raw-command-root"),
    ];
    if setup.embedded {
        rows.push(
            Row::new(
                "crate-held-memfd",
                "host crate, held sleeper: the embedded one, from its sealed memfd",
                How::CrateHeldEmbedded,
                Where::Here,
            )
            .judged("crate-held", f64::NAN),
        );
    } else {
        notes.push(
            "crate-held-memfd left out: $MNTNSSANDBOX_BINARY is set, so `Builder` runs that \
             file, not the embedded sleeper"
                .into(),
        );
    }
    rows.extend([
        Row::new(
            "crate-detached",
            "host crate, sleeper let go: fd-held sandbox (`.threads(false)`)",
            How::CrateDetached(sleeper.to_owned()),
            Where::Here,
        )
        .judged("raw-command", 0.90)
        .also("raw-command-root"),
        Row::new(
            "crate-thread",
            "host crate, thread path (`.process_root(false)`), kept entering thread: fd-held sandbox, no process",
            How::CrateThread(sleeper.to_owned()),
            Where::Here,
        )
        .judged("raw-command", 0.30),
        Row::new(
            "crate-thread-cold",
            "host crate, thread path, cold: a new entering thread each time (first spawn in a fresh process of the bench, only `spawn()` timed)",
            How::CrateThreadCold(sleeper.to_owned()),
            Where::Here,
        )
        .judged("raw-command", f64::NAN)
        .also("crate-thread"),
        Row::new(
            "crate-pid",
            "host crate, `NamespaceRef::Pid` (defaults): through `/proc/<pid>/root`, no thread, no process",
            How::CratePid,
            Where::Here,
        )
        .judged("raw-command", 0.10),
    ]);
    if setup.nsenter {
        rows.push(Row::new(
            "nsenter",
            "`nsenter --mount` + `sh -c 'echo OK; exec sleep'`",
            How::Nsenter,
            Where::Here,
        ));
    }
    rows.push(
        Row::new(
            "big-raw-command",
            "4 GiB host: raw `Command`",
            sleeper_raw(),
            Where::Big("raw"),
        )
        .judged("raw-command", 1.5),
    );
    rows.push(
        Row::new(
            "big-crate-held",
            "4 GiB host: host crate `Builder::spawn`",
            How::CrateHeld(sleeper.to_owned()),
            Where::Big("host"),
        )
        .judged("crate-held", 1.5),
    );
    rows.push(
        Row::new(
            "big-pre-exec",
            "4 GiB host: raw `Command` + no-op `pre_exec` (fork)",
            How::RawPreExec(sleeper.to_owned()),
            Where::Big("pre_exec"),
        )
        .judged("big-raw-command", f64::NAN)
        .every(setup.pre_exec_every),
    );
    let small = setup.small_bytes;
    let large = LARGE_BYTES as u64;
    rows.push(Row::read(
        "read-naive",
        "read a small file: `std::fs::read` of `/proc/<holder>/root/<file>` (naive)",
        Read::Naive,
        small,
    ));
    rows.push(
        Row::read(
            "read-safe",
            "read a small file: a held sandbox's `read` (openat2 in root, checks, reopen)",
            Read::Safe,
            small,
        )
        .judged("read-naive", 3.0),
    );
    if setup.bound {
        rows.push(
            Row::read(
                "read-bound",
                "read a small file inside the authority bound (namespace of another user namespace)",
                Read::Bound,
                small,
            )
            .judged("read-safe", f64::NAN),
        );
    }
    rows.push(
        Row::read(
            "read-naive-large",
            "read 64 MiB: `std::fs::read` of `/proc/<holder>/root/<file>` (naive)",
            Read::NaiveLarge,
            large,
        )
        .every(setup.read_large_every),
    );
    rows.push(
        Row::read(
            "read-safe-large",
            "read 64 MiB: a held sandbox's `read`",
            Read::SafeLarge,
            large,
        )
        .judged("read-naive-large", 1.0 / LARGE_THROUGHPUT_TARGET)
        .every(setup.read_large_every),
    );
    rows
}

/// The row with this id.
pub fn find<'a>(rows: &'a [Row], id: &str) -> &'a Row {
    rows.iter()
        .find(|row| row.id == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}
