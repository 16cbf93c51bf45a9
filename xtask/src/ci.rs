//! `cargo xtask ci`: the gates every change passes.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{cargo, has_program, root, step};

/// How much of the gate to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Everything CI runs.
    Full,
    /// Formatting, clippy and the tests: the local loop.
    Quick,
}

/// Each feature of the umbrella crate, checked alone.
const FEATURES: &[&str] = &[
    "taskgroup",
    "resource",
    "tx",
    "retry",
    "batch",
    "limit",
    "signal",
    "breaker",
    "deadline",
    "macros",
    "sqlite",
    "postgres",
    "mysql",
    "limit-postgres",
    "tx-retry",
    "tower",
    "metrics",
    "tracing",
    "full",
];

/// The crates whose features users pick one by one: each is checked with each of its
/// features alone (cargo-hack's `--each-feature`). The umbrella is covered by
/// [`FEATURES`]; the bench, demo, test kit, macros and xtask have no features a user
/// picks.
const PATTERN_CRATES: &[&str] = &[
    "uno-batch",
    "uno-breaker",
    "uno-deadline",
    "uno-limit",
    "uno-resource",
    "uno-retry",
    "uno-signal",
    "uno-taskgroup",
    "uno-tx",
];

pub(crate) fn run(mode: Mode) -> Result<(), String> {
    let started = Instant::now();
    step("format", cargo(&["fmt", "--all", "--check"]))?;
    step(
        "clippy (all targets, all features, warnings denied)",
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    tests()?;
    if mode == Mode::Full {
        let mut doc = cargo(&[
            "doc",
            "--workspace",
            "--no-deps",
            "--all-features",
            "--locked",
        ]);
        doc.env("RUSTDOCFLAGS", "-D warnings");
        step("rustdoc (warnings denied)", doc)?;
        features()?;
        each_feature()?;
        loom()?;
        // Benchmarks are built (in the dev profile, to stay cheap) but never timed here.
        step(
            "benchmarks build (not timed)",
            cargo(&[
                "build",
                "-p",
                "uno-bench",
                "--benches",
                "--all-features",
                "--profile",
                "dev",
                "--locked",
            ]),
        )?;
        deny()?;
    }
    println!(
        "\nxtask ci: all {} steps passed in {:.0}s",
        if mode == Mode::Full { "CI" } else { "quick" },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn tests() -> Result<(), String> {
    if has_program("cargo-nextest", &["nextest", "--version"]) {
        step(
            "tests (nextest, all features)",
            cargo(&[
                "nextest",
                "run",
                "--workspace",
                "--all-features",
                "--locked",
                "--no-fail-fast",
            ]),
        )?;
    } else {
        println!("\ncargo-nextest is not installed; running the tests with cargo test");
        step(
            "tests (cargo test, all features)",
            cargo(&[
                "test",
                "--workspace",
                "--all-features",
                "--locked",
                "--lib",
                "--bins",
                "--tests",
                "--examples",
            ]),
        )?;
    }
    step(
        "doctests (all features)",
        cargo(&["test", "--workspace", "--all-features", "--locked", "--doc"]),
    )
}

fn features() -> Result<(), String> {
    step(
        "umbrella with no features",
        cargo(&["check", "-p", "uno", "--no-default-features", "--locked"]),
    )?;
    for feature in FEATURES {
        step(
            &format!("umbrella with `{feature}` alone"),
            cargo(&[
                "check",
                "-p",
                "uno",
                "--no-default-features",
                "--features",
                feature,
                "--locked",
            ]),
        )?;
    }
    Ok(())
}

/// The loom models: uno-limit's adaptive accounting (`crates/uno-limit/tests/loom.rs`)
/// and uno-taskgroup's abort-handle hand-off (`src/shared/handoff.rs`), built with
/// `--cfg uno_loom` in a target directory of their own (so the main build's cache
/// stays warm), in release (loom runs each model many times) and with a bounded number
/// of preemptions, as tokio's CI does, so that they finish in seconds.
fn loom() -> Result<(), String> {
    let runs: [(&str, &[&str]); 2] = [
        (
            "loom models (uno-limit's adaptive accounting)",
            &["-p", "uno-limit", "--test", "loom"],
        ),
        (
            "loom models (uno-taskgroup's abort-handle hand-off)",
            &["-p", "uno-taskgroup", "--lib", "--", "handoff::loom_models"],
        ),
    ];
    for (name, args) in runs {
        let mut all = vec!["test", "--release", "--locked"];
        all.extend_from_slice(args);
        let mut command = cargo(&all);
        command
            .env("RUSTFLAGS", "--cfg uno_loom")
            .env("LOOM_MAX_PREEMPTIONS", "3")
            .env("CARGO_TARGET_DIR", root().join("target").join("loom"));
        step(name, command)?;
    }
    Ok(())
}

/// Each pattern crate with no features, each feature alone, and all of them, so that a
/// feature that only builds next to another is caught.
fn each_feature() -> Result<(), String> {
    if !has_program("cargo-hack", &["hack", "--version"]) {
        step(
            "install cargo-hack (absent)",
            cargo(&["install", "--locked", "cargo-hack"]),
        )?;
    }
    let mut args = vec!["hack", "check", "--each-feature", "--locked"];
    for name in PATTERN_CRATES {
        args.extend(["-p", name]);
    }
    step(
        "each pattern crate with each feature alone (cargo-hack)",
        cargo(&args),
    )
}

fn deny() -> Result<(), String> {
    if !has_program("cargo-deny", &["--version"]) {
        step(
            "install cargo-deny (absent)",
            cargo(&["install", "--locked", "cargo-deny"]),
        )?;
    }
    let manifest = root().join("Cargo.toml");
    let manifest = manifest.to_string_lossy();
    step(
        "cargo-deny (bans, licenses, sources; no advisory fetch)",
        cargo(&[
            "deny",
            "--manifest-path",
            &manifest,
            "--all-features",
            "--locked",
            "check",
            "bans",
            "licenses",
            "sources",
        ]),
    )?;
    // The advisory database lives on the network; check advisories only when it can be
    // fetched, and say so when it cannot.
    if advisory_db_reachable() {
        step(
            "cargo-deny (advisories)",
            cargo(&["deny", "--manifest-path", &manifest, "check", "advisories"]),
        )
    } else {
        println!(
            "\n==> cargo-deny advisories: skipped, the advisory database cannot be fetched \
             from this machine; known advisories are named in deny.toml"
        );
        Ok(())
    }
}

/// Tries to fetch the advisory database, giving up after a minute.
fn advisory_db_reachable() -> bool {
    let Ok(mut child) = cargo(&["deny", "fetch", "db"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => {
                #[expect(
                    clippy::disallowed_methods,
                    reason = "xtask is synchronous: no runtime thread to block"
                )]
                std::thread::sleep(Duration::from_millis(200));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}
