//! The settings a batcher runs with, once its builder checked them ([`Config`]), and the
//! user code that runs on each item in the caller's `add` ([`Hooks`]). A leaf: the
//! builder makes them, the handle and the worker read them.

use std::sync::Arc;
use std::time::Duration;

use crate::lanes::Key;
use crate::policy::BatchPolicy;

/// How much an item counts against [`Builder::max_batch_weight`](crate::Builder::max_batch_weight).
pub(crate) type Weigh<I> = Arc<dyn Fn(&I) -> usize + Send + Sync>;

/// An item's key under [`Builder::key_fn`](crate::Builder::key_fn), its type erased.
pub(crate) type KeyOf<I> = Arc<dyn Fn(&I) -> Box<dyn Key> + Send + Sync>;

/// The user code that runs on each item in the caller's `add`/`try_add`, before it is
/// sent to the worker.
pub(crate) struct Hooks<I> {
    pub(crate) weigh: Option<Weigh<I>>,
    pub(crate) key_of: Option<KeyOf<I>>,
}

/// The validated settings the worker runs with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    pub(crate) max_batch_size: usize,
    pub(crate) max_wait_time: Duration,
    pub(crate) max_pending: Option<usize>,
    pub(crate) max_concurrent_batches: usize,
    pub(crate) policy: BatchPolicy,
    /// The most weight one batch holds, with [`Builder::max_batch_weight`](crate::Builder::max_batch_weight).
    pub(crate) max_batch_weight: Option<usize>,
    /// Whether items are batched per key ([`Builder::key_fn`](crate::Builder::key_fn)).
    pub(crate) keyed: bool,
}
