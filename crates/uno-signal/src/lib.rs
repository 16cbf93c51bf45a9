//! Signal handlers and graceful shutdown that a second Ctrl-C can always cut short.
//!
//! [`on_signal`] runs an async handler each time a signal arrives (Python uno's
//! `setup_signal_handler`). [`Shutdown`] turns the first `SIGINT` or `SIGTERM` into a
//! cancellation that running work can watch, gives that work a grace period, reports
//! what did not finish, and lets a second signal force the process out with the
//! conventional exit code (130 after Ctrl-C, 143 after `SIGTERM`).
//!
//! ```
//! use std::time::Duration;
//! use uno_signal::{Shutdown, Signal};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), uno_signal::SignalError> {
//!     let shutdown = Shutdown::builder()
//!         .signals([Signal::Interrupt, Signal::Terminate])
//!         .grace_period(Duration::from_secs(10))
//!         .install()?;
//!
//!     let token = shutdown.token();
//!     shutdown.spawn("server", async move {
//!         token.cancelled().await; // serve until asked to stop
//!         // ... drain connections ...
//!     })?;
//!
//!     # shutdown.trigger(); // stands in for Ctrl-C in this example
//!     let report = shutdown.run().await;
//!     if !report.is_clean() {
//!         eprintln!("{report}"); // names the work that failed or was aborted
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # Platforms
//!
//! On Unix, signals come through `signal-hook-tokio`, and every [`Signal`] is
//! available. Elsewhere (Windows), only [`Signal::Interrupt`] is, through tokio's
//! Ctrl-C listener. Listening needs a tokio runtime with I/O enabled; both the
//! current-thread and the multi-thread runtime work.
//!
//! # Process-global state
//!
//! Signal dispositions belong to the process. See [`Shutdown`] for what uno-signal
//! does about that (it gives signals back their default action when its last
//! listener goes away) and what stays per `Shutdown` (everything else).
//!
//! # Features
//!
//! - `tracing`: logs the shutdown's start, failed work and handler runs, aborted work
//!   and signals during shutdown.
//! - `metrics`: what each exit through [`Shutdown::run`] took, on the
//!   [`metrics`](https://docs.rs/metrics) facade (phases are timed only for an exit
//!   that began with a shutdown):
//!
//!   | name | kind | labels | what |
//!   | --- | --- | --- | --- |
//!   | `uno_shutdown_phase_seconds` | histogram | `phase` | how long each phase of an exit took: `work` (from the shutdown's start until the registered work finished or was aborted), then `drains` (until batchers and cleanups finished or the grace period ran out) |
//!   | `uno_shutdown_aborted_total` | counter | | tasks aborted when the grace period ran out |
//!   | `uno_shutdown_unfinished_drains_total` | counter | | drains still unfinished when the grace period ran out |
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod builder;
mod drain;
mod error;
mod handler;
mod metrics;
mod platform;
mod report;
mod shutdown;
mod signal;

pub use builder::{DEFAULT_GRACE_PERIOD, ForceExit, ShutdownBuilder, SignalExit};
pub use drain::{Drain, UnfinishedDrain};
pub use error::{BoxError, Failure, Outcome, SignalError};
pub use handler::{SignalHandle, on_signal};
pub use report::{ShutdownReason, ShutdownReport};
pub use shutdown::{OnFailure, Shutdown};
pub use signal::Signal;
pub use tokio_util::sync::CancellationToken;
