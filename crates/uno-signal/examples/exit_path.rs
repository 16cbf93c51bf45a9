//! The one exit path of a service: `Shutdown::run` waits for the work, then for the
//! background cleanups and the dropped batchers' last items, within one grace period,
//! and `main` exits with the report's code.
//!
//! ```text
//! cargo run -p uno-signal --features resource,batch --example exit_path -- batch
//! ```
//!
//! Modes (the child-process tests use them):
//!
//! - `batch`: 35 items are queued in a batcher whose operation writes 5 items per
//!   500 ms, and the last batcher handle is dropped. A signal arrives while it drains;
//!   every item is still written before the process exits.
//! - `resource`: a task holds a resource whose cleanup takes 300 ms and drops it (no
//!   `close`) when the shutdown begins; the cleanup finishes before the exit.
//! - `hang`: the same, with a cleanup that never ends: it is reported, and the exit
//!   comes when the 500 ms grace period ends.
//! - `panic`: a subsystem panics; that begins the shutdown, and the report names it.
//!
//! Options: `--signal-exit success` exits 0 after a clean drain that a signal began.
//! It prints `ready` once it listens, then what it does, then `report: ..` and
//! `exit: <code>`, and exits with that code.
#![allow(
    clippy::disallowed_methods,
    reason = "the example plays a standalone program"
)]

use std::convert::Infallible;
use std::time::Duration;

use uno_batch::AsyncBatcher;
use uno_resource::{AsyncResource, Managed};
use uno_signal::{Shutdown, Signal, SignalExit};

/// A resource whose cleanup takes `cleanup` (forever when `None`).
struct Connection {
    cleanup: Option<Duration>,
}

impl AsyncResource for Connection {
    type Error = Infallible;

    async fn initialize(&mut self) -> Result<(), Infallible> {
        Ok(())
    }

    async fn cleanup(&mut self) -> Result<(), Infallible> {
        println!("cleanup: started");
        match self.cleanup {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
        println!("cleanup: done");
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let mut arguments = std::env::args().skip(1);
    let mode = arguments.next().unwrap_or_else(|| "batch".to_owned());
    let mut signal_exit = SignalExit::Conventional;
    while let Some(argument) = arguments.next() {
        match (argument.as_str(), arguments.next().as_deref()) {
            ("--signal-exit", Some("success")) => signal_exit = SignalExit::Success,
            other => panic!("unknown option {other:?}"),
        }
    }
    let grace_period = match mode.as_str() {
        "hang" => Duration::from_millis(500),
        _ => Duration::from_secs(20),
    };
    let shutdown = Shutdown::builder()
        .signals([Signal::Interrupt, Signal::Terminate])
        .grace_period(grace_period)
        .signal_exit(signal_exit)
        .install()
        .expect("signals can be installed");

    match mode.as_str() {
        "batch" => queue_items_and_drop_the_batcher().await,
        "resource" | "hang" => {
            let cleanup = (mode == "resource").then(|| Duration::from_millis(300));
            let token = shutdown.token();
            shutdown
                .spawn("connection user", async move {
                    let connection = Managed::open(Connection { cleanup }).await.expect("opens");
                    token.cancelled().await;
                    drop(connection); // no close: the cleanup runs in the background
                })
                .expect("spawns");
        }
        "panic" => {
            let token = shutdown.token();
            shutdown
                .spawn("server", async move { token.cancelled().await })
                .expect("spawns");
            shutdown
                .spawn("indexer", async {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if true {
                        panic!("index corrupt");
                    }
                })
                .expect("spawns");
        }
        other => panic!("unknown mode {other:?}"),
    }

    println!("ready");
    let report = shutdown.run().await;
    println!("report: {report}");
    let code = report.exit_code();
    println!("exit: {code}");
    std::process::exit(code);
}

/// Queues 35 items in a batcher that writes 5 items per 500 ms (3.5 s in all, so a
/// signal sent after `ready` lands while it drains, even on a loaded machine), keeps their callers
/// waiting in tasks, and drops the last handle: the batcher drains in the background.
async fn queue_items_and_drop_the_batcher() {
    let batcher = AsyncBatcher::builder(|items: Vec<u32>| async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        for item in &items {
            println!("written: {item}");
        }
        Ok::<_, Infallible>(items)
    })
    .name("orders")
    .max_batch_size(5)
    .max_concurrent_batches(1)
    .max_wait_time(Duration::from_secs(3600))
    .build()
    .expect("a valid batcher");
    for item in 0..35 {
        let ticket = batcher.try_add(item).expect("room in the queue");
        tokio::spawn(async move {
            let _ = ticket.await;
        });
    }
    drop(batcher);
}
