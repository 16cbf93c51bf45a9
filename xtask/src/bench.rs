//! `cargo xtask bench`: run every criterion benchmark and rewrite docs/benchmarks.md.
//!
//! Criterion leaves `target/criterion/**/new/{benchmark,estimates}.json` behind; this
//! reads the median of each benchmark from there and writes one table per group
//! between the `<!-- bench:begin -->` and `<!-- bench:end -->` markers of
//! docs/benchmarks.md. Within a group, the ratio column is uno's median divided by each
//! other implementation's median (below 1.00 means uno is faster).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::{cargo, root, step};

/// Whether to time the benchmarks or only build them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Build, run, and rewrite docs/benchmarks.md.
    Measure,
    /// Only check that every benchmark builds.
    CompileOnly,
}

const BEGIN: &str = "<!-- bench:begin -->";
const END: &str = "<!-- bench:end -->";

/// One measured benchmark function.
#[derive(Debug)]
struct Measurement {
    function: String,
    median_ns: f64,
}

pub(crate) fn run(mode: Mode, names: &[&str]) -> Result<(), String> {
    if mode == Mode::CompileOnly {
        return step(
            "build benchmarks",
            cargo(&[
                "bench",
                "-p",
                "uno-bench",
                "--all-features",
                "--locked",
                "--no-run",
            ]),
        );
    }
    let mut args = vec!["bench", "-p", "uno-bench", "--all-features", "--locked"];
    for name in names {
        args.extend(["--bench", name]);
    }
    step("criterion benchmarks", cargo(&args))?;
    let groups = collect(&root().join("target/criterion"))?;
    if groups.is_empty() {
        return Err("criterion left no results under target/criterion".into());
    }
    let path = root().join("docs/benchmarks.md");
    let page = std::fs::read_to_string(&path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    let (Some(begin), Some(end)) = (page.find(BEGIN), page.find(END)) else {
        return Err(format!(
            "{} lacks the {BEGIN} / {END} markers",
            path.display()
        ));
    };
    // Groups this run did not measure (a subset was asked for, or the tx benchmarks
    // had no server) keep their last recorded tables.
    let mut sections = sections(&page[begin + BEGIN.len()..end]);
    sections.extend(render(&groups));
    let mut tables = format!("Machine: {}\n\n", machine());
    for section in sections.values() {
        tables.push_str(section);
    }
    let updated = format!("{}{BEGIN}\n{}{}", &page[..begin], tables, &page[end..]);
    std::fs::write(&path, updated)
        .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
    println!("\nxtask bench: rewrote {}", path.display());
    Ok(())
}

/// Reads every `new/benchmark.json` + `new/estimates.json` pair under `dir`.
fn collect(dir: &Path) -> Result<BTreeMap<String, Vec<Measurement>>, String> {
    let mut groups: BTreeMap<String, Vec<Measurement>> = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let in_new = path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|name| name == "new");
            if !(in_new
                && path
                    .file_name()
                    .is_some_and(|name| name == "benchmark.json"))
            {
                continue;
            }
            let benchmark = read_json(&path)?;
            let estimates = read_json(&path.with_file_name("estimates.json"))?;
            let group = benchmark["group_id"].as_str().unwrap_or("?").to_owned();
            let mut function = benchmark["function_id"].as_str().unwrap_or("?").to_owned();
            if let Some(value) = benchmark["value_str"].as_str() {
                function = format!("{function}/{value}");
            }
            let Some(median_ns) = estimates["median"]["point_estimate"].as_f64() else {
                return Err(format!("{} has no median", path.display()));
            };
            groups.entry(group).or_default().push(Measurement {
                function,
                median_ns,
            });
        }
    }
    for measurements in groups.values_mut() {
        measurements.sort_by(|a, b| a.function.cmp(&b.function));
    }
    Ok(groups)
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    serde_json::from_str(&text).map_err(|err| format!("{} is not JSON: {err}", path.display()))
}

/// Splits the recorded tables into one section per `### group` heading.
fn sections(block: &str) -> BTreeMap<String, String> {
    let mut sections = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in block.split_inclusive('\n') {
        if let Some(group) = line.strip_prefix("### ") {
            if let Some((name, text)) = current.take() {
                sections.insert(name, text);
            }
            current = Some((group.trim().to_owned(), String::new()));
        }
        if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
        }
    }
    if let Some((name, text)) = current {
        sections.insert(name, text);
    }
    sections
}

/// One markdown table per measured group, keyed by the group's name.
fn render(groups: &BTreeMap<String, Vec<Measurement>>) -> BTreeMap<String, String> {
    let mut sections = BTreeMap::new();
    for (group, measurements) in groups {
        let mut out = String::new();
        let uno = measurements
            .iter()
            .find(|m| m.function == "uno" || m.function.starts_with("uno/"))
            .map(|m| m.median_ns);
        let _ = writeln!(out, "### {group}\n");
        let _ = writeln!(out, "| implementation | median | uno / this |");
        let _ = writeln!(out, "|---|---:|---:|");
        for m in measurements {
            let ratio =
                uno.map_or_else(|| "—".to_owned(), |uno| format!("{:.2}", uno / m.median_ns));
            let _ = writeln!(out, "| {} | {} | {ratio} |", m.function, human(m.median_ns));
        }
        out.push('\n');
        sections.insert(group.clone(), out);
    }
    sections
}

fn human(ns: f64) -> String {
    match ns {
        ns if ns < 1e3 => format!("{ns:.1} ns"),
        ns if ns < 1e6 => format!("{:.2} µs", ns / 1e3),
        ns if ns < 1e9 => format!("{:.2} ms", ns / 1e6),
        ns => format!("{:.2} s", ns / 1e9),
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, name)| name.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {rustc}")
}
