//! uno's developer tasks, in plain Rust so they run wherever cargo does.
//!
//! - `cargo xtask ci [--quick]`: every gate CI enforces, in order, stopping at the
//!   first failure. `--quick` keeps formatting, clippy and the tests for local loops.
//! - `cargo xtask bench [BENCH...]`: runs every criterion benchmark (or the named
//!   ones, e.g. `taskgroup`) and rewrites the tables in `docs/benchmarks.md` from all
//!   results criterion has kept.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod ci;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

const USAGE: &str = "usage: cargo xtask <ci [--quick] | bench [--no-run] [BENCH...]>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["ci"] => ci::run(ci::Mode::Full),
        ["ci", "--quick"] => ci::run(ci::Mode::Quick),
        ["bench", "--no-run"] => bench::run(bench::Mode::CompileOnly, &[]),
        ["bench", names @ ..] if names.iter().all(|name| !name.starts_with('-')) => {
            bench::run(bench::Mode::Measure, names)
        }
        _ => Err(format!("unknown arguments {args:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's directory).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// A command run from the workspace root with cargo's own binary.
fn cargo(args: &[&str]) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(args).current_dir(root());
    command
}

/// Runs one named step, printing a header before and its time after.
fn step(name: &str, mut command: Command) -> Result<(), String> {
    println!("\n==> {name}");
    println!("    $ {}", describe(&command));
    let started = Instant::now();
    let status = command.status().map_err(|err| {
        format!(
            "step `{name}` could not start {}: {err}",
            describe(&command)
        )
    })?;
    let elapsed = started.elapsed();
    if status.success() {
        println!("<== {name}: ok in {:.1}s", elapsed.as_secs_f64());
        Ok(())
    } else {
        Err(format!(
            "step `{name}` failed after {:.1}s ({status}); fix it and run `cargo xtask ci` again",
            elapsed.as_secs_f64()
        ))
    }
}

fn describe(command: &Command) -> String {
    let mut text: Vec<String> = command
        .get_envs()
        .filter_map(|(key, value)| Some(format!("{}={}", key.to_str()?, value?.to_str()?)))
        .collect();
    text.push(command.get_program().to_string_lossy().into_owned());
    text.extend(
        command
            .get_args()
            .map(|arg| arg.to_string_lossy().into_owned()),
    );
    text.join(" ")
}

/// Whether `program --version` runs.
fn has_program(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
