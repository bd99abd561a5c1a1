//! The candidates: every row of the table, what it spawns, where, and what it is judged
//! against. A new row is one more `Row::new` here and, if it spawns in a new way, one more
//! `How` in harness.rs.

use crate::harness::How;
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// Spawned by the bench itself (a small process).
    Here,
    /// Spawned by the worker holding 4 GiB; the request to send it.
    Big(&'static str),
}

pub struct Row {
    /// The JSON id.
    pub id: &'static str,
    pub label: &'static str,
    pub how: How,
    pub at: Where,
    /// The id of the row this one is judged against, and the target for that ratio (NaN: none).
    pub reference: Option<(&'static str, f64)>,
    /// Measured only every n-th round (the slow fork from the 4 GiB host).
    pub every: usize,
    /// Per round, µs; `None` for rounds this row sat out.
    pub times: Vec<Option<f64>>,
    pub rss: Vec<u64>,
    pub pss: Vec<u64>,
}

impl Row {
    fn new(id: &'static str, label: &'static str, how: How, at: Where) -> Row {
        Row {
            id,
            label,
            how,
            at,
            reference: None,
            every: 1,
            times: Vec::new(),
            rss: Vec::new(),
            pss: Vec::new(),
        }
    }

    fn judged(mut self, reference: &'static str, target: f64) -> Row {
        self.reference = Some((reference, target));
        self
    }

    pub fn micros(&self) -> Vec<f64> {
        self.times.iter().flatten().copied().collect()
    }
}

/// Every candidate, the floor first.
pub fn rows(sleeper: &Path, floor: &Path, nsenter: bool, pre_exec_every: usize) -> Vec<Row> {
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
        .judged("floor", 1.10),
        Row::new(
            "raw-command",
            "raw `Command` of the sleeper (reference for the crate)",
            sleeper_raw(),
            Where::Here,
        )
        .judged("floor", f64::NAN),
        Row::new(
            "crate-held",
            "host crate `Builder::spawn`, held sleeper",
            How::CrateHeld(sleeper.to_owned()),
            Where::Here,
        )
        .judged("raw-command", 0.85),
        Row::new(
            "crate-held-memfd",
            "host crate, held sleeper: the embedded one, from its sealed memfd",
            How::CrateHeldEmbedded,
            Where::Here,
        )
        .judged("crate-held", f64::NAN),
        Row::new(
            "crate-detached",
            "host crate, sleeper let go: fd-held sandbox (`.threads(false)`)",
            How::CrateDetached(sleeper.to_owned()),
            Where::Here,
        )
        .judged("raw-command", 0.90),
        Row::new(
            "crate-thread",
            "host crate, thread path: fd-held sandbox, no process",
            How::CrateThread(sleeper.to_owned()),
            Where::Here,
        )
        .judged("raw-command", 0.30),
    ];
    if nsenter {
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
    let mut pre_exec = Row::new(
        "big-pre-exec",
        "4 GiB host: raw `Command` + no-op `pre_exec` (fork)",
        How::RawPreExec(sleeper.to_owned()),
        Where::Big("pre_exec"),
    )
    .judged("big-raw-command", f64::NAN);
    pre_exec.every = pre_exec_every;
    rows.push(pre_exec);
    rows
}

/// The row with this id.
pub fn find<'a>(rows: &'a [Row], id: &str) -> &'a Row {
    rows.iter()
        .find(|row| row.id == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}
