//! The report: the figures as JSON (`--json FILE`), and the Markdown table on stdout, rendered
//! from that same JSON, with the cell formatting `--summarize` uses for several runs
//! (summary.rs). Missing figures (no process, no cgroup, a reading that fell) are JSON nulls
//! and "—" in the tables, never 0.

use crate::candidates::{find, Kind, Row, LARGE_THROUGHPUT_TARGET};
use crate::namespaces::{NamespaceScale, NAMESPACES, TENTH};
use crate::prepare::Machine;
use crate::scale::{Scale, HELD};
use crate::stats::{median, median_present, median_present_u64, paired_ratio, quantile};
use serde_json::{json, Value};
use std::fmt::Write as _;

pub struct Report<'a> {
    pub mode: &'static str,
    pub rounds: usize,
    pub machine: &'a Machine,
    pub namespace: &'a str,
    pub sleeper: String,
    pub rows: &'a [Row],
    /// (JSON key, label, figures) of the 1,000 held.
    pub scale: Vec<(&'static str, &'static str, Scale)>,
    /// (JSON key, label, figures) of the 5,000 distinct namespaces held by fds; the first is
    /// the target's (the sleeper path).
    pub namespaces: Vec<(&'static str, &'static str, NamespaceScale)>,
    pub memory_source: String,
    pub sleeper_bytes: u64,
    pub floor_bytes: u64,
    pub worker_vm_rss_kib: Option<u64>,
    /// Rows left out, restarts, anything the reader of the figures must know.
    pub notes: Vec<String>,
    pub seconds: f64,
}

/// Targets for the 5,000 namespaces held by fds: KiB each, and last tenth over first tenth.
pub const KIB_PER_NAMESPACE_TARGET: f64 = 8.0;
pub const LAST_TO_FIRST_TARGET: f64 = 1.5;

fn ratio(rows: &[Row], row: &Row, reference: &str) -> f64 {
    paired_ratio(&row.times, &find(rows, reference).times)
}

/// A JSON number, or null for NaN and infinities.
pub fn number(value: f64) -> Value {
    if value.is_finite() {
        json!(value)
    } else {
        Value::Null
    }
}

impl Report<'_> {
    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self.rows.iter().map(|row| self.row_json(row)).collect();
        let mut scale = serde_json::Map::new();
        scale.insert("held".into(), json!(HELD));
        scale.insert("memory_source".into(), json!(self.memory_source));
        scale.insert(
            "held_kinds".into(),
            json!(self.scale.iter().map(|(key, ..)| *key).collect::<Vec<_>>()),
        );
        for (key, label, figures) in &self.scale {
            scale.insert(
                (*key).into(),
                json!({
                    "label": label,
                    "spawn_p50_us": number(median(&figures.spawn_us)),
                    "spawn_ratio_last_to_first": number(median(&figures.last_to_first)),
                    "kib_per_process_cgroup": median_present(&figures.cgroup_kib),
                    "kib_per_process_cgroup_reps": figures.cgroup_kib,
                    "kernel_kib_per_process_cgroup": median_present(&figures.cgroup_kernel_kib),
                    "rss_kib_per_process": number(median(&figures.rss_kib)),
                    "pss_kib_per_process": number(median(&figures.pss_kib)),
                    "reps": figures.last_to_first.len(),
                }),
            );
        }
        // The target figures are the first way's (the sleeper path, `.threads(false)`); every
        // way is also given whole under its key.
        if let Some((_, _, target)) = self.namespaces.first() {
            scale.insert("namespaces".into(), json!(NAMESPACES));
            scale.insert(
                "kib_per_namespace_held".into(),
                json!(median_present(&target.cgroup_kib)),
            );
            scale.insert(
                "spawn_ratio_last_to_first".into(),
                number(median(&target.last_to_first)),
            );
        }
        scale.insert(
            "namespaces_how".into(),
            json!(format!(
                "{NAMESPACES} distinct mount namespaces (made by a helper process, named \
                 /proc/<helper>/fd/<n>), one sandbox each, all held at once by this process; \
                 kib_per_namespace_held: (memory cgroup usage after - before) / {NAMESPACES}, \
                 kernel included (null where a reading was missing or fell); \
                 spawn_ratio_last_to_first: median of the last {TENTH} spawns' times over the \
                 median of the first {TENTH}; medians over repetitions"
            )),
        );
        scale.insert(
            "namespace_ways".into(),
            json!(self
                .namespaces
                .iter()
                .map(|(key, ..)| *key)
                .collect::<Vec<_>>()),
        );
        for (key, label, figures) in &self.namespaces {
            scale.insert(
                (*key).into(),
                json!({
                    "label": label,
                    "spawn_p50_us": number(median(&figures.spawn_us)),
                    "spawn_ratio_last_to_first": number(median(&figures.last_to_first)),
                    "spawn_ratio_last_to_first_reps": figures.last_to_first,
                    "kib_per_namespace_held": median_present(&figures.cgroup_kib),
                    "kib_per_namespace_held_reps": figures.cgroup_kib,
                    "kernel_kib_per_namespace_held": median_present(&figures.cgroup_kernel_kib),
                    "fds_open": figures.fds_held.iter().flatten().max(),
                    "reps": figures.last_to_first.len(),
                }),
            );
        }
        json!({
            "mode": self.mode,
            "rounds": self.rounds,
            "namespace": self.namespace,
            "sleeper": self.sleeper,
            "machine": {
                "nproc": self.machine.nproc,
                "cpu": self.machine.cpu,
                "kernel": self.machine.kernel,
                "thp": self.machine.thp,
            },
            "sleeper_bytes": self.sleeper_bytes,
            "floor_bytes": self.floor_bytes,
            "worker_vm_rss_kib": self.worker_vm_rss_kib,
            "rows": rows,
            "scale": scale,
            "notes": self.notes,
            "seconds": number(self.seconds),
        })
    }

    fn row_json(&self, row: &Row) -> Value {
        let micros = row.micros();
        let p50 = quantile(&micros, 0.5);
        let (reference, to_reference) = match row.reference {
            Some((id, _)) => (json!(id), ratio(self.rows, row, id)),
            None => (Value::Null, f64::NAN),
        };
        let also: Vec<Value> = row
            .also
            .iter()
            .map(|id| json!({ "reference": id, "ratio": number(ratio(self.rows, row, id)) }))
            .collect();
        let (kind, reads, bytes, floor) = match row.kind {
            Kind::Spawn => ("spawn", None, None, ratio(self.rows, row, "floor")),
            // A read has no floor: the floor is a spawn.
            Kind::Read { bytes, batch } => ("read", Some(batch), Some(bytes), f64::NAN),
        };
        let mib_per_s = bytes.map(|bytes| number(bytes as f64 / (1 << 20) as f64 / (p50 / 1e6)));
        let throughput = if row.by_throughput() {
            number(1.0 / to_reference)
        } else {
            Value::Null
        };
        json!({
            "id": row.id,
            "label": row.label,
            "kind": kind,
            "samples": micros.len(),
            "p50_us": number(p50),
            "p90_us": number(quantile(&micros, 0.9)),
            "ratio": number(to_reference),
            "reference": reference,
            "ratio_to_floor": number(floor),
            "target": row.reference.map(|(_, target)| number(target)),
            "throughput_ratio": throughput,
            "also": also,
            "rss_kib": median_present_u64(&row.rss),
            "pss_kib": median_present_u64(&row.pss),
            "reads_per_sample": reads,
            "bytes": bytes,
            "mib_per_s": mib_per_s,
        })
    }
}

/// A number from JSON; `None` for null or absent.
pub fn get(value: &Value, key: &str) -> Option<f64> {
    value.get(key).and_then(Value::as_f64)
}

/// A figure with a precision that suits its size; "—" where missing.
pub fn fixed(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(value) if value.is_finite() => format!("{value:.decimals$}"),
        _ => "—".into(),
    }
}

/// Microseconds: whole above 100, finer below (a small read takes a few).
pub fn micros(value: Option<f64>) -> String {
    match value {
        Some(value) if value < 10.0 => fixed(Some(value), 2),
        Some(value) if value < 100.0 => fixed(Some(value), 1),
        other => fixed(other, 0),
    }
}

/// A ratio: three decimals, whole numbers from 100 on.
pub fn times(value: Option<f64>) -> String {
    match value {
        Some(value) if value >= 100.0 => fixed(Some(value), 0),
        other => fixed(other, 3),
    }
}

pub fn mark(value: f64, target: f64) -> &'static str {
    if value <= target {
        "✓"
    } else {
        "✗"
    }
}

/// Whether `row` (JSON) is judged by throughput: its ratio is time over the reference's, the
/// target 1 / `LARGE_THROUGHPUT_TARGET`.
fn by_throughput(row: &Value) -> bool {
    row.get("throughput_ratio")
        .is_some_and(|value| !value.is_null())
}

/// The "× reference (target)" cell of a row, given its ratio (and its other ratios).
pub fn reference_cell(row: &Value, ratio: Option<f64>, also: &[(String, Option<f64>)]) -> String {
    let Some(id) = row.get("reference").and_then(Value::as_str) else {
        return String::new();
    };
    let target = get(row, "target");
    let mut cell = format!("{} × {id}", times(ratio));
    match (ratio, target) {
        (Some(ratio), Some(target)) if by_throughput(row) => {
            let _ = write!(
                cell,
                " (≤ {target:.3} {}): throughput {:.3}× (≥ {LARGE_THROUGHPUT_TARGET:.2})",
                mark(ratio, target),
                1.0 / ratio
            );
        }
        (Some(ratio), Some(target)) => {
            let _ = write!(cell, " (≤ {target:.2} {})", mark(ratio, target));
        }
        _ => {}
    }
    for (id, ratio) in also {
        let _ = write!(cell, "; {} × {id}", times(*ratio));
    }
    cell
}

/// A row's other ratios, from its JSON.
pub fn also(row: &Value) -> Vec<(String, Option<f64>)> {
    row.get("also")
        .and_then(Value::as_array)
        .map(|also| {
            also.iter()
                .filter_map(|entry| {
                    let id = entry.get("reference")?.as_str()?.to_owned();
                    Some((id, get(entry, "ratio")))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The label of a row, with what one sample is for reads.
pub fn label(row: &Value) -> String {
    let label = row.get("label").and_then(Value::as_str).unwrap_or("?");
    match row.get("reads_per_sample").and_then(Value::as_u64) {
        Some(1) => format!("{label} [1 read per sample]"),
        Some(batch) => {
            format!("{label} [{batch} reads per sample after an untimed one, divided out]")
        }
        None => label.to_owned(),
    }
}

/// The kinds of the 1,000-held table and the ways of the 5,000-namespace table, in order.
pub fn keys<'a>(scale: &'a Value, list: &str) -> Vec<&'a str> {
    scale
        .get(list)
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A table's `header` (its heading line and its rule) with more columns: their headings and
/// their rules.
pub fn with_columns(header: String, headings: &str, rules: &str) -> String {
    header.replacen("|\n|", &format!("|{headings}\n|"), 1) + rules
}

/// The header of the 1,000-held table.
pub fn held_header(held: u64) -> String {
    format!(
        "| {held} held at once | per-spawn p50 µs | last/first tenth | cgroup KiB / process | of which kernel |\n|---|---:|---:|---:|---:|"
    )
}

/// The header of the 5,000-namespace table.
pub fn namespaces_header(count: u64) -> String {
    format!(
        "| {count} distinct namespaces held by fds | per-spawn p50 µs | last/first {} (≤ {LAST_TO_FIRST_TARGET}) | cgroup KiB / namespace (≤ {KIB_PER_NAMESPACE_TARGET}) | of which kernel |\n|---|---:|---:|---:|---:|",
        count / 10
    )
}

/// A figure with its verdict, or "—".
pub fn judged(value: Option<f64>, decimals: usize, target: f64) -> String {
    match value {
        Some(value) => format!("{value:.decimals$} {}", mark(value, target)),
        None => "—".into(),
    }
}

/// The Markdown of one run, from its JSON.
pub fn markdown(report: &Value) -> String {
    let mut out = String::new();
    let text = |value: &Value, key: &str| {
        value
            .get(key)
            .map(|value| match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    let machine = &report["machine"];
    let scale = &report["scale"];
    let _ = writeln!(
        out,
        "\n## spawn benchmark ({} mode: {} shuffled rounds)\n",
        text(report, "mode"),
        text(report, "rounds")
    );
    let _ = writeln!(
        out,
        "machine: {} CPUs, {}, Linux {}; THP {}",
        text(machine, "nproc"),
        text(machine, "cpu"),
        text(machine, "kernel"),
        text(machine, "thp")
    );
    let _ = writeln!(
        out,
        "namespace: {} (a holder process's own mount namespace); sleeper {}; every candidate \
         gets an empty environment but `sleepy_mntns`; memory: {}",
        text(report, "namespace"),
        text(report, "sleeper"),
        text(scale, "memory_source")
    );
    let _ = writeln!(
        out,
        "4 GiB host: a worker process holding 4 GiB, every page touched (VmRSS {} MiB), \
         spawning in the same rounds\n",
        fixed(get(report, "worker_vm_rss_kib").map(|kib| kib / 1024.0), 0)
    );
    let _ = writeln!(
        out,
        "| candidate | id | spawn→OK (read) p50 µs | p90 µs | × floor | × reference (target) | RSS KiB | PSS KiB |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---|---:|---:|");
    for row in report["rows"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} | {} | {} |",
            label(row),
            text(row, "id"),
            micros(get(row, "p50_us")),
            micros(get(row, "p90_us")),
            times(get(row, "ratio_to_floor")),
            reference_cell(row, get(row, "ratio"), &also(row)),
            fixed(get(row, "rss_kib"), 0),
            fixed(get(row, "pss_kib"), 0),
        );
    }
    let held = scale.get("held").and_then(Value::as_u64).unwrap_or(0);
    let header = with_columns(held_header(held), " RSS KiB | PSS KiB |", "---:|---:|");
    let _ = writeln!(out, "\n{header}");
    for key in keys(scale, "held_kinds") {
        let figures = &scale[key];
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            text(figures, "label"),
            fixed(get(figures, "spawn_p50_us"), 0),
            fixed(get(figures, "spawn_ratio_last_to_first"), 2),
            fixed(get(figures, "kib_per_process_cgroup"), 1),
            fixed(get(figures, "kernel_kib_per_process_cgroup"), 1),
            fixed(get(figures, "rss_kib_per_process"), 1),
            fixed(get(figures, "pss_kib_per_process"), 2),
        );
    }
    let count = scale.get("namespaces").and_then(Value::as_u64).unwrap_or(0);
    let header = with_columns(namespaces_header(count), " fds open |", "---:|");
    let _ = writeln!(out, "\n{header}");
    for key in keys(scale, "namespace_ways") {
        let figures = &scale[key];
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            text(figures, "label"),
            fixed(get(figures, "spawn_p50_us"), 0),
            judged(
                get(figures, "spawn_ratio_last_to_first"),
                2,
                LAST_TO_FIRST_TARGET
            ),
            judged(
                get(figures, "kib_per_namespace_held"),
                2,
                KIB_PER_NAMESPACE_TARGET
            ),
            fixed(get(figures, "kernel_kib_per_namespace_held"), 2),
            fixed(get(figures, "fds_open"), 0),
        );
    }
    let noise = report["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|row| row["id"] == "sleeper")
        .map(also)
        .unwrap_or_default()
        .into_iter()
        .find(|(id, _)| id == "raw-command")
        .and_then(|(_, ratio)| ratio);
    let _ = writeln!(
        out,
        "\nsleeper file {} bytes, floor {} bytes; `sleeper` and `raw-command` are the same \
         spawn measured twice: their ratio, {}, shows the noise. Total {} s.",
        text(report, "sleeper_bytes"),
        text(report, "floor_bytes"),
        times(noise),
        fixed(get(report, "seconds"), 0)
    );
    for note in report["notes"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "\nnote: {}", note.as_str().unwrap_or_default());
    }
    out
}
