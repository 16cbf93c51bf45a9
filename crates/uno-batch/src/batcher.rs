//! The batcher handle that callers add items through.
//!
//! The file runs past 450 lines because most of it is the public handle's documentation
//! and examples (deadlines, cancel safety, every error); its code is about 250 lines.

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{SemaphorePermit, TryAcquireError, mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::builder::Builder;
use crate::claim::{Claim, Room};
use crate::config::{Config, Hooks};
use crate::deadline::until;
use crate::dedup::Dedup;
use crate::draining::{DrainEntry, Draining};
use crate::error::{BatchError, TryAddError};
use crate::ticket::Ticket;
use crate::worker::{Channels, Entry, Message, Worker};

/// Collects items from many callers into batches, runs one batch operation per batch,
/// and gives each caller exactly its own item's output.
///
/// Made with [`AsyncBatcher::builder`]. A batch is sent when it holds
/// `max_batch_size` items, or when its oldest item has waited `max_wait_time`,
/// whichever comes first; a lone item is sent after `max_wait_time` even if nothing
/// else ever arrives. The operation receives the items in the order they were
/// accepted and must return one output per item, in the same order.
///
/// The handle is cheap to clone (one `Arc`), `Send` and `Sync`; every clone feeds the
/// same queue and worker.
///
/// # What each caller gets
///
/// - The operation returns `Ok(outputs)` with one output per item: each caller gets
///   its own item's output.
/// - The operation returns `Err(e)`: every caller of that batch gets
///   [`BatchError::Failed`] holding the same `e` in an `Arc` (so `E` need not be
///   `Clone`).
/// - The operation returns the wrong number of outputs: every caller of that batch
///   gets [`BatchError::WrongLength`] naming both lengths.
/// - The operation panics: every caller of that batch gets [`BatchError::Panicked`];
///   other batches and the batcher itself are not affected.
///
/// # Dropping the last handle
///
/// When the last `AsyncBatcher` handle is dropped, the worker keeps running in the
/// background until it has sent every accepted item (at once, without waiting for
/// batches to fill or for `max_wait_time`), and every running batch has finished;
/// then it stops. Each outstanding [`Ticket`] still receives its output. No accepted
/// item is dropped silently: the only way an item goes unprocessed is its caller
/// going away first (then it is removed), or the tokio runtime shutting down, in which
/// case waiting callers get [`BatchError::Stopped`]. To wait for the drain, call
/// [`close`](Self::close) instead of dropping. The last handle also registers the
/// drain with [`Draining::global`](crate::Draining::global), which uno-signal's
/// `Shutdown::run` waits for before the program exits (the exit path the uno guide's
/// "Shutting down" describes).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_batch::AsyncBatcher;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let batcher = AsyncBatcher::builder(|items: Vec<u32>| async move {
///     Ok::<_, std::convert::Infallible>(items.into_iter().map(|x| x * 10).collect())
/// })
/// .max_batch_size(100)
/// .max_wait_time(Duration::from_millis(100))
/// .build()
/// .unwrap();
///
/// let (a, b) = tokio::join!(batcher.add(1), batcher.add(2));
/// assert_eq!((a.unwrap(), b.unwrap()), (10, 20));
/// batcher.close().await;
/// # }
/// ```
pub struct AsyncBatcher<I, O, E> {
    shared: Arc<Shared<I, O, E>>,
}

/// What every clone of one batcher handle shares.
struct Shared<I, O, E> {
    /// Dropping the last sender (with the last handle) tells the worker to drain and stop.
    sender: mpsc::UnboundedSender<Message<I, O, E>>,
    /// Room in the queue, one permit per item, when `max_pending` is set. An accepted
    /// item's permit is given back when the item leaves the queue: by the worker when
    /// it takes the item into a batch, by the ticket when it is dropped before that.
    room: Arc<Room>,
    closed: AtomicBool,
    /// Becomes true (or its sender is dropped) when the worker has stopped.
    finished: watch::Receiver<bool>,
    config: Config,
    /// How much each item counts against `max_batch_weight`, and its key under
    /// `key_fn`, both found in `add`.
    hooks: Hooks<I>,
    /// Registered with [`Draining`] when the last handle is dropped.
    drain: Arc<DrainEntry>,
}

impl<I, O, E> Drop for Shared<I, O, E> {
    fn drop(&mut self) {
        // The last handle is gone: the worker sends what it holds in the background.
        // Registered now, synchronously, so that an exit path that starts right after
        // this drop already sees it.
        Draining::global().register(Arc::clone(&self.drain));
    }
}

impl<I, O, E> AsyncBatcher<I, O, E>
where
    I: Send + 'static,
    O: Send + 'static,
    E: Send + Sync + 'static,
{
    /// Starts configuring a batcher around `op`, the batch operation.
    ///
    /// `op` receives a batch of items in the order they were accepted and returns one
    /// output per item, in the same order, or an error for the whole batch. Call
    /// [`build`](Builder::build) to start the batcher.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_batch::AsyncBatcher;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let batcher = AsyncBatcher::builder(|names: Vec<String>| async move {
    ///     Ok::<_, std::io::Error>(names.iter().map(String::len).collect::<Vec<_>>())
    /// })
    /// .build()
    /// .unwrap();
    /// assert_eq!(batcher.add("four".to_owned()).await.unwrap(), 4);
    /// # }
    /// ```
    pub fn builder<F, Fut>(op: F) -> Builder<I, O, E, F>
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, E>> + Send + 'static,
    {
        Builder::new(op)
    }

    pub(crate) fn start<F, Fut>(
        op: F,
        config: Config,
        dedup: Option<Dedup<I, O>>,
        hooks: Hooks<I>,
        name: Arc<str>,
        runtime: &tokio::runtime::Handle,
    ) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<O>, E>> + Send + 'static,
    {
        let (sender, receiver) = mpsc::unbounded_channel();
        let room = Arc::new(Room::new(config.max_pending));
        let (finished_sender, finished) = watch::channel(false);
        let drain = Arc::new(DrainEntry::new(name, finished.clone()));
        let worker = Worker::new(
            op,
            config,
            dedup,
            Channels {
                receiver,
                room: Arc::clone(&room),
                finished: finished_sender,
                drain: Arc::clone(&drain),
            },
        );
        runtime.spawn(worker.run());
        Self {
            shared: Arc::new(Shared {
                sender,
                room,
                closed: AtomicBool::new(false),
                finished,
                config,
                hooks,
                drain,
            }),
        }
    }

    /// Queues `item`, waiting for room if `max_pending` items are queued, and resolves
    /// to the item's own output once its batch has run.
    ///
    /// # Deadlines
    ///
    /// Called under a deadline ([`uno_deadline::within`] or [`uno_deadline::at`], or
    /// one inherited from a caller), `add` waits no longer than it, for room or for
    /// the output, and then resolves to [`BatchError::DeadlinePassed`]:
    ///
    /// - Deadline already passed when `add` is called: fails at once, nothing queued.
    /// - Deadline passes while waiting for room, or while the item is queued: the item
    ///   is removed (as a cancelled one is, in O(1)), the batch operation never sees
    ///   it, its room is given back, and the error says `sent: false`. A batch formed
    ///   at or after the deadline never takes the item.
    /// - Deadline passes while the item's batch runs: the operation keeps the item (a
    ///   running call cannot be taken back), the caller gets `sent: true` and the
    ///   output is discarded, or the caller gets its own output if it was ready at that
    ///   instant. The batch's other callers get their own outputs either way.
    ///
    /// The deadline is read once, when `add` is first polled; without one, `add` sets no
    /// timer and checks no clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_batch::{AsyncBatcher, BatchError};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let batcher = AsyncBatcher::builder(|items: Vec<i32>| async move {
    ///     Ok::<_, String>(items.into_iter().map(|x| -x).collect())
    /// })
    /// .max_wait_time(Duration::from_millis(100))
    /// .build()
    /// .unwrap();
    /// // 10 ms is too short for a batch sent after 100 ms: the item is removed.
    /// let hurried = uno_deadline::within(Duration::from_millis(10), batcher.add(1)).await;
    /// assert!(matches!(hurried, Ok(Err(BatchError::DeadlinePassed { sent: false, .. }))));
    /// // A second is enough.
    /// let patient = uno_deadline::within(Duration::from_secs(1), batcher.add(2)).await;
    /// assert_eq!(patient, Ok(Ok(-2)));
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// - [`BatchError::Failed`], [`BatchError::Panicked`] or
    ///   [`BatchError::WrongLength`] when the item's batch ended that way.
    /// - [`BatchError::DeadlinePassed`] when the caller's deadline passed first (see
    ///   "Deadlines" above).
    /// - [`BatchError::Closed`] when the batcher is closed (the item is dropped; use
    ///   [`try_add`](Self::try_add) to get it back).
    /// - [`BatchError::Stopped`] when the runtime the batcher was built on shut down,
    ///   before the output came or before the item could be queued (also while
    ///   waiting for room: the room would never come back).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future cancels the item. While it waits for room nothing is
    /// queued. After the item is queued and before its batch starts, the item is
    /// removed and never given to the operation, and its room is given back. Once its
    /// batch has started, its output is discarded and the batch's other callers are not
    /// disturbed.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_batch::AsyncBatcher;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let batcher = AsyncBatcher::builder(|items: Vec<i32>| async move {
    ///     Ok::<_, String>(items.into_iter().map(|x| -x).collect())
    /// })
    /// .build()
    /// .unwrap();
    /// assert_eq!(batcher.add(5).await, Ok(-5));
    /// # }
    /// ```
    pub async fn add(&self, item: I) -> Result<O, BatchError<E>> {
        // Read once, here, where `add` is about to wait; without a deadline nothing
        // more is paid: no timer, no check.
        if let Some(deadline) = uno_deadline::current() {
            return self.add_until(item, deadline).await;
        }
        let permit = match self.shared.room.permits() {
            None => None,
            Some(room) => match room.acquire().await {
                Ok(permit) => Some(permit),
                // The semaphore is closed by `close`, or by the worker stopping.
                Err(_) => return Err(self.refusal()),
            },
        };
        match self.enqueue(item, permit, None) {
            Ok(ticket) => ticket.await,
            Err(rejected) => Err(rejected.into_parts().1),
        }
    }

    /// `add` under the caller's deadline: each wait (for room, then for the output)
    /// ends at `deadline` with [`BatchError::DeadlinePassed`]. A queued item is given
    /// up through its ticket's claim, as a cancel is, so it is never sent once given up.
    async fn add_until(&self, item: I, deadline: Instant) -> Result<O, BatchError<E>> {
        let passed = |sent| BatchError::DeadlinePassed { deadline, sent };
        if deadline <= Instant::now() {
            return Err(passed(false));
        }
        // One timer for both waits.
        let mut timer = pin!(tokio::time::sleep_until(deadline));
        let permit = match self.shared.room.permits() {
            None => None,
            Some(room) => match until(pin!(room.acquire()), timer.as_mut(), deadline).await {
                Some(Ok(permit)) => Some(permit),
                // The semaphore is closed by `close`, or by the worker stopping.
                Some(Err(_)) => return Err(self.refusal()),
                None => return Err(passed(false)),
            },
        };
        let mut ticket = match self.enqueue(item, permit, Some(deadline)) {
            Ok(ticket) => ticket,
            Err(rejected) => return Err(rejected.into_parts().1),
        };
        match until(Pin::new(&mut ticket), timer, deadline).await {
            Some(outcome) => outcome,
            None => ticket.expire(deadline),
        }
    }

    /// Queues `item` if there is room right now, and returns a [`Ticket`] that
    /// resolves to its output. Does not wait.
    ///
    /// # Errors
    ///
    /// Hands the item back in a [`TryAddError`] whose reason is
    /// [`BatchError::Full`] when `max_pending` items are queued,
    /// [`BatchError::Closed`] when the batcher is closed, or [`BatchError::Stopped`]
    /// when the runtime the batcher was built on shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_batch::AsyncBatcher;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let batcher = AsyncBatcher::builder(|items: Vec<u8>| async move {
    ///     Ok::<_, String>(items)
    /// })
    /// .max_pending(1_000)
    /// .build()
    /// .unwrap();
    /// let ticket = match batcher.try_add(7) {
    ///     Ok(ticket) => ticket,
    ///     Err(full) => panic!("no room for {}", full.into_item()),
    /// };
    /// assert_eq!(ticket.await, Ok(7));
    /// # }
    /// ```
    pub fn try_add(&self, item: I) -> Result<Ticket<O, E>, TryAddError<I, E>> {
        let permit = match self.shared.room.permits() {
            None => None,
            Some(room) => match room.try_acquire() {
                Ok(permit) => Some(permit),
                Err(TryAcquireError::NoPermits) => {
                    return Err(TryAddError::new(item, BatchError::Full));
                }
                Err(TryAcquireError::Closed) => {
                    return Err(TryAddError::new(item, self.refusal()));
                }
            },
        };
        self.enqueue(item, permit, None)
    }

    /// Sends `item` to the worker, with the caller's deadline when `add` runs under
    /// one, and returns its ticket.
    fn enqueue(
        &self,
        item: I,
        permit: Option<SemaphorePermit<'_>>,
        deadline: Option<Instant>,
    ) -> Result<Ticket<O, E>, TryAddError<I, E>> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(TryAddError::new(item, BatchError::Closed));
        }
        let hooks = &self.shared.hooks;
        let weight = hooks.weigh.as_ref().map_or(0, |weigh| weigh(&item));
        let key = hooks.key_of.as_ref().map(|key_of| key_of(&item));
        let (reply, receiver) = oneshot::channel();
        let claim = Claim::new();
        if let Err(mpsc::error::SendError(message)) =
            self.shared.sender.send(Message::Item(Entry {
                item,
                reply,
                claim: claim.clone(),
                deadline,
                weight,
                key,
            }))
        {
            return match message {
                Message::Item(entry) => Err(TryAddError::new(entry.item, self.refusal())),
                // Only an item was sent; the other messages cannot come back here.
                Message::Flush(_) | Message::Close => unreachable!("sent an item"),
            };
        }
        // The worker or the ticket gives this room back when the item leaves the queue.
        if let Some(permit) = permit {
            permit.forget();
        }
        Ok(Ticket::new(receiver, claim, Arc::clone(&self.shared.room)))
    }
}

impl<I, O, E> AsyncBatcher<I, O, E> {
    /// Why a new item is refused once the worker no longer takes any: the batcher was
    /// closed, or, when nobody closed it, the worker stopped because its runtime shut
    /// down (the only other way its channel and its room close while a handle lives).
    fn refusal(&self) -> BatchError<E> {
        if self.shared.closed.load(Ordering::Acquire) {
            BatchError::Closed
        } else {
            BatchError::Stopped
        }
    }

    /// Sends every item queued before this call at once, without waiting for its batch
    /// to fill or for `max_wait_time`, and resolves when those items have been
    /// processed (their batches finished and outputs delivered), together with any
    /// batch that was already running. Items added meanwhile may ride along in the
    /// same batches. After [`close`](Self::close), resolves when the worker has
    /// stopped.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. If `flush` is used as the event in a
    /// `tokio::select!` statement and some other branch completes first, the flush is
    /// not undone: from its first poll the queued items are sent at once, and only the
    /// wait for them is abandoned. A `flush` future never polled does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_batch::AsyncBatcher;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let batcher = AsyncBatcher::builder(|items: Vec<u8>| async move {
    ///     Ok::<_, String>(items)
    /// })
    /// .max_wait_time(Duration::from_secs(3600))
    /// .build()
    /// .unwrap();
    /// let ticket = batcher.try_add(1).unwrap();
    /// batcher.flush().await; // no need to wait an hour
    /// assert_eq!(ticket.await, Ok(1));
    /// # }
    /// ```
    pub async fn flush(&self) {
        let (done, processed) = oneshot::channel();
        if self.shared.sender.send(Message::Flush(done)).is_err() {
            // The channel closes only on `close`, which sends everything anyway.
            self.wait_until_stopped().await;
            return;
        }
        // The worker never sends on `done`; dropping it is the signal.
        let _ = processed.await;
    }

    /// Closes the batcher: refuses new items from now on (with
    /// [`BatchError::Closed`], also to callers of `add` still waiting for room), sends
    /// every item already accepted at once, waits for all running batches to finish,
    /// and resolves when the worker has stopped. Calling it again, or from another
    /// clone, waits for the same end. A batch operation that never finishes keeps
    /// `close` (and `flush`) waiting too: bound slow operations with a timeout inside
    /// the operation, or wrap the call in `tokio::time::timeout`.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. If `close` is used as the event in a
    /// `tokio::select!` statement and some other branch completes first, the close is
    /// not undone: the batcher is closed from the first poll and the drain goes on in
    /// the background; call `close` again to wait for its end.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_batch::{AsyncBatcher, BatchError};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let batcher = AsyncBatcher::builder(|items: Vec<u8>| async move {
    ///     Ok::<_, String>(items)
    /// })
    /// .build()
    /// .unwrap();
    /// let ticket = batcher.try_add(1).unwrap();
    /// batcher.close().await;
    /// assert_eq!(ticket.await, Ok(1)); // accepted before close: processed
    /// assert_eq!(batcher.add(2).await, Err(BatchError::Closed));
    /// # }
    /// ```
    pub async fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.room.close();
        // Fails only when the worker already closed its channel for an earlier close.
        let _ = self.shared.sender.send(Message::Close);
        self.wait_until_stopped().await;
    }

    /// Whether [`close`](Self::close) has been called on this batcher (through any
    /// clone).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// The most items one batch holds.
    #[must_use]
    pub fn max_batch_size(&self) -> usize {
        self.shared.config.max_batch_size
    }

    async fn wait_until_stopped(&self) {
        let mut finished = self.shared.finished.clone();
        // An error means the worker was dropped with its runtime: it has stopped too.
        let _ = finished.wait_for(|stopped| *stopped).await;
    }
}

impl<I, O, E> Clone for AsyncBatcher<I, O, E> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<I, O, E> fmt::Debug for AsyncBatcher<I, O, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncBatcher")
            .field("max_batch_size", &self.shared.config.max_batch_size)
            .field("max_wait_time", &self.shared.config.max_wait_time)
            .field("max_pending", &self.shared.config.max_pending)
            .field(
                "max_concurrent_batches",
                &self.shared.config.max_concurrent_batches,
            )
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}
