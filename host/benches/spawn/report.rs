//! The report: a Markdown table on stdout and, with `--json FILE`, the figures as JSON.

use crate::candidates::{find, Row};
use crate::namespaces::{NamespaceScale, NAMESPACES, TENTH};
use crate::prepare::Machine;
use crate::scale::{Scale, HELD};
use crate::stats::{median, paired_ratio, quantile};
use serde_json::{json, Value};
use std::fmt::Write as _;

pub struct Report<'a> {
    pub mode: &'static str,
    pub rounds: usize,
    pub machine: &'a Machine,
    pub namespace: &'a str,
    pub rows: &'a [Row],
    /// (name, how they were spawned, figures)
    pub scale: Vec<(&'static str, Scale)>,
    /// (way, figures) for the 5,000 distinct namespaces held by fds; the first is the target's.
    pub namespaces: Vec<(&'static str, NamespaceScale)>,
    pub memory_source: String,
    pub sleeper_bytes: u64,
    pub floor_bytes: u64,
    pub worker_vm_rss_kib: u64,
    pub seconds: f64,
}

fn ratio(rows: &[Row], row: &Row, reference: &str) -> f64 {
    paired_ratio(&row.times, &find(rows, reference).times)
}

/// Targets for the 5,000 namespaces held by fds: KiB each, and last tenth over first tenth.
const KIB_PER_NAMESPACE_TARGET: f64 = 8.0;
const LAST_TO_FIRST_TARGET: f64 = 1.5;

fn mark(value: f64, target: f64) -> &'static str {
    if value <= target {
        "✓"
    } else {
        "✗"
    }
}

/// RSS or PSS of a row's process; none for sandboxes held by fds.
fn kib(values: &[u64]) -> String {
    match median_u64(values) {
        0 => "—".into(),
        kib => kib.to_string(),
    }
}

fn median_u64(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

impl Report<'_> {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let machine = self.machine;
        let _ = writeln!(
            out,
            "\n## spawn benchmark ({} mode: {} shuffled rounds)\n",
            self.mode, self.rounds
        );
        let _ = writeln!(
            out,
            "machine: {} CPUs, {}, Linux {}; THP {}",
            machine.nproc, machine.cpu, machine.kernel, machine.thp
        );
        let _ = writeln!(
            out,
            "namespace: {} (a holder process's own mount namespace); every candidate gets an \
             empty environment but `sleepy_mntns`; memory: {}",
            self.namespace, self.memory_source
        );
        let _ = writeln!(
            out,
            "4 GiB host: a worker process holding 4 GiB, every page touched (VmRSS {} MiB), \
             spawning in the same rounds\n",
            self.worker_vm_rss_kib / 1024
        );
        let _ = writeln!(
            out,
            "| candidate | id | spawn→OK p50 µs | p90 µs | × floor | × reference (target) | RSS KiB | PSS KiB |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---|---:|---:|");
        for row in self.rows {
            let micros = row.micros();
            let reference = match row.reference {
                Some((id, target)) => {
                    let ratio = ratio(self.rows, row, id);
                    let verdict = if target.is_nan() {
                        String::new()
                    } else {
                        let mark = if ratio <= target { "✓" } else { "✗" };
                        format!(" (≤ {target:.2} {mark})")
                    };
                    format!("{ratio:.3} × {id}{verdict}")
                }
                None => String::new(),
            };
            let _ = writeln!(
                out,
                "| {} | `{}` | {:.0} | {:.0} | {:.3} | {reference} | {} | {} |",
                row.label,
                row.id,
                quantile(&micros, 0.5),
                quantile(&micros, 0.9),
                ratio(self.rows, row, "floor"),
                kib(&row.rss),
                kib(&row.pss),
            );
        }
        let _ = writeln!(
            out,
            "\n| {HELD} held at once | per-spawn p50 µs | last/first tenth | cgroup KiB / process | of which kernel | RSS KiB | PSS KiB |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
        for (name, scale) in &self.scale {
            let _ = writeln!(
                out,
                "| {name} | {:.0} | {:.2} | {:.1} | {:.1} | {:.1} | {:.2} |",
                median(&scale.spawn_us),
                median(&scale.last_to_first),
                median(&scale.cgroup_kib),
                median(&scale.cgroup_kernel_kib),
                median(&scale.rss_kib),
                median(&scale.pss_kib),
            );
        }
        let _ = writeln!(
            out,
            "\n| {NAMESPACES} distinct namespaces held by fds | per-spawn p50 µs | last/first {TENTH} (≤ {LAST_TO_FIRST_TARGET}) | cgroup KiB / namespace (≤ {KIB_PER_NAMESPACE_TARGET}) | of which kernel | fds open |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        for (way, scale) in &self.namespaces {
            let (ratio, kib) = (median(&scale.last_to_first), median(&scale.cgroup_kib));
            let _ = writeln!(
                out,
                "| {way} | {:.0} | {ratio:.2} {} | {kib:.2} {} | {:.2} | {} |",
                median(&scale.spawn_us),
                mark(ratio, LAST_TO_FIRST_TARGET),
                mark(kib, KIB_PER_NAMESPACE_TARGET),
                median(&scale.cgroup_kernel_kib),
                scale.fds_held.iter().max().copied().unwrap_or(0),
            );
        }
        let _ = writeln!(
            out,
            "\nsleeper file {} bytes, floor {} bytes; `sleeper` and `raw-command` are the same \
             spawn measured twice: their ratio, {:.3}, shows the noise. Total {:.0} s.",
            self.sleeper_bytes,
            self.floor_bytes,
            ratio(self.rows, find(self.rows, "sleeper"), "raw-command"),
            self.seconds
        );
        out
    }

    pub fn json(&self) -> Value {
        let number = |value: f64| {
            if value.is_finite() {
                json!(value)
            } else {
                Value::Null
            }
        };
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let micros = row.micros();
                let (reference, to_reference) = match row.reference {
                    Some((id, _)) => (json!(id), number(ratio(self.rows, row, id))),
                    None => (Value::Null, Value::Null),
                };
                json!({
                    "id": row.id,
                    "label": row.label,
                    "samples": micros.len(),
                    "p50_us": number(quantile(&micros, 0.5)),
                    "p90_us": number(quantile(&micros, 0.9)),
                    "ratio": to_reference,
                    "reference": reference,
                    "ratio_to_floor": number(ratio(self.rows, row, "floor")),
                    "target": row.reference.map(|(_, target)| number(target)),
                    "rss_kib": median_u64(&row.rss),
                    "pss_kib": median_u64(&row.pss),
                })
            })
            .collect();
        let mut scale = serde_json::Map::new();
        scale.insert("held".into(), json!(HELD));
        scale.insert("memory_source".into(), json!(self.memory_source));
        for (name, figures) in &self.scale {
            scale.insert(
                (*name).into(),
                json!({
                    "spawn_p50_us": number(median(&figures.spawn_us)),
                    "spawn_ratio_last_to_first": number(median(&figures.last_to_first)),
                    "kib_per_process_cgroup": number(median(&figures.cgroup_kib)),
                    "kernel_kib_per_process_cgroup": number(median(&figures.cgroup_kernel_kib)),
                    "rss_kib_per_process": number(median(&figures.rss_kib)),
                    "pss_kib_per_process": number(median(&figures.pss_kib)),
                    "reps": figures.last_to_first.len(),
                }),
            );
        }
        // The target figures are the first way's (the sleeper path, `.threads(false)`); every
        // way is also given whole under its name.
        if let Some((_, target)) = self.namespaces.first() {
            scale.insert("namespaces".into(), json!(NAMESPACES));
            scale.insert(
                "kib_per_namespace_held".into(),
                number(median(&target.cgroup_kib)),
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
                 kernel included; spawn_ratio_last_to_first: median of the last {TENTH} \
                 spawns' times over the median of the first {TENTH}; medians over repetitions"
            )),
        );
        for (way, figures) in &self.namespaces {
            scale.insert(
                format!("{way}-{NAMESPACES}"),
                json!({
                    "spawn_p50_us": number(median(&figures.spawn_us)),
                    "spawn_ratio_last_to_first": number(median(&figures.last_to_first)),
                    "spawn_ratio_last_to_first_reps": figures.last_to_first,
                    "kib_per_namespace_held": number(median(&figures.cgroup_kib)),
                    "kib_per_namespace_held_reps": figures.cgroup_kib,
                    "kernel_kib_per_namespace_held": number(median(&figures.cgroup_kernel_kib)),
                    "fds_open": figures.fds_held.iter().max(),
                    "reps": figures.last_to_first.len(),
                }),
            );
        }
        json!({
            "mode": self.mode,
            "rounds": self.rounds,
            "namespace": self.namespace,
            "machine": {
                "nproc": self.machine.nproc,
                "cpu": self.machine.cpu,
                "kernel": self.machine.kernel,
                "thp": self.machine.thp,
            },
            "sleeper_bytes": self.sleeper_bytes,
            "floor_bytes": self.floor_bytes,
            "rows": rows,
            "scale": scale,
        })
    }
}
