//! [`BatchPolicy`]: when a batch that is not full is sent.

/// When a batch that is not full is sent. A full batch (`max_batch_size` items),
/// [`flush`](crate::AsyncBatcher::flush) and [`close`](crate::AsyncBatcher::close)
/// send at once under every policy, and no policy starts more than
/// `max_concurrent_batches` batches at a time.
///
/// | policy | a lone item at low load | under load |
/// | --- | --- | --- |
/// | [`Window`](Self::Window) (default) | waits `max_wait_time` | batches fill, or go when their oldest item has waited `max_wait_time` |
/// | [`Immediate`](Self::Immediate) | sent at once | whatever queued while every slot was busy goes together when one frees |
/// | [`Balanced`](Self::Balanced) | sent at once | as `Window` while a batch runs; at once when none does |
///
/// `Window` stays the default because it is the batcher's contract since the seed
/// (Python uno's `AsyncBatcher`): callers that batch to cut the cost per call, and
/// deduplicating batchers, count on batches filling. Choose `Balanced` when
/// latency at low load matters and the operation can take a small batch whenever it is
/// idle, `Immediate` when the operation's concurrency (`max_concurrent_batches`) is the
/// only thing that should make items wait. docs/batch.md has the measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BatchPolicy {
    /// A batch that is not full is sent once its oldest item has waited
    /// `max_wait_time`: the fullest batches, at the price of that wait for every item
    /// when few arrive.
    #[default]
    Window,
    /// Whatever is queued (up to `max_batch_size` items) is sent as soon as fewer than
    /// `max_concurrent_batches` batches run, so items wait only for the operation, and
    /// batches grow only while every slot is busy. `max_wait_time` is not used.
    Immediate,
    /// When no batch runs (the operation is idle), whatever is queued is sent at once;
    /// while one runs, items wait as under [`Window`](Self::Window), for a full batch
    /// or `max_wait_time`, or until the running batches finish, whichever comes first.
    Balanced,
}
