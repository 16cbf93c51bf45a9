//! `#[uno::main]` exits through its `ShutdownReport`: real child processes running
//! `examples/main_exit.rs`.
#![cfg(all(feature = "macros", feature = "signal"))]

use std::path::PathBuf;
use std::process::{Command, Output};

use uno_testkit::ExampleSet;

/// The example, built if the test run did not build it (see
/// `uno_testkit::ExampleSet`).
fn example() -> PathBuf {
    ExampleSet {
        package: "uno",
        manifest_dir: env!("CARGO_MANIFEST_DIR"),
        source_dirs: &["src", "examples"],
        examples: &["main_exit"],
        features: &[],
    }
    .path("main_exit")
}

fn run(mode: &str) -> Output {
    Command::new(example())
        .arg(mode)
        .output()
        .expect("the example runs")
}

#[test]
fn a_main_that_returns_ok_exits_with_zero() {
    let output = run("ok");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

#[test]
fn a_main_that_returns_an_error_prints_it_and_exits_with_a_failure_code() {
    let output = run("fail");
    let code = output.status.code().expect("exited, not killed");
    assert!(code >= 1, "exit code {code}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the configuration file is missing"),
        "{stderr}"
    );
}

#[test]
fn failing_spawned_work_makes_the_exit_code_a_failure() {
    let output = run("failing-work");
    let code = output.status.code().expect("exited, not killed");
    assert!(code >= 1, "exit code {code}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the worker broke"), "{stderr}");
}
