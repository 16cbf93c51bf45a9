//! `#[uno::main]` exits through its `ShutdownReport`: real child processes running
//! `examples/main_exit.rs`.
#![cfg(all(feature = "macros", feature = "signal"))]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The example, built with cargo once per test process if the test run did not
/// build it (`cargo test` and `cargo nextest run` usually do).
fn example() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let test_binary = std::env::current_exe().expect("the test binary has a path");
            let profile_dir = test_binary
                .parent()
                .and_then(Path::parent)
                .expect("the test binary lives in <target>/<profile>/deps");
            let path = profile_dir.join("examples").join("main_exit");
            if !path.exists() {
                let target_dir = profile_dir.parent().expect("profile dir has a parent");
                let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                let status = Command::new(cargo)
                    .args(["build", "--quiet", "-p", "uno", "--example", "main_exit"])
                    .env("CARGO_TARGET_DIR", target_dir)
                    .status()
                    .expect("cargo runs");
                assert!(status.success(), "building the example failed: {status}");
            }
            path
        })
        .clone()
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
