//! Structured concurrency for tokio: a `TaskGroup` owns the tasks spawned into it.
//!
//! A group is Python's `asyncio.TaskGroup` (or trio's nursery) for tokio: every task
//! spawned into it is awaited by `join`, the first failure cancels the siblings, every
//! failure is reported, and no task outlives the group — dropping the group, or the
//! future that awaits it, cancels everything it spawned. It closes the gaps users hit
//! when they glue `tokio::task::JoinSet` and `tokio_util::task::TaskTracker` together:
//! fail-fast, error aggregation, results in spawn order, a concurrency cap and a grace
//! period for cooperative cancellation.
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
