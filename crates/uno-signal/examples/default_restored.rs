//! Once the last listener is gone, a signal does what it did before: here `SIGINT`,
//! `SIGTERM` and `SIGHUP` end the process again, where a dropped tokio listener would
//! have swallowed them. A signal the process was started with ignored (`nohup`
//! ignores `SIGHUP`) stays ignored.
//!
//! ```text
//! cargo run -p uno-signal --example default_restored
//! ```
//!
//! It installs a `Shutdown`, drops it, prints `ready pid=<pid>` and waits a minute;
//! Ctrl-C ends it at once, as if nothing had ever listened.

use std::time::Duration;

use uno_signal::{Shutdown, Signal};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), uno_signal::SignalError> {
    let shutdown = Shutdown::install([Signal::Interrupt, Signal::Terminate, Signal::Hangup])?;
    drop(shutdown);

    println!("ready pid={}", std::process::id());
    tokio::time::sleep(Duration::from_secs(60)).await;
    println!("still running after a minute: no signal arrived");
    Ok(())
}
