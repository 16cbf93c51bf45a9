//! Concurrency and rate limits for tokio: fixed, per key, adaptive, and by rate.
//!
//! A [`Limiter`] bounds how much work runs at once (the seed's
//! `@concurrent_limited(max_concurrent=5)`), fairly and cancel-safely, with a choice of
//! waiting, waiting up to a timeout or rejecting at once when full ([`FullPolicy`]).
//! [`KeyedLimiter`] gives each key (a tenant, a host) its own limit and forgets idle
//! keys, and [`AdaptiveLimiter`] moves the limit with observed latency and errors
//! ([`Aimd`], [`Gradient2`]), as Netflix's concurrency-limits does.
//! [`LimitStreamExt`] processes a stream with at most `n` items in flight.
//! [`RateLimiter`] and [`KeyedRateLimiter`] bound how often work starts (GCRA), and
//! [`Limiter::builder`]`.rate(..)` combines a concurrency cap with a rate.
//!
//! ```
//! use std::time::Duration;
//! use uno_limit::{LimitError, Limiter};
//!
//! // Python: @concurrent_limited(max_concurrent=5)
//! //         async def process_item(item): ...
//! async fn process_item(item: u32) -> u32 {
//!     tokio::time::sleep(Duration::from_millis(100)).await;
//!     item * 2
//! }
//!
//! #[tokio::main(flavor = "current_thread", start_paused = true)]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let limiter = Limiter::new(5)?;
//!     let process_item = limiter.wrap(process_item);
//!
//!     // Python: await asyncio.gather(*(process_item(i) for i in range(20)))
//!     let started = tokio::time::Instant::now();
//!     let results = futures_util::future::join_all((0..20).map(|item| process_item(item))).await;
//!     let results: Vec<u32> = results.into_iter().collect::<Result<_, _>>()?;
//!
//!     assert_eq!(results[7], 14);
//!     // At most 5 at a time: 20 items of 100 ms take 400 ms, not 100 ms.
//!     assert_eq!(started.elapsed(), Duration::from_millis(400));
//!     Ok(())
//! }
//! ```
//!
//! # Choosing a limiter
//!
//! | need | use |
//! | --- | --- |
//! | at most `n` at once, wait when full | [`Limiter::new`] |
//! | fail fast when full (bulkhead), or wait at most `d` | [`Limiter::builder`] with [`FullPolicy`] |
//! | a limit per tenant, host or user | [`KeyedLimiter`] |
//! | a limit that finds the backend's capacity by itself | [`AdaptiveLimiter`] |
//! | map a stream with at most `n` in flight | [`LimitStreamExt`] |
//! | at most `count` calls per `period` (a quota) | [`RateLimiter`] |
//! | a quota per client, key or token | [`KeyedRateLimiter`] |
//! | a cap on concurrency *and* a rate | [`LimiterBuilder::rate`] |
//! | one limit shared by every replica of a service | `postgres::PgLimiter` (feature `postgres`) |
//!
//! # Features
//!
//! - `tracing`: emits `tracing` events when a limiter rejects, times out, closes or
//!   changes its adaptive limit.
//! - `quanta`: [`RateClock::Quanta`], a faster clock for rate limits (the one
//!   `governor` uses) that does not follow tokio's paused time.
//! - `tower`: [`tower::LimitLayer`], a tower middleware that puts any of these
//!   limiters in front of a service, with back-pressure through `poll_ready`.
//! - `postgres`: `postgres::PgLimiter`, a concurrency limit shared by every process
//!   that uses the same PostgreSQL database and name (advisory locks; see
//!   `docs/limit.md`, "Limits across processes").
//! - `metrics`: for [`Limiter`] and [`AdaptiveLimiter`], on the
//!   [`metrics`](https://docs.rs/metrics) facade, labelled with the limiter's name
//!   ([`LimiterBuilder::name`], [`AdaptiveLimiter::named`]; `unnamed` without one).
//!   Gauges are set from the limiter's own counts at each change, so they never drift.
//!   `KeyedLimiter` and `RateLimiter` report nothing yet.
//!
//!   | name | kind | labels | what |
//!   | --- | --- | --- | --- |
//!   | `uno_limit_in_flight` | gauge | `limiter` | permits held now |
//!   | `uno_limit_waiting` | gauge | `limiter` | callers waiting for a permit now |
//!   | `uno_limit_limit` | gauge | `limiter` | the limit (an adaptive limiter's as it moves; from `named` or the first change) |
//!   | `uno_limit_acquired_total` | counter | `limiter` | callers admitted |
//!   | `uno_limit_rejected_total` | counter | `limiter`, `reason` | callers refused: `full`, `timeout`, `deadline`, `limited`, `closed` |
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod adaptive;
mod error;
mod future;
mod keyed;
mod limiter;
mod metrics;
mod policy;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
mod rate;
mod stream;
mod sync;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

pub use crate::adaptive::{
    AdaptiveLimiter, AdaptivePermit, Aimd, AimdBuilder, Gradient2, Gradient2Builder,
    LimitAlgorithm, Outcome, Sample,
};
pub use crate::error::{BuildError, LimitError};
pub use crate::future::Limited;
pub use crate::keyed::{KeyedLimiter, KeyedPermit};
pub use crate::limiter::{Limiter, LimiterBuilder, Permit};
pub use crate::policy::FullPolicy;
pub use crate::rate::{KeyedRateLimiter, RateClock, RateLimiter, RateLimiterBuilder};
pub use crate::stream::{LimitStreamExt, MapLimited, MapLimitedUnordered};

/// Emits a `tracing` debug event when the `tracing` feature is on; nothing otherwise.
macro_rules! trace {
    ($($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        ::tracing::debug!($($arg)*);
    };
}
pub(crate) use trace;
