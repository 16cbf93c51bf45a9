//! Real signals sent with `kill` to child processes that run the crate's examples.
//!
//! Each test starts an example, waits for the line that says it listens, signals it
//! and checks its output and exit status. Nothing sleeps to synchronise: the tests
//! read the child's output line by line. A watchdog kills a child that hangs, so a
//! broken shutdown fails the test instead of stalling the run.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use uno_testkit::{ChildProgram, ExampleSet};

/// A child stuck longer than this is killed and the test fails.
const WATCHDOG: Duration = Duration::from_secs(60);

/// The examples this test runs (`exit_path` needs the `resource` and `batch` features).
const EXAMPLES: &[&str] = if cfg!(all(feature = "resource", feature = "batch")) {
    &[
        "shutdown_demo",
        "default_restored",
        "signal_latency",
        "exit_path",
    ]
} else {
    &["shutdown_demo", "default_restored", "signal_latency"]
};

/// The path of an example, built with this test's features if the test run did not
/// build it (see `uno_testkit::ExampleSet`).
fn example(name: &str) -> PathBuf {
    let features: Vec<&str> = [
        ("tracing", cfg!(feature = "tracing")),
        ("resource", cfg!(feature = "resource")),
        ("batch", cfg!(feature = "batch")),
    ]
    .into_iter()
    .filter_map(|(feature, on)| on.then_some(feature))
    .collect();
    ExampleSet {
        package: "uno-signal",
        manifest_dir: env!("CARGO_MANIFEST_DIR"),
        source_dirs: &["src", "src/platform", "examples"],
        examples: EXAMPLES,
        features: &features,
    }
    .path(name)
}

/// Starts an example and waits for its `ready` line.
fn start(example_name: &str, arguments: &[&str]) -> ChildProgram {
    let mut program = start_without_ready(example_name, arguments);
    program.read_until("ready");
    program
}

/// Like [`start`], for examples that print no `ready` line first.
fn start_without_ready(example_name: &str, arguments: &[&str]) -> ChildProgram {
    ChildProgram::start(
        Command::new(example(example_name)).args(arguments),
        WATCHDOG,
    )
}

fn printed(output: &[String], line: &str) -> bool {
    output.iter().any(|printed| printed.starts_with(line))
}

#[test]
fn first_sigint_exits_gracefully_after_cleanup() {
    let mut program = start("shutdown_demo", &["--cleanup-ms", "200"]);
    program.signal("INT");
    program.read_until("worker: cleaning up");
    let (status, output) = program.finish();

    assert_eq!(status.code(), Some(0), "output: {output:?}");
    assert!(
        printed(&output, "worker: cleanup done"),
        "output: {output:?}"
    );
    assert!(
        printed(&output, "report: shut down after SIGINT: 1 finished"),
        "output: {output:?}"
    );
}

#[test]
fn first_sigterm_exits_gracefully_after_cleanup() {
    let program = start("shutdown_demo", &["--cleanup-ms", "200"]);
    program.signal("TERM");
    let (status, output) = program.finish();

    assert_eq!(status.code(), Some(0), "output: {output:?}");
    assert!(
        printed(&output, "worker: cleanup done"),
        "output: {output:?}"
    );
    assert!(
        printed(&output, "report: shut down after SIGTERM"),
        "output: {output:?}"
    );
}

#[test]
fn second_sigint_during_slow_cleanup_forces_exit_130() {
    let mut program = start("shutdown_demo", &["--cleanup-ms", "60000"]);
    program.signal("INT");
    program.read_until("worker: cleaning up");
    program.signal("INT");
    let (status, output) = program.finish();

    assert_eq!(status.code(), Some(130), "output: {output:?}");
    assert!(
        !printed(&output, "worker: cleanup done"),
        "output: {output:?}"
    );
}

#[test]
fn second_sigterm_during_slow_cleanup_forces_exit_143() {
    let mut program = start("shutdown_demo", &["--cleanup-ms", "60000"]);
    program.signal("INT");
    program.read_until("worker: cleaning up");
    program.signal("TERM");
    let (status, output) = program.finish();

    assert_eq!(status.code(), Some(143), "output: {output:?}");
}

#[test]
fn second_signal_forces_exit_even_when_cleanup_blocks_the_runtime() {
    let mut program = start(
        "shutdown_demo",
        &["--cleanup-ms", "60000", "--blocking-cleanup"],
    );
    program.signal("INT");
    // Printed right before the worker blocks the only runtime thread.
    program.read_until("worker: cleaning up");
    program.signal("INT");
    let (status, output) = program.finish();

    assert_eq!(status.code(), Some(130), "output: {output:?}");
}

#[test]
fn force_exit_never_ignores_later_signals_and_the_grace_period_ends_the_shutdown() {
    let mut program = start(
        "shutdown_demo",
        &[
            "--cleanup-ms",
            "60000",
            "--grace-ms",
            "300",
            "--force-exit",
            "never",
        ],
    );
    program.signal("INT");
    program.read_until("worker: cleaning up");
    program.signal("INT");
    let (status, output) = program.finish();

    assert_eq!(status.code(), Some(1), "output: {output:?}");
    assert!(
        printed(
            &output,
            "report: shut down after SIGINT: 0 finished, aborted after the grace period: worker"
        ),
        "output: {output:?}"
    );
}

#[test]
fn sigterm_without_a_shutdown_for_it_keeps_its_default_action() {
    let program = start("shutdown_demo", &["--signals", "int"]);
    program.signal("TERM");
    let (status, output) = program.finish();

    assert_eq!(
        status.signal(),
        Some(15),
        "status {status}, output: {output:?}"
    );
    assert!(
        !printed(&output, "worker: cleaning up"),
        "output: {output:?}"
    );
}

/// Whether this test process ignores the signal numbered `number` (children inherit
/// that): a shell without job control starts background jobs with SIGINT ignored,
/// and uno-signal then rightly keeps it ignored.
fn ignored_here(number: u32) -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (number - 1)) != 0)
}

/// Sends `name` (signal `number`) to a `default_restored` child and checks that the
/// signal did what it did before uno listened: end the process, or nothing if the
/// process was started with it ignored. In that case a `SIGTERM` follows; Linux
/// delivers the lower-numbered pending signal first, so the status tells which one
/// ended the child.
fn assert_default_action_after_drop(name: &str, number: u32) {
    let program = start("default_restored", &[]);
    program.signal(name);
    let ignored = ignored_here(number);
    if ignored {
        program.signal("TERM");
    }
    let (status, output) = program.finish();

    let expected = if ignored { 15 } else { number };
    assert_eq!(
        status.signal(),
        Some(i32::try_from(expected).unwrap()),
        "status {status}, ignored here: {ignored}, output: {output:?}"
    );
}

#[test]
fn sigterm_after_the_shutdown_was_dropped_has_its_default_action_again() {
    assert_default_action_after_drop("TERM", 15);
}

#[test]
fn sigint_after_the_shutdown_was_dropped_has_its_default_action_again() {
    assert_default_action_after_drop("INT", 2);
}

#[test]
fn a_signal_ignored_at_start_stays_ignored_after_the_shutdown_was_dropped() {
    // `nohup` starts the example with SIGHUP ignored. If uno restored "end the
    // process" instead, SIGHUP (1) would end it before SIGTERM (15) is delivered.
    let child = Command::new("nohup")
        .arg(example("default_restored"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("nohup starts the example");
    let mut program = ChildProgram::watch(child, WATCHDOG);
    program.read_until("ready");
    program.signal("HUP");
    program.signal("TERM");
    let (status, output) = program.finish();

    assert_eq!(
        status.signal(),
        Some(15),
        "status {status}, output: {output:?}"
    );
}

/// Not a timing assertion: prints the latency from signal to token cancellation
/// (median of 20) for docs/signal.md, and checks that all 20 signals were seen.
#[test]
fn signal_to_cancellation_latency_is_measured() {
    // Inside the child: from `raise` to the token seen cancelled.
    let program = start_without_ready("signal_latency", &[]);
    let (status, output) = program.finish();
    assert_eq!(status.code(), Some(0), "output: {output:?}");
    let samples = output
        .iter()
        .filter(|line| line.starts_with("sample_us "))
        .count();
    assert_eq!(samples, 20, "output: {output:?}");
    let median = output
        .iter()
        .find_map(|line| line.strip_prefix("median_us "))
        .expect("the child prints the median")
        .to_owned();

    // From outside: from spawning `kill` to reading the child's "cancelled" line,
    // which adds starting the kill program and the pipe to the figure above.
    let rounds = 20;
    let mut program = start_without_ready("signal_latency", &["--external", "20"]);
    let mut round_trips = Vec::with_capacity(rounds);
    for round in 0..rounds {
        program.read_until(&format!("ready {round}"));
        let sent = Instant::now();
        program.signal("INT");
        program.read_until(&format!("cancelled {round}"));
        round_trips.push(sent.elapsed());
    }
    let (status, output) = program.finish();
    assert_eq!(status.code(), Some(0), "output: {output:?}");
    round_trips.sort_unstable();
    let round_trip = (round_trips[9] + round_trips[10]) / 2;

    eprintln!(
        "signal to token cancellation, median of 20: {median} us inside the process; \
         {} us from spawning kill to reading the child's output",
        round_trip.as_micros()
    );
}

/// The exit path (`Shutdown::run` waiting for drains), with real signals.
#[cfg(all(feature = "resource", feature = "batch"))]
mod exit_path {
    use super::{printed, start};

    #[test]
    fn sigint_while_a_dropped_batcher_drains_writes_every_item_before_exit() {
        let program = start("exit_path", &["batch"]);
        program.signal("INT");
        let (status, output) = program.finish();

        let written: Vec<&String> = output
            .iter()
            .filter(|line| line.starts_with("written: "))
            .collect();
        assert_eq!(written.len(), 35, "output: {output:?}");
        for item in 0..35 {
            assert!(
                printed(&output, &format!("written: {item}")),
                "item {item}: {output:?}"
            );
        }
        let report = output
            .iter()
            .position(|line| line.starts_with("report: "))
            .expect("a report");
        let last_write = output
            .iter()
            .rposition(|line| line.starts_with("written: "))
            .unwrap();
        assert!(
            last_write < report,
            "every item is written before the report: {output:?}"
        );
        assert!(
            printed(&output, "report: shut down after SIGINT: 0 finished"),
            "{output:?}"
        );
        assert_eq!(status.code(), Some(130), "output: {output:?}");
    }

    #[test]
    fn a_resource_dropped_in_a_task_is_cleaned_up_before_exit() {
        let program = start("exit_path", &["resource"]);
        program.signal("TERM");
        let (status, output) = program.finish();

        let done = output.iter().position(|line| line == "cleanup: done");
        let report = output.iter().position(|line| line.starts_with("report: "));
        assert!(
            matches!((done, report), (Some(done), Some(report)) if done < report),
            "{output:?}"
        );
        assert_eq!(status.code(), Some(143), "output: {output:?}");
    }

    #[test]
    fn a_cleanup_that_hangs_is_reported_and_the_exit_is_bounded_by_the_grace_period() {
        let program = start("exit_path", &["hang", "--signal-exit", "success"]);
        program.signal("INT");
        let (status, output) = program.finish();

        assert!(printed(&output, "cleanup: started"), "{output:?}");
        assert!(!printed(&output, "cleanup: done"), "{output:?}");
        assert!(
            output.iter().any(|line| line.starts_with("report: ")
                && line.contains("not drained within the grace period: resource cleanups (cleanup of exit_path::Connection)")),
            "{output:?}"
        );
        // Not clean, so not 0 even with `--signal-exit success`.
        assert_eq!(status.code(), Some(1), "output: {output:?}");
    }

    #[test]
    fn a_subsystem_that_panics_begins_the_shutdown_and_the_report_names_it() {
        let program = start("exit_path", &["panic"]);
        let (status, output) = program.finish();

        assert!(
            printed(
                &output,
                "report: shut down after the failure of \"indexer\": 1 finished, failed: indexer panicked: index corrupt"
            ),
            "{output:?}"
        );
        assert_eq!(status.code(), Some(1), "output: {output:?}");
    }

    #[test]
    fn a_clean_drain_after_a_signal_exits_zero_when_configured() {
        let program = start("exit_path", &["resource", "--signal-exit", "success"]);
        program.signal("INT");
        let (status, output) = program.finish();
        assert!(printed(&output, "exit: 0"), "{output:?}");
        assert_eq!(status.code(), Some(0), "output: {output:?}");
    }
}
