//! What a batcher reports on the `metrics` facade with the `metrics` feature; without
//! it the function here is empty and compiles away.
//!
//! | name | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `uno_batch_size` | histogram | `batcher` | items in each batch the operation is called with |
//! | `uno_batch_wait_seconds` | histogram | `batcher` | how long each batch's oldest item waited in the queue before the batch started |
//!
//! `batcher` is the name given with [`Builder::name`](crate::Builder::name), or
//! `of <item type>` without one.

use std::sync::Arc;

use tokio::time::Instant;

/// A batch of `size` items started; its oldest item arrived at `oldest`.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn batch_started(name: &Arc<str>, size: usize, oldest: Instant) {
    #[cfg(feature = "metrics")]
    {
        let batcher = metrics::SharedString::from(Arc::clone(name));
        metrics::histogram!("uno_batch_size", "batcher" => batcher.clone()).record(size as f64);
        metrics::histogram!("uno_batch_wait_seconds", "batcher" => batcher)
            .record(oldest.elapsed().as_secs_f64());
    }
}
