//! A service that shuts down gracefully on Ctrl-C or `SIGTERM`, and gets out at once
//! on a second one.
//!
//! ```text
//! cargo run -p uno-signal --example shutdown_demo -- --cleanup-ms 3000
//! ```
//!
//! Press Ctrl-C once: the worker cleans up for three seconds and the program exits
//! with code 0. Press it twice: the program exits at once with code 130.
//!
//! Options (the behaviour tests use them):
//!
//! - `--cleanup-ms N`: how long the worker's cleanup takes (default 500).
//! - `--blocking-cleanup`: clean up by blocking the runtime's only thread, to show
//!   that a second signal still ends the process.
//! - `--signals int` or `--signals int,term` (default): the signals to install.
//! - `--grace-ms N`: the grace period (default 10000).
//! - `--force-exit never`: ignore signals during the shutdown.
//!
//! It prints `ready pid=<pid>` once it listens, `worker: cleaning up` when the
//! shutdown begins, `worker: cleanup done` when its cleanup ends, and the report.
//! It exits with 0 when all work finished, 1 otherwise.
#![allow(
    clippy::disallowed_methods,
    reason = "the example plays a standalone program"
)]

use std::process::ExitCode;
use std::time::Duration;

use uno_signal::{ForceExit, Shutdown, Signal};

#[derive(Debug)]
struct Options {
    cleanup: Duration,
    blocking_cleanup: bool,
    signals: Vec<Signal>,
    grace_period: Duration,
    force_exit: ForceExit,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        cleanup: Duration::from_millis(500),
        blocking_cleanup: false,
        signals: vec![Signal::Interrupt, Signal::Terminate],
        grace_period: Duration::from_secs(10),
        force_exit: ForceExit::Conventional,
    };
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        let mut value = || arguments.next().ok_or(format!("{argument} needs a value"));
        match argument.as_str() {
            "--cleanup-ms" => options.cleanup = parse_millis(&value()?)?,
            "--blocking-cleanup" => options.blocking_cleanup = true,
            "--grace-ms" => options.grace_period = parse_millis(&value()?)?,
            "--signals" => {
                options.signals = value()?
                    .split(',')
                    .map(|name| match name {
                        "int" => Ok(Signal::Interrupt),
                        "term" => Ok(Signal::Terminate),
                        other => Err(format!("unknown signal {other:?}; use int or term")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--force-exit" => {
                options.force_exit = match value()?.as_str() {
                    "never" => ForceExit::Never,
                    "conventional" => ForceExit::Conventional,
                    other => return Err(format!("unknown --force-exit {other:?}")),
                };
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(options)
}

fn parse_millis(text: &str) -> Result<Duration, String> {
    text.parse()
        .map(Duration::from_millis)
        .map_err(|error| format!("{text:?} is not a number of milliseconds: {error}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("shutdown_demo: {message}");
            return ExitCode::from(2);
        }
    };
    let shutdown = match Shutdown::builder()
        .signals(options.signals)
        .grace_period(options.grace_period)
        .force_exit(options.force_exit)
        .install()
    {
        Ok(shutdown) => shutdown,
        Err(error) => {
            eprintln!("shutdown_demo: {error}");
            return ExitCode::from(2);
        }
    };

    let token = shutdown.token();
    let (cleanup, blocking) = (options.cleanup, options.blocking_cleanup);
    let spawned = shutdown.spawn("worker", async move {
        token.cancelled().await;
        println!("worker: cleaning up");
        if blocking {
            // Deliberately wrong: blocks the only runtime thread, as a stuck
            // synchronous call would.
            std::thread::sleep(cleanup);
        } else {
            tokio::time::sleep(cleanup).await;
        }
        println!("worker: cleanup done");
    });
    if let Err(error) = spawned {
        eprintln!("shutdown_demo: {error}");
        return ExitCode::from(2);
    }

    println!("ready pid={}", std::process::id());
    let report = shutdown.run().await;
    println!("report: {report}");
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
