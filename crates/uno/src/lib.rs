//! Small, composable async patterns on tokio.
//!
//! uno gathers the patterns Rust services keep re-writing around tokio — task groups,
//! async resources with guaranteed cleanup, database transactions, retry with backoff,
//! micro-batching, concurrency limits and graceful shutdown — and makes them correct
//! under cancellation and panics. Each pattern is its own crate; this umbrella crate
//! re-exports them as modules behind feature flags, so a project compiles only the
//! patterns it uses.
//!
//! # Features
//!
//! | feature     | module            | crate           | default |
//! |-------------|-------------------|-----------------|---------|
//! | `taskgroup` | [`taskgroup`]     | `uno-taskgroup` | yes     |
//! | `resource`  | [`resource`]      | `uno-resource`  | yes     |
//! | `retry`     | [`retry`](mod@retry) | `uno-retry`     | yes     |
//! | `batch`     | [`batch`]         | `uno-batch`     | yes     |
//! | `limit`     | [`limit`]         | `uno-limit`     | yes     |
//! | `signal`    | [`signal`]        | `uno-signal`    | yes     |
//! | `breaker`   | [`breaker`]       | `uno-breaker`   | yes     |
//! | `deadline`  | [`deadline`]      | `uno-deadline`  | yes     |
//! | `macros`    | [`macro@retry`], [`concurrent_limited`], [`limited`], [`main`] | `uno-macros` (turns on `retry` and `limit`) | yes |
//! | `tx`        | `tx`              | `uno-tx`        | no      |
//! | `sqlite`, `postgres`, `mysql` | `tx` | `uno-tx` backends | no |
//! | `tx-retry`  | —                 | retry of serialization failures in `uno-tx` | no |
//! | `limit-postgres` | `limit::postgres` | `PgLimiter`, a limit shared by every process, in `uno-limit` (brings in sqlx) | no |
//! | `tracing`   | —                 | `tracing` spans and events in every enabled pattern | no |
//! | `full`      | everything above  |                 | no      |
//!
//! `tx` is not a default feature because it brings in sqlx and a database driver,
//! which is most of a cold build; a project that only wants retry never compiles it.
//! `tx` alone gives the backend-generic API; `sqlite`, `postgres` and `mysql` each turn
//! `tx` on together with that backend.
//!
//! # One example per pattern
//!
//! Each example runs as a doctest when its feature is on (`cargo test -p uno --doc
//! --all-features`). The patterns guide, `docs/guide.md`, goes further.
//!
#![doc = include_str!("doc/taskgroup.md")]
//!
#![doc = include_str!("doc/resource.md")]
//!
#![doc = include_str!("doc/tx.md")]
//!
#![doc = include_str!("doc/retry.md")]
//!
#![doc = include_str!("doc/batch.md")]
//!
#![doc = include_str!("doc/limit.md")]
//!
#![doc = include_str!("doc/signal.md")]
//!
#![doc = include_str!("doc/breaker.md")]
//!
#![doc = include_str!("doc/deadline.md")]
//!
#![cfg_attr(docsrs, feature(doc_cfg))]
// Every example here and in docs/guide.md must compile without a warning: users copy
// them into code built with `-D warnings`.
#![doc(test(attr(deny(warnings))))]

#[cfg(feature = "batch")]
pub mod batch {
    //! Micro-batching: `AsyncBatcher` gathers items from many callers into one batch call and gives each caller its own result.
    //!
    //! Everything here is the `uno-batch` crate, re-exported, so that paths (and
    //! compiler messages) read `uno::batch::...`. The examples on the items below
    //! come from that crate and write `uno_batch::...`; with the umbrella, write
    //! `uno::batch::...` instead. The crate's own page, with its guide-style
    //! introduction, is <https://docs.rs/uno-batch>; `docs/guide.md` covers every pattern.
    #![doc = ""]
    #![doc = include_str!("doc/batch.md")]
    #[doc(inline)]
    pub use uno_batch::*;
}
#[cfg(feature = "breaker")]
pub mod breaker {
    //! A circuit breaker: `CircuitBreaker` stops calling a dependency while it is down and probes it again after a while.
    //!
    //! Everything here is the `uno-breaker` crate, re-exported, so that paths (and
    //! compiler messages) read `uno::breaker::...`. The examples on the items below
    //! come from that crate and write `uno_breaker::...`; with the umbrella, write
    //! `uno::breaker::...` instead. The crate's own page, with its guide-style
    //! introduction, is <https://docs.rs/uno-breaker>; `docs/guide.md` covers every pattern.
    #![doc = ""]
    #![doc = include_str!("doc/breaker.md")]
    #[doc(inline)]
    pub use uno_breaker::*;
}
#[cfg(feature = "deadline")]
pub mod deadline {
    //! Deadlines that flow through a whole call tree: `within`, `at`, `inherit`, `current`, `remaining`.
    //!
    //! Everything here is the `uno-deadline` crate, re-exported, so that paths (and
    //! compiler messages) read `uno::deadline::...`. The examples on the items below
    //! come from that crate and write `uno_deadline::...`; with the umbrella, write
    //! `uno::deadline::...` instead. The crate's own page, with its guide-style
    //! introduction, is <https://docs.rs/uno-deadline>; `docs/guide.md` covers every pattern.
    #![doc = ""]
    #![doc = include_str!("doc/deadline.md")]
    #[doc(inline)]
    pub use uno_deadline::*;
}
#[cfg(feature = "limit")]
pub mod limit {
    //! Concurrency and rate limits: `Limiter`, `KeyedLimiter`, `AdaptiveLimiter`, `RateLimiter`, `KeyedRateLimiter`.
    //!
    //! Everything here is the `uno-limit` crate, re-exported, so that paths (and
    //! compiler messages) read `uno::limit::...`. The examples on the items below
    //! come from that crate and write `uno_limit::...`; with the umbrella, write
    //! `uno::limit::...` instead. The crate's own page, with its guide-style
    //! introduction, is <https://docs.rs/uno-limit>; `docs/guide.md` covers every pattern.
    #![doc = ""]
    #![doc = include_str!("doc/limit.md")]
    #[doc(inline)]
    pub use uno_limit::*;
}
#[cfg(feature = "resource")]
pub mod resource {
    //! Async resources with guaranteed cleanup: `AsyncResource`, `Managed`, `using`, `ResourceStack`, `ResourcePool`.
    //!
    //! Everything here is the `uno-resource` crate, re-exported, so that paths (and
    //! compiler messages) read `uno::resource::...`. The examples on the items below
    //! come from that crate and write `uno_resource::...`; with the umbrella, write
    //! `uno::resource::...` instead. The crate's own page, with its guide-style
    //! introduction, is <https://docs.rs/uno-resource>; `docs/guide.md` covers every pattern.
    #![doc = ""]
    #![doc = include_str!("doc/resource.md")]
    #[doc(inline)]
    pub use uno_resource::*;
}
#[cfg(feature = "retry")]
pub mod retry {
    //! Retry with backoff: `RetryPolicy`, `BackoffStrategy`, `Jitter`, `RetryBudget`.
    //!
    //! Everything here is the `uno-retry` crate, re-exported, so that paths (and
    //! compiler messages) read `uno::retry::...`. The examples on the items below
    //! come from that crate and write `uno_retry::...`; with the umbrella, write
    //! `uno::retry::...` instead. The crate's own page, with its guide-style
    //! introduction, is <https://docs.rs/uno-retry>; `docs/guide.md` covers every pattern.
    #![doc = ""]
    #![doc = include_str!("doc/retry.md")]
    #[doc(inline)]
    pub use uno_retry::*;
}
#[cfg(feature = "signal")]
pub mod signal {
    //! Signal handling and graceful shutdown: `on_signal`, `Shutdown`, `Drain`.
    //!
    //! Everything here is the `uno-signal` crate, re-exported, so that paths (and
    //! compiler messages) read `uno::signal::...`. The examples on the items below
    //! come from that crate and write `uno_signal::...`; with the umbrella, write
    //! `uno::signal::...` instead. The crate's own page, with its guide-style
    //! introduction, is <https://docs.rs/uno-signal>; `docs/guide.md` covers every pattern.
    #![doc = ""]
    #![doc = include_str!("doc/signal.md")]
    #[doc(inline)]
    pub use uno_signal::*;
}
#[cfg(feature = "taskgroup")]
pub mod taskgroup {
    //! Structured concurrency: `TaskGroup` runs tasks that all finish, or are all cancelled, before `join` returns.
    //!
    //! Everything here is the `uno-taskgroup` crate, re-exported, so that paths (and
    //! compiler messages) read `uno::taskgroup::...`. The examples on the items below
    //! come from that crate and write `uno_taskgroup::...`; with the umbrella, write
    //! `uno::taskgroup::...` instead. The crate's own page, with its guide-style
    //! introduction, is <https://docs.rs/uno-taskgroup>; `docs/guide.md` covers every pattern.
    #![doc = ""]
    #![doc = include_str!("doc/taskgroup.md")]
    #[doc(inline)]
    pub use uno_taskgroup::*;
}
#[cfg(feature = "tx")]
pub mod tx {
    //! Database transactions over sqlx: `transaction`, `TransactionManager`, savepoints, retry of serialization failures.
    //!
    //! Everything here is the `uno-tx` crate, re-exported, so that paths (and
    //! compiler messages) read `uno::tx::...`. The examples on the items below
    //! come from that crate and write `uno_tx::...`; with the umbrella, write
    //! `uno::tx::...` instead. The crate's own page, with its guide-style
    //! introduction, is <https://docs.rs/uno-tx>; `docs/guide.md` covers every pattern.
    #![doc = ""]
    #![doc = include_str!("doc/tx.md")]
    #[doc(inline)]
    pub use uno_tx::*;
}

pub mod prelude;

// The seed's decorators. The attribute `retry` lives in the macro namespace, beside the
// module `retry`: `#[uno::retry(..)]` and `uno::retry::RetryPolicy` both resolve.
#[cfg(feature = "macros")]
#[doc(inline)]
pub use uno_macros::{concurrent_limited, limited, main, retry};

/// Compiles the code of README.md's "From Python uno to Rust uno" table, warnings
/// denied, so that a row a user copies works as written.
///
/// ```
/// use std::time::Duration;
/// use uno::breaker::CircuitBreaker;
/// use uno::deadline::within;
/// use uno::limit::{Limiter, RateLimiter};
/// use uno::taskgroup::TaskGroup;
///
/// async fn f(x: u32) -> Result<u32, std::io::Error> {
///     Ok(x)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let x = 1;
/// let g = TaskGroup::new(); g.spawn(f(x))?; g.join().await?;
/// let limiter = Limiter::new(5)?;
/// limiter.run(f(x)).await??;
/// let rate = RateLimiter::new(10, Duration::from_secs(1))?;
/// rate.run(f(x)).await??;
/// let breaker = CircuitBreaker::builder().consecutive_failures(5).build()?;
/// breaker.call(f(x)).await?;
/// within(Duration::from_secs(5), f(x)).await??;
/// # Ok(())
/// # }
/// ```
#[cfg(all(doctest, feature = "full"))]
pub struct ReadmeRows;

/// Compiles and runs every code block of `docs/guide.md` as a doctest.
#[cfg(all(doctest, feature = "full"))]
#[doc = include_str!("../../../docs/guide.md")]
pub struct GuideDoctests;
