//! Micro-batching where every caller gets exactly its own result.
//!
//! An `AsyncBatcher` collects single items from many callers into batches, sends a
//! batch when it is full or when its oldest item has waited long enough, runs one batch
//! operation per batch, and hands each caller exactly the output for its own item. Op
//! errors, panics, wrong-length results, cancelled callers, backpressure and shutdown
//! are all handled so that no item is lost, duplicated or crossed.
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
