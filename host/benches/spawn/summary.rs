//! `--summarize RUN.json...`: the Markdown table of several runs, computed from the JSON files
//! the bench wrote (`--json`), so that published figures come from the benchmark's own output.
//! For every row: the median over runs of its p50, p90, ratio to the floor and judged ratio
//! (with the verdict of that median), and each run's judged ratio with its own verdict; then
//! the medians over runs of the scale tables, and each run's judged figures.

use crate::report::{
    also, fixed, get, held_header, judged, keys, label, mark, micros, namespaces_header,
    reference_cell, times, with_columns, KIB_PER_NAMESPACE_TARGET, LAST_TO_FIRST_TARGET,
};
use crate::stats::median;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The median of the values present; `None` if none is.
fn median_of(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let present: Vec<f64> = values.into_iter().flatten().collect();
    (!present.is_empty()).then(|| median(&present))
}

/// Prints the summary of the runs in `paths`; the exit status.
pub fn summarize(paths: &[PathBuf]) -> i32 {
    if paths.is_empty() {
        eprintln!("--summarize needs the JSON files of one run or more");
        return 2;
    }
    let mut runs = Vec::new();
    for path in paths {
        let parsed = std::fs::read_to_string(path)
            .map_err(|error| error.to_string())
            .and_then(|text| serde_json::from_str::<Value>(&text).map_err(|e| e.to_string()));
        match parsed {
            Ok(run) if run.get("rows").is_some_and(Value::is_array) => runs.push(run),
            Ok(_) => {
                eprintln!("{}: not a spawn benchmark report", path.display());
                return 1;
            }
            Err(error) => {
                eprintln!("{}: {error}", path.display());
                return 1;
            }
        }
    }
    print!("{}", markdown(paths, &runs));
    0
}

fn rows(run: &Value) -> &[Value] {
    run["rows"].as_array().map_or(&[], Vec::as_slice)
}

fn markdown(paths: &[PathBuf], runs: &[Value]) -> String {
    let mut out = String::new();
    let n = runs.len();
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        Value::Null => "?".into(),
        other => other.to_string(),
    };
    let _ = writeln!(
        out,
        "\n## spawn benchmark: {n} run{} (medians over runs; nearest rank)\n",
        if n == 1 { "" } else { "s" }
    );
    for (index, (path, run)) in paths.iter().zip(runs).enumerate() {
        let machine = &run["machine"];
        let _ = writeln!(
            out,
            "run {}: {} ({} mode, {} rounds; {} CPUs, {}, Linux {})",
            index + 1,
            path.display(),
            text(&run["mode"]),
            text(&run["rounds"]),
            text(&machine["nproc"]),
            text(&machine["cpu"]),
            text(&machine["kernel"]),
        );
    }
    let runs_header: String = (1..=n).map(|run| format!(" run {run} |")).collect();
    let runs_rule = "---:|".repeat(n);
    let _ = writeln!(
        out,
        "\n| candidate | id | spawn→OK (read) p50 µs | p90 µs | × floor | × reference (target) |{runs_header}"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---|{runs_rule}");
    // Every row of any run, in the order it first appears.
    let mut ids: Vec<&str> = Vec::new();
    for run in runs {
        for row in rows(run) {
            if let Some(id) = row["id"].as_str().filter(|id| !ids.contains(id)) {
                ids.push(id);
            }
        }
    }
    for id in ids {
        let per_run: Vec<Option<&Value>> = runs
            .iter()
            .map(|run| rows(run).iter().find(|row| row["id"] == id))
            .collect();
        let first = per_run.iter().flatten().next().copied().expect("seen");
        let over_runs = |key: &str| median_of(per_run.iter().map(|row| get((*row)?, key)));
        let also_medians: Vec<(String, Option<f64>)> = also(first)
            .into_iter()
            .map(|(reference, _)| {
                let ratios = per_run.iter().map(|row| {
                    also((*row)?)
                        .into_iter()
                        .find(|(id, _)| *id == reference)
                        .and_then(|(_, ratio)| ratio)
                });
                (reference.clone(), median_of(ratios))
            })
            .collect();
        let cells: String = per_run
            .iter()
            .map(|row| format!(" {} |", run_cell(*row)))
            .collect();
        let _ = writeln!(
            out,
            "| {} | `{id}` | {} | {} | {} | {} |{cells}",
            label(first),
            micros(over_runs("p50_us")),
            micros(over_runs("p90_us")),
            times(over_runs("ratio_to_floor")),
            reference_cell(first, over_runs("ratio"), &also_medians),
        );
    }

    let scales: Vec<&Value> = runs.iter().map(|run| &run["scale"]).collect();
    let union = |list: &str| {
        let mut all: Vec<&str> = Vec::new();
        for scale in &scales {
            for key in keys(scale, list) {
                if !all.contains(&key) {
                    all.push(key);
                }
            }
        }
        all
    };
    let count_of = |name: &str| {
        scales
            .iter()
            .find_map(|scale| scale[name].as_u64())
            .unwrap_or(0)
    };
    let runs_kib: String = (1..=n).map(|run| format!(" run {run} KiB |")).collect();
    let header = with_columns(held_header(count_of("held")), &runs_kib, &runs_rule);
    let _ = writeln!(out, "\n{header}");
    for key in union("held_kinds") {
        let (figures, label) = figures_of(&scales, key);
        let over_runs = |name: &str| median_of(figures.iter().map(|f| get((*f)?, name)));
        let cells: String = figures
            .iter()
            .map(|f| {
                let kib = f.and_then(|f| get(f, "kib_per_process_cgroup"));
                format!(" {} |", fixed(kib, 1))
            })
            .collect();
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} |{cells}",
            fixed(over_runs("spawn_p50_us"), 0),
            fixed(over_runs("spawn_ratio_last_to_first"), 2),
            fixed(over_runs("kib_per_process_cgroup"), 1),
            fixed(over_runs("kernel_kib_per_process_cgroup"), 1),
        );
    }

    let runs_judged: String = (1..=n)
        .map(|run| format!(" run {run}: KiB, last/first |"))
        .collect();
    let header = namespaces_header(count_of("namespaces"));
    let header = with_columns(header, &runs_judged, &"---|".repeat(n));
    let _ = writeln!(out, "\n{header}");
    for key in union("namespace_ways") {
        let (figures, label) = figures_of(&scales, key);
        let over_runs = |name: &str| median_of(figures.iter().map(|f| get((*f)?, name)));
        let cells: String = figures
            .iter()
            .map(|f| match f {
                Some(f) => format!(
                    " {}, {} |",
                    judged(
                        get(f, "kib_per_namespace_held"),
                        2,
                        KIB_PER_NAMESPACE_TARGET
                    ),
                    judged(get(f, "spawn_ratio_last_to_first"), 2, LAST_TO_FIRST_TARGET),
                ),
                None => " — |".into(),
            })
            .collect();
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {} | {} |{cells}",
            fixed(over_runs("spawn_p50_us"), 0),
            judged(
                over_runs("spawn_ratio_last_to_first"),
                2,
                LAST_TO_FIRST_TARGET
            ),
            judged(
                over_runs("kib_per_namespace_held"),
                2,
                KIB_PER_NAMESPACE_TARGET
            ),
            fixed(over_runs("kernel_kib_per_namespace_held"), 2),
        );
    }
    let mut notes: Vec<String> = Vec::new();
    for (index, run) in runs.iter().enumerate() {
        for note in run["notes"].as_array().into_iter().flatten() {
            notes.push(format!(
                "run {}: {}",
                index + 1,
                note.as_str().unwrap_or("?")
            ));
        }
    }
    for note in notes {
        let _ = writeln!(out, "\nnote: {note}");
    }
    out
}

/// The figures of the scale row `key` in every run (`None` where a run has none), and its
/// label (else the key).
fn figures_of<'a>(scales: &[&'a Value], key: &'a str) -> (Vec<Option<&'a Value>>, &'a str) {
    let figures: Vec<Option<&Value>> = scales.iter().map(|scale| scale.get(key)).collect();
    let label = figures
        .iter()
        .flatten()
        .find_map(|f| f["label"].as_str())
        .unwrap_or(key);
    (figures, label)
}

/// One run's judged ratio and its verdict ("—" where the row was not in that run); for a
/// large read, the throughput ratio too.
fn run_cell(row: Option<&Value>) -> String {
    let Some(row) = row else {
        return "—".into();
    };
    let ratio = get(row, "ratio");
    let target = get(row, "target");
    let throughput = get(row, "throughput_ratio");
    match (ratio, target) {
        (Some(ratio), Some(target)) => match throughput {
            Some(throughput) => format!(
                "{} (throughput {throughput:.3}) {}",
                times(Some(ratio)),
                mark(ratio, target)
            ),
            None => format!("{} {}", times(Some(ratio)), mark(ratio, target)),
        },
        (ratio, _) => times(ratio),
    }
}
