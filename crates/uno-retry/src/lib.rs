//! Retry with backoff and jitter that is exact, observable and deterministic in tests.
//!
//! A [`RetryPolicy`] says how often to try (`max_attempts` counts every call, the first
//! included), how long to wait between attempts (constant, linear, exponential,
//! fibonacci or decorrelated-jitter backoff, capped by `max_delay`), what to retry
//! (error and result predicates) and when to give up (`max_elapsed`, a shared
//! [`RetryBudget`]). Delays follow tokio's clock, so tests with `tokio::time::pause`
//! see exact sequences, and jitter draws from a seedable RNG.
//!
//! # Examples
//!
//! The seed's `@retry(max_attempts=3, retry_exceptions=[ConnectionError, TimeoutError],
//! backoff_strategy=BackoffStrategy.EXPONENTIAL, max_delay=10.0)` on `fetch_data`:
//!
//! ```
//! use std::io::{Error, ErrorKind};
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::time::Duration;
//! use uno_retry::{BackoffStrategy, RetryExt, RetryPolicy};
//!
//! /// A flaky server: refuses the first connection, times out on the second.
//! struct Server {
//!     calls: AtomicU32,
//! }
//!
//! async fn fetch_data(server: &Server, url: &str) -> Result<String, Error> {
//!     match server.calls.fetch_add(1, Ordering::Relaxed) {
//!         0 => Err(Error::from(ErrorKind::ConnectionRefused)),
//!         1 => Err(Error::from(ErrorKind::TimedOut)),
//!         _ => Ok(format!("data from {url}")),
//!     }
//! }
//!
//! #[tokio::main(flavor = "current_thread", start_paused = true)]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let policy = RetryPolicy::builder(BackoffStrategy::Exponential, Duration::from_secs(1))
//!         .max_attempts(3)
//!         .max_delay(Duration::from_secs(10))
//!         .retry_if(|err: &Error| {
//!             matches!(err.kind(), ErrorKind::ConnectionRefused | ErrorKind::TimedOut)
//!         })
//!         .build()?;
//!
//!     let started = tokio::time::Instant::now();
//!     let server = Server { calls: AtomicU32::new(0) };
//!     // Each attempt calls `fetch_data` afresh; the closure borrows `server`.
//!     let data = (|| fetch_data(&server, "https://example.com")).retry(&policy).await?;
//!
//!     assert_eq!(data, "data from https://example.com");
//!     assert_eq!(started.elapsed(), Duration::from_secs(1 + 2)); // two waits: 1 s, 2 s
//!     Ok(())
//! }
//! ```
//!
//! # Semantics in short
//!
//! - Delays: the strategy's delay is capped by `max_delay`, then [`Jitter`] is applied,
//!   then capped again, so no delay exceeds `max_delay`. Arithmetic saturates.
//! - Errors are retried when [`retry_if`](RetryPolicyBuilder::retry_if) accepts them
//!   (every error by default); others return at once. `Ok` values can be retried with
//!   [`Retry::retry_if_ok`]. [`delay_hint`](RetryPolicyBuilder::delay_hint) lets an
//!   error pick the next delay (`Retry-After`).
//! - A run gives up, returning the last outcome, when attempts are used up, when the
//!   next sleep would pass `max_elapsed` or the caller's deadline (`uno_deadline`), or
//!   when the [`RetryBudget`] is spent. The deadline also caps `attempt_timeout`.
//! - Dropping a run stops it; no attempt starts after that.
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
//!
//! # Features
//!
//! - `tracing`: a `debug` event for every retry and for giving up.
//! - `backoff`: [`Delays`] implements `backoff::backoff::Backoff`. That crate is
//!   unmaintained (RUSTSEC-2025-0012), so the feature is off by default.
//! - `tower`: [`tower::RetryLayer`], a tower middleware that retries a service's
//!   requests under a policy (requests must be `Clone`), and [`tower::retry_after`],
//!   which reads an HTTP response's `Retry-After`.
//! - `metrics`: counters on the [`metrics`](https://docs.rs/metrics) facade, labelled
//!   with the policy's [`name`](RetryPolicyBuilder::name) (`unnamed` without one):
//!
//!   | name | labels | counts |
//!   | --- | --- | --- |
//!   | `uno_retry_attempts_total` | `policy` | calls of the operation, the first included |
//!   | `uno_retry_retries_total` | `policy` | retries scheduled |
//!   | `uno_retry_give_ups_total` | `policy`, `reason` | runs that stopped on an outcome worth retrying (`reason`: `max_attempts`, `max_elapsed`, `deadline`, `budget`) or on an error `retry_if` refused (`not_retryable`) |
#![cfg_attr(docsrs, feature(doc_cfg))]

mod budget;
mod builder;
mod delays;
mod error;
mod future;
mod metrics;
mod policy;
mod strategy;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

pub use budget::RetryBudget;
pub use builder::{RetryPolicyBuilder, UNLIMITED_MAX_DELAY};
pub use delays::Delays;
pub use error::Error;
pub use future::{NoValuePredicate, Retry, RetryExt, ValuePredicate};
pub use policy::RetryPolicy;
pub use strategy::{BackoffStrategy, Jitter};

/// Compiles and runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
