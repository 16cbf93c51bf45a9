//! The builder that configures and starts an [`AsyncBatcher`].

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::batcher::AsyncBatcher;
use crate::config::{Config, Hooks};
use crate::dedup::Dedup;
use crate::error::BuildError;
use crate::lanes::Key;
use crate::policy::BatchPolicy;

/// The default [`Builder::max_batch_size`]: 100 items, as in Python uno.
pub const DEFAULT_MAX_BATCH_SIZE: usize = 100;

/// The default [`Builder::max_wait_time`]: 100 ms, as in Python uno.
pub const DEFAULT_MAX_WAIT_TIME: Duration = Duration::from_millis(100);

/// Configures an [`AsyncBatcher`]; made by [`AsyncBatcher::builder`].
///
/// Every setting has a default, so `AsyncBatcher::builder(op).build()` works:
///
/// | setting | default | zero |
/// |---|---|---|
/// | [`max_batch_size`](Self::max_batch_size) | 100 | rejected by `build` |
/// | [`max_wait_time`](Self::max_wait_time) | 100 ms | send as soon as the worker sees an item |
/// | [`max_pending`](Self::max_pending) | unbounded | rejected by `build` |
/// | [`max_concurrent_batches`](Self::max_concurrent_batches) | 1 | rejected by `build` |
/// | [`policy`](Self::policy) | [`BatchPolicy::Window`] | — |
/// | [`max_batch_weight`](Self::max_batch_weight) | no weight limit | rejected by `build` |
/// | [`key_fn`](Self::key_fn) | one queue for all items | — |
///
/// Huge values never overflow: `usize::MAX` sizes mean "unbounded" and a wait too
/// long to end (`Duration::MAX`) means "no time limit".
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_batch::AsyncBatcher;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let batcher = AsyncBatcher::builder(|ids: Vec<u64>| async move {
///     Ok::<_, std::io::Error>(ids.iter().map(|id| format!("user {id}")).collect::<Vec<_>>())
/// })
/// .max_batch_size(50)
/// .max_wait_time(Duration::from_millis(5))
/// .max_pending(10_000)
/// .max_concurrent_batches(4)
/// .build()?;
///
/// assert_eq!(batcher.add(7).await?, "user 7");
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<I, O, E, F> {
    op: F,
    config: Config,
    dedup: Option<Dedup<I, O>>,
    hooks: Hooks<I>,
    name: Option<String>,
    _types: PhantomData<fn(I) -> (O, E)>,
}

impl<I, O, E, F, Fut> Builder<I, O, E, F>
where
    I: Send + 'static,
    O: Send + 'static,
    E: Send + Sync + 'static,
    F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<O>, E>> + Send + 'static,
{
    pub(crate) fn new(op: F) -> Self {
        Self {
            op,
            config: Config {
                max_batch_size: DEFAULT_MAX_BATCH_SIZE,
                max_wait_time: DEFAULT_MAX_WAIT_TIME,
                max_pending: None,
                max_concurrent_batches: 1,
                policy: BatchPolicy::Window,
                max_batch_weight: None,
                keyed: false,
            },
            dedup: None,
            hooks: Hooks {
                weigh: None,
                key_of: None,
            },
            name: None,
            _types: PhantomData,
        }
    }

    /// The most items one batch holds. A batch is sent as soon as this many items are
    /// queued. Zero is rejected by [`build`](Self::build). A huge size such as
    /// `usize::MAX` means "no size limit": batches are then sent by `max_wait_time`,
    /// [`flush`](AsyncBatcher::flush) or [`close`](AsyncBatcher::close), each holding
    /// everything queued.
    pub fn max_batch_size(mut self, max_batch_size: usize) -> Self {
        self.config.max_batch_size = max_batch_size;
        self
    }

    /// How long the oldest queued item waits for its batch to fill before the batch is
    /// sent anyway. Time is counted from when the worker first sees the item, on
    /// tokio's clock (so `tokio::time::pause` controls it in tests).
    ///
    /// `Duration::ZERO` means "send as soon as the worker sees the item": the worker
    /// sends whatever is queued each time it wakes, up to `max_batch_size` items per
    /// batch, so batches hold only the items that arrived together.
    ///
    /// A wait too long to end (one that cannot be added to the item's arrival
    /// `Instant`, or ends within a second of the last one, such as `Duration::MAX`)
    /// means "no time limit": batches are then sent only when full, or by
    /// [`flush`](AsyncBatcher::flush) and [`close`](AsyncBatcher::close).
    pub fn max_wait_time(mut self, max_wait_time: Duration) -> Self {
        self.config.max_wait_time = max_wait_time;
        self
    }

    /// The most items queued (accepted but not yet sent in a batch) at once. When it is
    /// reached, [`add`](AsyncBatcher::add) waits for room and
    /// [`try_add`](AsyncBatcher::try_add) hands the item back with
    /// [`BatchError::Full`](crate::BatchError::Full). Items in batches that are running do not count. Without
    /// this setting the queue is unbounded. Zero is rejected by
    /// [`build`](Self::build).
    ///
    /// A value below `max_batch_size` is allowed; batches then never fill and are sent
    /// by `max_wait_time`.
    ///
    /// A bound of [`Semaphore::MAX_PERMITS`] or more (tokio's semaphore, which holds
    /// the room, cannot count further), such as `usize::MAX`, means unbounded, the
    /// same as not calling this setter: no program could queue that many items.
    pub fn max_pending(mut self, max_pending: usize) -> Self {
        self.config.max_pending = (max_pending < Semaphore::MAX_PERMITS).then_some(max_pending);
        self
    }

    /// The most batches whose operation runs at once (default 1). With more than one,
    /// batches may finish in any order; each caller still gets its own item's output.
    /// Zero is rejected by [`build`](Self::build); `usize::MAX` means no limit.
    pub fn max_concurrent_batches(mut self, max_concurrent_batches: usize) -> Self {
        self.config.max_concurrent_batches = max_concurrent_batches;
        self
    }

    /// When a batch that is not full is sent (default [`BatchPolicy::Window`]: once
    /// its oldest item has waited `max_wait_time`). [`BatchPolicy::Balanced`] and
    /// [`BatchPolicy::Immediate`] send at once when the operation has room, so items do
    /// not wait out the window at low load.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_batch::{AsyncBatcher, BatchPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let batcher = AsyncBatcher::builder(|ids: Vec<u64>| async move {
    ///     Ok::<_, std::io::Error>(ids.iter().map(|id| id * 2).collect::<Vec<_>>())
    /// })
    /// .max_wait_time(Duration::from_secs(1))
    /// .policy(BatchPolicy::Balanced)
    /// .build()?;
    ///
    /// let started = tokio::time::Instant::now();
    /// assert_eq!(batcher.add(21).await?, 42);
    /// assert_eq!(started.elapsed(), Duration::ZERO, "the operation was idle: no wait");
    /// # Ok(())
    /// # }
    /// ```
    pub fn policy(mut self, policy: BatchPolicy) -> Self {
        self.config.policy = policy;
        self
    }

    /// Caps the total weight of a batch, as Go's bundler caps a bundle's bytes:
    /// `weight` says how much an item counts (its size in bytes, the rows it writes),
    /// and a batch holds items only while their weights add up to at most `max`. A
    /// batch is also sent as soon as the queued items weigh `max` or more, as it is
    /// when `max_batch_size` items are queued; `max_batch_size` still applies.
    ///
    /// An item that alone weighs more than `max` is not refused: it is sent in a batch
    /// of its own. `weight` runs in the caller's `add`/`try_add` (a panic in it is the
    /// caller's); weights add up saturating, so `usize::MAX` cannot overflow. Zero is
    /// rejected by [`build`](Self::build). Callers that cancel may make a batch go a
    /// little before it is full by weight (their items count until the worker skips
    /// them), never later.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_batch::AsyncBatcher;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // At most 1 MiB of rows per INSERT.
    /// let batcher = AsyncBatcher::builder(|rows: Vec<Vec<u8>>| async move {
    ///     assert!(rows.iter().map(Vec::len).sum::<usize>() <= 1 << 20 || rows.len() == 1);
    ///     Ok::<_, std::io::Error>(rows.iter().map(Vec::len).collect::<Vec<_>>())
    /// })
    /// .max_batch_weight(1 << 20, |row: &Vec<u8>| row.len())
    /// .build()
    /// .unwrap();
    ///
    /// let (a, b) = tokio::join!(batcher.add(vec![0; 800_000]), batcher.add(vec![0; 800_000]));
    /// assert_eq!((a.unwrap(), b.unwrap()), (800_000, 800_000)); // in two batches
    /// # }
    /// ```
    pub fn max_batch_weight(
        mut self,
        max: usize,
        weight: impl Fn(&I) -> usize + Send + Sync + 'static,
    ) -> Self {
        self.config.max_batch_weight = Some(max);
        self.hooks.weigh = Some(Arc::new(weight));
        self
    }

    /// Batches items by key, as batch-aint-one does: `key` gives each item's key, and
    /// each key's items are batched apart from every other key's, as if each key had a
    /// batcher of its own with these settings. The operation is then only ever called
    /// with items of one key (it can read the key from any of them). Use it when a
    /// batch can only go to one place: one tenant's database, one shard, one endpoint.
    ///
    /// Per key: batches, `max_batch_size`, `max_wait_time` (counted from the key's
    /// oldest queued item), `max_batch_weight`, the [`policy`](Self::policy) and
    /// `max_concurrent_batches` (so up to that many batches run *per key*). Shared by
    /// all keys: `max_pending`, [`flush`](AsyncBatcher::flush),
    /// [`close`](AsyncBatcher::close) and the order of each caller's own items.
    ///
    /// `key` runs in the caller's `add`/`try_add` (a panic in it is the caller's, and
    /// nothing is queued). A key costs the worker nothing once it has no queued items
    /// and no running batch: its queue is freed, so keys that are seen once (request
    /// ids, user ids) do not pile up. Callers that cancel may make a keyed batch go a
    /// little before it is full by size (their items count until the worker skips
    /// them), never later, as with [`max_batch_weight`](Self::max_batch_weight).
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_batch::AsyncBatcher;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // (tenant, row): each INSERT goes to one tenant's table.
    /// let batcher = AsyncBatcher::builder(|rows: Vec<(&'static str, u32)>| async move {
    ///     let tenant = rows[0].0;
    ///     assert!(rows.iter().all(|(t, _)| *t == tenant), "one tenant per batch");
    ///     Ok::<_, String>(rows.iter().map(|(t, row)| format!("{t}/{row}")).collect::<Vec<_>>())
    /// })
    /// .max_batch_size(2)
    /// .key_fn(|(tenant, _): &(&'static str, u32)| *tenant)
    /// .build()
    /// .unwrap();
    ///
    /// let (a, b, c) = tokio::join!(
    ///     batcher.add(("acme", 1)),
    ///     batcher.add(("initech", 2)),
    ///     batcher.add(("acme", 3)),
    /// );
    /// assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), ("acme/1".into(), "initech/2".into(), "acme/3".into()));
    /// # }
    /// ```
    pub fn key_fn<K>(mut self, key: impl Fn(&I) -> K + Send + Sync + 'static) -> Self
    where
        K: Hash + Eq + Send + Sync + 'static,
    {
        self.config.keyed = true;
        self.hooks.key_of = Some(Arc::new(move |item: &I| -> Box<dyn Key> {
            Box::new(key(item))
        }));
        self
    }

    /// Turns on deduplication (as in dataloader): identical items within one batch are
    /// sent to the operation once, in the order first seen, and that item's output is
    /// cloned to every caller who added it. Use it when items are keys to look up and
    /// several callers may ask for the same key at once.
    ///
    /// The operation then returns one output per *distinct* item, and
    /// [`BatchError::WrongLength`](crate::BatchError::WrongLength) counts distinct items as `expected`. Duplicates are
    /// only merged within one batch, not across batches.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_batch::AsyncBatcher;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let batcher = AsyncBatcher::builder(|ids: Vec<u32>| async move {
    ///     assert_eq!(ids, [7, 8], "7 is looked up once");
    ///     Ok::<_, String>(ids.iter().map(|id| format!("user {id}")).collect::<Vec<_>>())
    /// })
    /// .max_batch_size(3)
    /// .deduplicate()
    /// .build()
    /// .unwrap();
    ///
    /// let (a, b, c) = tokio::join!(batcher.add(7), batcher.add(8), batcher.add(7));
    /// assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), ("user 7".into(), "user 8".into(), "user 7".into()));
    /// # }
    /// ```
    pub fn deduplicate(mut self) -> Self
    where
        I: Hash + Eq,
        O: Clone,
    {
        self.dedup = Some(Dedup::new());
        self
    }

    /// A name for the batcher in warnings and in exit reports ("35 items of batcher
    /// orders"). Default: `of <item type>`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Checks the settings and starts the batcher's worker on the current tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// - [`BuildError::ZeroMaxBatchSize`], [`BuildError::ZeroMaxPending`],
    ///   [`BuildError::ZeroMaxBatchWeight`] or [`BuildError::ZeroMaxConcurrentBatches`]
    ///   when that setting is zero (each would make the batcher hang).
    /// - [`BuildError::NoRuntime`] when called outside a tokio runtime.
    pub fn build(self) -> Result<AsyncBatcher<I, O, E>, BuildError> {
        let config = self.config;
        if config.max_batch_size == 0 {
            return Err(BuildError::ZeroMaxBatchSize);
        }
        if config.max_pending == Some(0) {
            return Err(BuildError::ZeroMaxPending);
        }
        if config.max_batch_weight == Some(0) {
            return Err(BuildError::ZeroMaxBatchWeight);
        }
        if config.max_concurrent_batches == 0 {
            return Err(BuildError::ZeroMaxConcurrentBatches);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(BuildError::NoRuntime);
        };
        let name: Arc<str> = match self.name {
            Some(name) => name.into(),
            None => format!("of {}", std::any::type_name::<I>()).into(),
        };
        Ok(AsyncBatcher::start(
            self.op, config, self.dedup, self.hooks, name, &runtime,
        ))
    }
}

impl<I, O, E, F> fmt::Debug for Builder<I, O, E, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("deduplicate", &self.dedup.is_some())
            .field("keyed", &self.config.keyed)
            .finish_non_exhaustive()
    }
}
