//! Structured concurrency for tokio: a `TaskGroup` owns the tasks spawned into it.
//!
//! ```
//! use uno_taskgroup::{GroupError, TaskGroup};
//!
//! async fn fetch(page: u32) -> Result<String, std::io::Error> {
//!     Ok(format!("page {page}"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), GroupError<std::io::Error>> {
//! let group = TaskGroup::new();
//! for page in 1..=3 {
//!     group.spawn(fetch(page)).expect("the group is open");
//! }
//! // Waits for every task; results come back in spawn order. The first error would
//! // have cancelled the other tasks and come back as a `GroupError`.
//! let pages = group.join().await?;
//! assert_eq!(pages, ["page 1", "page 2", "page 3"]);
//! # Ok(())
//! # }
//! ```
//!
//! A group is Python's `asyncio.TaskGroup` (or trio's nursery) for tokio: every task
//! spawned into it is awaited by `join`, the first failure cancels the siblings, every
//! failure is reported, and no task outlives the group — dropping the group, or the
//! future that awaits it, cancels everything it spawned. It closes the gaps users hit
//! when they glue `tokio::task::JoinSet` and `tokio_util::task::TaskTracker` together:
//! fail-fast, error aggregation, results in spawn order, a concurrency cap and a grace
//! period for cooperative cancellation.
//!
//! - [`TaskGroup`]: `spawn`, `join` (spawn order), `join_settled` (every outcome, in
//!   spawn order, as [`Settled`]), `join_next` (completion order), `cancel`, `token`,
//!   `spawner`.
//! - [`Builder`]: `fail_fast`, `max_concurrency`, `grace_period`, `parent_token`.
//! - [`GroupError`] lists every [`TaskError`] (an `Err`, a caught panic, or a task
//!   dropped by its runtime shutting down) with its [`TaskId`];
//!   [`GroupError::resume_panic`] re-raises a task's panic. It is a
//!   `std::error::Error` whenever the tasks' error type is `Debug + Display`, so
//!   `group.join().await?` converts into `anyhow::Error` or
//!   `Box<dyn Error + Send + Sync>` even when the tasks return those.
//! - Finished tasks drop their future as they finish and need no reaping: a
//!   long-running group's memory is bounded by the most tasks live at once, plus the
//!   results not collected yet (for `()` results, only their ids, which take one
//!   entry per stretch of tasks that finished in spawn order).
//!
//! # Features
//!
//! - `tracing`: a `taskgroup` span per group, a `task` span per task, and debug events
//!   when a group starts cancelling.
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod error;
mod group;
mod settled;
mod shared;
mod spawner;
mod sync;
mod task;

pub use builder::Builder;
pub use error::{BuildError, GroupError, PanicPayload, SpawnError, TaskError};
pub use group::TaskGroup;
pub use settled::Settled;
pub use spawner::Spawner;
pub use task::TaskId;
/// The cancellation token type of [`TaskGroup::token`] and [`Builder::parent_token`],
/// re-exported so that callers need not depend on `tokio-util` to name it.
pub use tokio_util::sync::CancellationToken;

/// Compiles and runs the README's example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
