//! Micro-batching where every caller gets exactly its own result.
//!
//! An [`AsyncBatcher`] collects single items from many callers into batches, sends a
//! batch when it is full or when its oldest item has waited long enough, runs one batch
//! operation per batch, and hands each caller exactly the output for its own item. Op
//! errors, panics, wrong-length results, cancelled callers, backpressure and shutdown
//! are all handled so that no item is lost, duplicated or crossed.
//!
//! This is Python uno's `AsyncBatcher(process_batch, max_batch_size=100,
//! max_wait_time=0.1)` and `await batcher.add_item(item)`:
//!
//! ```
//! use std::time::Duration;
//! use uno_batch::{AsyncBatcher, BatchError};
//!
//! /// One round trip for many lookups: the operation gets the items in order and
//! /// returns one output per item, in the same order.
//! async fn process_batch(user_ids: Vec<u64>) -> Result<Vec<String>, std::io::Error> {
//!     Ok(user_ids.iter().map(|id| format!("user-{id}")).collect())
//! }
//!
//! #[tokio::main(flavor = "current_thread", start_paused = true)]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let batcher = AsyncBatcher::builder(process_batch)
//!         .max_batch_size(100)
//!         .max_wait_time(Duration::from_millis(100))
//!         .build()?;
//!
//!     // Many callers, each awaiting its own item's output; they share one batch.
//!     let callers = (0..10).map(|id| {
//!         let batcher = batcher.clone();
//!         tokio::spawn(async move { batcher.add(id).await })
//!     });
//!     for (id, caller) in (0..10).zip(callers) {
//!         assert_eq!(caller.await.unwrap()?, format!("user-{id}"));
//!     }
//!
//!     batcher.close().await; // send what is queued, wait for it, refuse new items
//!     Ok(())
//! }
//! ```
//!
//! # Semantics in brief
//!
//! - **When a batch is sent**: when `max_batch_size` items are queued, or when the
//!   oldest queued item has waited `max_wait_time` (a lone item is sent then too),
//!   or on [`flush`](AsyncBatcher::flush) / [`close`](AsyncBatcher::close).
//!   [`BatchPolicy::Balanced`] and [`BatchPolicy::Immediate`] also send a partial
//!   batch at once when the operation has room, so items do not wait out the window
//!   at low load.
//! - **What each caller gets**: its own item's output; or, for the whole batch, the
//!   operation's error shared in an `Arc` ([`BatchError::Failed`]), a
//!   [`BatchError::Panicked`] if it panicked (the batcher keeps working), or a
//!   [`BatchError::WrongLength`] naming both lengths if it returned the wrong number of
//!   outputs.
//! - **Backpressure**: `max_pending` bounds queued items; [`add`](AsyncBatcher::add)
//!   waits for room, [`try_add`](AsyncBatcher::try_add) hands the item back.
//!   `max_concurrent_batches` bounds operations in flight (default 1).
//! - **Cancellation**: a caller that goes away before its batch starts has its item
//!   removed (the operation never sees it); after the batch started, only its output
//!   is discarded.
//! - **Deadlines**: [`add`](AsyncBatcher::add) honours the caller's
//!   [`uno_deadline`] deadline: an item whose deadline passes before its batch is sent
//!   is removed (the operation never sees it) and its caller gets
//!   [`BatchError::DeadlinePassed`]; waiting for room stops at the deadline too.
//! - **Deduplication**: with [`Builder::deduplicate`], identical items of one batch
//!   are sent once and the output is shared with every caller of that item.
//! - **Keys**: with [`Builder::key_fn`], each key's items are batched apart, as if
//!   each key had a batcher of its own; the operation sees one key per batch.
//! - **When a partial batch goes**: [`BatchPolicy`] (wait the window, or send when
//!   the operation is idle), and [`Builder::max_batch_weight`] caps a batch by weight.
//! - **Shutdown**: `close` flushes, waits and refuses new items; dropping the last
//!   handle drains everything in the background (see
//!   [`AsyncBatcher`](AsyncBatcher#dropping-the-last-handle)).
//!
//! # Features
//!
//! - `tracing`: emits `tracing` events (target `uno_batch`) when batches start, fail
//!   or panic, when cancelled items are removed, and when the worker closes.
//! - `metrics`: histograms on the [`metrics`](https://docs.rs/metrics) facade,
//!   labelled with the batcher's [`name`](Builder::name) (`of <item type>` without
//!   one):
//!
//!   | name | kind | labels | what |
//!   | --- | --- | --- | --- |
//!   | `uno_batch_size` | histogram | `batcher` | items in each batch the operation is called with |
//!   | `uno_batch_wait_seconds` | histogram | `batcher` | how long each batch's oldest item waited before the batch started |
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Emits a `tracing` event (target `uno_batch`) when the `tracing` feature is on, and
/// nothing otherwise. Defined before the modules, so every one of them sees it.
macro_rules! event {
    ($level:ident, $($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        tracing::$level!(target: "uno_batch", $($arg)*);
    };
}

mod batcher;
mod builder;
mod claim;
mod config;
mod deadline;
mod dedup;
mod draining;
mod error;
mod lanes;
mod metrics;
mod policy;
mod run;
mod ticket;
mod worker;

pub use crate::batcher::AsyncBatcher;
pub use crate::builder::{Builder, DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_WAIT_TIME};
pub use crate::draining::Draining;
pub use crate::error::{BatchError, BuildError, TryAddError};
pub use crate::policy::BatchPolicy;
pub use crate::ticket::Ticket;
