//! A circuit breaker for tokio: stop calling a dependency while it is down, and try it
//! again after a while.
//!
//! A [`CircuitBreaker`] wraps calls to one dependency. Closed, it runs them and counts
//! failures; when too many fail ([`consecutive_failures`] or a [`failure_rate`] over a
//! sliding window) it opens and rejects calls at once, without running them, with
//! [`BreakerError::Open`] and how long to wait. After the open duration (fixed, or
//! growing while the dependency stays down) it is half-open: a bounded number of probe
//! calls run, and their outcome closes it or opens it again.
//!
//! ```
//! use std::time::Duration;
//! use uno_breaker::{BreakerError, CircuitBreaker, State};
//!
//! async fn fetch_price(up: bool) -> Result<u32, std::io::Error> {
//!     match up {
//!         true => Ok(42),
//!         false => Err(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
//!     }
//! }
//!
//! #[tokio::main(flavor = "current_thread", start_paused = true)]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let breaker = CircuitBreaker::builder()
//!         .consecutive_failures(3)
//!         .open_for(Duration::from_secs(30))
//!         .on_state_change(|from, to| println!("price service: {from:?} -> {to:?}"))
//!         .build()?;
//!
//!     // Three failures in a row open the breaker.
//!     for _ in 0..3 {
//!         assert!(matches!(breaker.call(fetch_price(false)).await, Err(BreakerError::Inner(_))));
//!     }
//!     assert_eq!(breaker.state(), State::Open);
//!
//!     // While open, calls are rejected without running.
//!     let rejected = breaker.call(fetch_price(true)).await;
//!     assert!(matches!(rejected, Err(BreakerError::Open { retry_after }) if retry_after == Duration::from_secs(30)));
//!
//!     // After 30 s one probe runs; its success closes the breaker.
//!     tokio::time::sleep(Duration::from_secs(30)).await;
//!     assert_eq!(breaker.state(), State::HalfOpen);
//!     assert_eq!(breaker.call(fetch_price(true)).await?, 42);
//!     assert_eq!(breaker.state(), State::Closed);
//!     Ok(())
//! }
//! ```
//!
//! # Semantics in short
//!
//! - Failures: an `Err` that [`record_if`] accepts (every `Err` by default) and a panic,
//!   which is then resumed in the caller. Other errors count as successes. A call whose
//!   future is dropped counts as nothing.
//! - Trip rules: [`consecutive_failures(n)`][`consecutive_failures`] (the default, with
//!   5), [`failure_rate(ratio, min_calls, window)`][`failure_rate`], or both (whichever
//!   holds first). Counts restart on every change of state.
//! - Open: for [`open_for`] (30 s by default) or a duration that grows on every
//!   failed probe ([`open_for_growing`]). Durations too long for the clock mean forever.
//! - Half-open: at most [`half_open_calls`] probes at once (1 by default); that many
//!   successes close the breaker, one failure opens it again. Others get
//!   [`BreakerError::HalfOpenBusy`]. A cancelled probe gives its slot back.
//! - Outcomes of calls admitted before a change of state are ignored.
//! - [`on_state_change`] runs after each change, outside the breaker's lock.
//! - The closed path takes a short, uncontended lock twice per call and allocates
//!   nothing.
//!
//! # Composing
//!
//! - With uno-retry, retry *outside* the breaker, so every attempt asks the breaker,
//!   and do not retry rejections: `retry_if(|err: &BreakerError<E>| !err.is_rejected())`.
//!   To wait out an open breaker instead, retry rejections and use
//!   `delay_hint(BreakerError::retry_after)`.
//! - With uno-limit, put the limiter *outside* the breaker:
//!   `limiter.run(breaker.call(op()))`. The breaker then judges the dependency alone:
//!   a full limiter's rejections and time spent queueing are never counted as the
//!   dependency's failures, and a half-open probe takes its slot only once it can run,
//!   so no probe slot is held by a caller stuck in the queue.
//!
//! See `docs/breaker.md` for the design notes.
//!
//! # Features
//!
//! - `tracing`: a `debug` event on every change of state.
//! - `tower`: [`tower::BreakerLayer`], a tower middleware that puts a breaker in front
//!   of a service and fails fast while it is open.
//! - `metrics`: on the [`metrics`](https://docs.rs/metrics) facade, labelled with the
//!   breaker's [`name`](CircuitBreakerBuilder::name) (`unnamed` without one):
//!
//!   | name | kind | labels | what |
//!   | --- | --- | --- | --- |
//!   | `uno_breaker_state` | gauge | `breaker` | 0 closed, 1 open, 2 half-open |
//!   | `uno_breaker_transitions_total` | counter | `breaker`, `from`, `to` | changes of state (`closed`, `open`, `half_open`) |
//!   | `uno_breaker_rejected_total` | counter | `breaker`, `state` | calls refused without running (`open`, or `half_open` with every probe slot taken) |
//!   | `uno_breaker_calls_total` | counter | `breaker`, `outcome` | admitted calls that finished: `success` or `failure` (cancelled calls count as neither) |
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
//!
//! [`consecutive_failures`]: CircuitBreakerBuilder::consecutive_failures
//! [`failure_rate`]: CircuitBreakerBuilder::failure_rate
//! [`open_for`]: CircuitBreakerBuilder::open_for
//! [`open_for_growing`]: CircuitBreakerBuilder::open_for_growing
//! [`half_open_calls`]: CircuitBreakerBuilder::half_open_calls
//! [`record_if`]: CircuitBreakerBuilder::record_if
//! [`on_state_change`]: CircuitBreakerBuilder::on_state_change
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod breaker;
mod builder;
mod error;
mod metrics;
mod state;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
mod window;

pub use crate::breaker::CircuitBreaker;
pub use crate::builder::CircuitBreakerBuilder;
pub use crate::error::{BreakerError, BuildError};
pub use crate::state::State;

/// Emits a `tracing` debug event when the `tracing` feature is on; nothing otherwise.
macro_rules! trace {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        ::tracing::debug!($($arg)*);
    };
}
pub(crate) use trace;

/// Compiles and runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
