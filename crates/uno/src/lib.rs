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
//! | `retry`     | [`retry`]         | `uno-retry`     | yes     |
//! | `batch`     | [`batch`]         | `uno-batch`     | yes     |
//! | `limit`     | [`limit`]         | `uno-limit`     | yes     |
//! | `signal`    | [`signal`]        | `uno-signal`    | yes     |
//! | `tx`        | `tx`              | `uno-tx`        | no      |
//! | `sqlite`, `postgres`, `mysql` | `tx` | `uno-tx` backends | no |
//! | `tx-retry`  | —                 | retry of serialization failures in `uno-tx` | no |
//! | `tracing`   | —                 | `tracing` spans and events in every enabled pattern | no |
//! | `full`      | everything above  |                 | no      |
//!
//! `tx` is not a default feature because it brings in sqlx and a database driver,
//! which is most of a cold build; a project that only wants retry never compiles it.
//! `tx` alone gives the backend-generic API; `sqlite`, `postgres` and `mysql` each turn
//! `tx` on together with that backend.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "batch")]
#[doc(inline)]
pub use uno_batch as batch;
#[cfg(feature = "limit")]
#[doc(inline)]
pub use uno_limit as limit;
#[cfg(feature = "resource")]
#[doc(inline)]
pub use uno_resource as resource;
#[cfg(feature = "retry")]
#[doc(inline)]
pub use uno_retry as retry;
#[cfg(feature = "signal")]
#[doc(inline)]
pub use uno_signal as signal;
#[cfg(feature = "taskgroup")]
#[doc(inline)]
pub use uno_taskgroup as taskgroup;
#[cfg(feature = "tx")]
#[doc(inline)]
pub use uno_tx as tx;

pub mod prelude;

/// Compiles and runs every code block of `docs/guide.md` as a doctest.
#[cfg(all(doctest, feature = "full"))]
#[doc = include_str!("../../../docs/guide.md")]
pub struct GuideDoctests;
