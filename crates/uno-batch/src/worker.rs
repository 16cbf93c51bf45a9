//! The background task that forms batches, runs the operation and routes outputs.
//!
//! One worker runs per batcher. It owns the queue, so forming a batch, removing a
//! cancelled item and deciding when to send need no lock. Each batch runs in its own
//! task, which owns the reply channels of exactly the items it was given: outputs are
//! matched to callers by position inside that task, so batches that finish out of order
//! cannot cross outputs between callers.

use std::any::Any;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot, watch};
use tokio::task::{self, JoinError, JoinSet};
use tokio::time::Instant;

use crate::builder::Config;
use crate::dedup::Dedup;
use crate::error::BatchError;
use crate::ticket::Outcome;

/// How many messages the worker takes from its channel in one go.
const RECEIVE_CHUNK: usize = 1024;

/// Emits a `tracing` event when the `tracing` feature is on, and nothing otherwise.
macro_rules! event {
    ($level:ident, $($arg:tt)*) => {
        #[cfg(feature = "tracing")]
        tracing::$level!(target: "uno_batch", $($arg)*);
    };
}

/// What a batcher handle sends to its worker.
pub(crate) enum Message<I, O, E> {
    /// A new item and where its output goes.
    Item(Entry<I, O, E>),
    /// Send every queued item now; drop the sender once they have been processed.
    Flush(oneshot::Sender<()>),
    /// Accept nothing more; send everything, finish, then stop.
    Close,
}

/// One accepted item and the channel its outcome goes back on.
pub(crate) struct Entry<I, O, E> {
    pub(crate) item: I,
    pub(crate) reply: oneshot::Sender<Outcome<O, E>>,
}

/// An entry waiting in the worker's queue.
struct Queued<I, O, E> {
    entry: Entry<I, O, E>,
    /// When the worker first saw the entry; `max_wait_time` counts from here.
    arrived: Instant,
}

/// A `flush` call waiting for the items queued before it to be processed.
struct FlushWaiter {
    /// How many entries at the front of the queue the flush still covers.
    remaining: usize,
    /// Once `remaining` reaches zero: the batches still running that hold covered
    /// items. The flush is done when this is empty.
    running: Option<Vec<task::Id>>,
    /// Dropped (never sent on) to tell the `flush` call it is done.
    _done: oneshot::Sender<()>,
}

/// The channels a worker is started with.
pub(crate) struct Channels<I, O, E> {
    pub(crate) receiver: mpsc::UnboundedReceiver<Message<I, O, E>>,
    pub(crate) room: Option<Arc<Semaphore>>,
    pub(crate) cancelled: Arc<Notify>,
    pub(crate) finished: watch::Sender<bool>,
}

pub(crate) struct Worker<I, O, E, F> {
    op: Arc<F>,
    config: Config,
    dedup: Option<Dedup<I, O>>,
    receiver: mpsc::UnboundedReceiver<Message<I, O, E>>,
    /// False once the channel is closed and drained.
    receiving: bool,
    /// True once `close` was called or every handle was dropped: everything queued is
    /// sent at once, without waiting for batches to fill.
    closing: bool,
    queue: VecDeque<Queued<I, O, E>>,
    room: Option<Arc<Semaphore>>,
    cancelled: Arc<Notify>,
    in_flight: JoinSet<()>,
    /// The task ids of `in_flight`, which `JoinSet` does not list.
    running: Vec<task::Id>,
    flushes: Vec<FlushWaiter>,
    finished: watch::Sender<bool>,
}

impl<I, O, E, F, Fut> Worker<I, O, E, F>
where
    I: Send + 'static,
    O: Send + 'static,
    E: Send + Sync + 'static,
    F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<O>, E>> + Send + 'static,
{
    pub(crate) fn new(
        op: F,
        config: Config,
        dedup: Option<Dedup<I, O>>,
        channels: Channels<I, O, E>,
    ) -> Self {
        Self {
            op: Arc::new(op),
            config,
            dedup,
            receiver: channels.receiver,
            receiving: true,
            closing: false,
            queue: VecDeque::new(),
            room: channels.room,
            cancelled: channels.cancelled,
            in_flight: JoinSet::new(),
            running: Vec::with_capacity(config.max_concurrent_batches.min(64)),
            flushes: Vec::new(),
            finished: channels.finished,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut incoming = Vec::with_capacity(RECEIVE_CHUNK);
        // One timer, moved only when the deadline changes, rather than a new one per turn.
        let timer = tokio::time::sleep_until(Instant::now());
        tokio::pin!(timer);
        let mut timer_deadline = None;
        loop {
            let deadline = self.start_due_batches();
            self.settle_flushes();
            if !self.receiving && self.queue.is_empty() && self.in_flight.is_empty() {
                break;
            }
            if let Some(deadline) = deadline
                && timer_deadline != Some(deadline)
            {
                timer.as_mut().reset(deadline);
                timer_deadline = Some(deadline);
            }
            tokio::select! {
                biased;
                Some(joined) = self.in_flight.join_next_with_id(), if !self.in_flight.is_empty() => {
                    self.batch_finished(joined);
                }
                () = self.cancelled.notified() => {
                    // The dropped ticket's item was sent before the ticket was dropped,
                    // but may still sit in the channel: take it in before sweeping.
                    while let Ok(message) = self.receiver.try_recv() {
                        incoming.push(message);
                    }
                    self.accept(&mut incoming);
                    self.remove_cancelled();
                }
                received = self.receiver.recv_many(&mut incoming, RECEIVE_CHUNK), if self.receiving => {
                    if received == 0 {
                        // Closed and drained: every handle is gone, or `close` was called.
                        self.receiving = false;
                        self.closing = true;
                    }
                    self.accept(&mut incoming);
                }
                () = &mut timer, if deadline.is_some() => {}
            }
        }
        event!(debug, "batcher worker finished");
        self.finished.send_replace(true);
    }

    fn accept(&mut self, incoming: &mut Vec<Message<I, O, E>>) {
        if incoming.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut cancelled = 0;
        for message in incoming.drain(..) {
            match message {
                // Its caller already went away: never queue it.
                Message::Item(entry) if entry.reply.is_closed() => cancelled += 1,
                Message::Item(entry) => self.queue.push_back(Queued {
                    entry,
                    arrived: now,
                }),
                Message::Flush(done) => self.flushes.push(FlushWaiter {
                    remaining: self.queue.len(),
                    running: None,
                    _done: done,
                }),
                Message::Close => {
                    event!(debug, queued = self.queue.len(), "batcher closing");
                    self.closing = true;
                    // Items already in the channel are still received and processed;
                    // sends after this point fail, and the caller gets `Closed`.
                    self.receiver.close();
                }
            }
        }
        self.release_room(cancelled);
    }

    /// Starts every batch that is due and has a free slot. Returns when the oldest
    /// queued item's wait runs out, if the worker must wake up for that.
    fn start_due_batches(&mut self) -> Option<Instant> {
        let mut now = None;
        loop {
            let oldest = self.queue.front()?;
            if self.in_flight.len() >= self.config.max_concurrent_batches {
                // A batch finishing wakes the worker, which then comes back here.
                return None;
            }
            let due = self.closing
                || self.queue.len() >= self.config.max_batch_size
                || self.flushes.iter().any(|flush| flush.remaining > 0);
            if !due {
                let deadline = wait_deadline(oldest.arrived, self.config.max_wait_time)?;
                if *now.get_or_insert_with(Instant::now) < deadline {
                    return Some(deadline);
                }
            }
            self.start_batch();
        }
    }

    fn start_batch(&mut self) {
        let capacity = self.config.max_batch_size.min(self.queue.len());
        let mut items = Vec::with_capacity(capacity);
        let mut replies = Vec::with_capacity(capacity);
        let mut taken = 0;
        while items.len() < self.config.max_batch_size {
            let Some(queued) = self.queue.pop_front() else {
                break;
            };
            taken += 1;
            // A caller that went away before its batch started: its item is removed
            // here and never reaches the operation.
            if queued.entry.reply.is_closed() {
                continue;
            }
            items.push(queued.entry.item);
            replies.push(queued.entry.reply);
        }
        self.release_room(taken);
        for flush in &mut self.flushes {
            flush.remaining = flush.remaining.saturating_sub(taken);
        }
        if items.is_empty() {
            return;
        }
        event!(trace, size = items.len(), "starting a batch");
        let op = Arc::clone(&self.op);
        let handle = self
            .in_flight
            .spawn(run_batch(op, self.dedup, items, replies));
        self.running.push(handle.id());
    }

    fn batch_finished(&mut self, joined: Result<(task::Id, ()), JoinError>) {
        let id = match joined {
            Ok((id, ())) => id,
            // Only a panic outside the operation (which is caught) can land here, for
            // example in an output's `Drop`. The batch's callers then get `Stopped`.
            Err(error) => error.id(),
        };
        self.running.retain(|running| *running != id);
        for flush in &mut self.flushes {
            if let Some(running) = &mut flush.running {
                running.retain(|running| *running != id);
            }
        }
    }

    /// Resolves every flush whose items have all been sent and processed.
    fn settle_flushes(&mut self) {
        if self.flushes.is_empty() {
            return;
        }
        let running_now = &self.running;
        self.flushes.retain_mut(|flush| {
            if flush.remaining > 0 {
                return true;
            }
            let running = flush.running.get_or_insert_with(|| running_now.clone());
            // Dropping the waiter drops its sender, which resolves the `flush` call.
            !running.is_empty()
        });
    }

    fn remove_cancelled(&mut self) {
        let before = self.queue.len();
        self.queue.retain(|queued| !queued.entry.reply.is_closed());
        let removed = before - self.queue.len();
        if removed == 0 {
            return;
        }
        event!(trace, removed, "removed cancelled items from the queue");
        self.release_room(removed);
        let queued = self.queue.len();
        for flush in &mut self.flushes {
            flush.remaining = flush.remaining.min(queued);
        }
    }

    fn release_room(&self, items: usize) {
        if items > 0
            && let Some(room) = &self.room
        {
            room.add_permits(items);
        }
    }
}

/// When an item that arrived at `arrived` has waited `max_wait_time`, or `None` for "no
/// time limit": a wait too long to add to an instant (`Duration::MAX`), or one ending
/// within a second of the last instant, which tokio's timer cannot hold (it rounds a
/// deadline up to the next millisecond and would overflow). Such a wait outlasts any
/// program, so "forever" is what it means.
fn wait_deadline(arrived: Instant, max_wait_time: Duration) -> Option<Instant> {
    let deadline = arrived.checked_add(max_wait_time)?;
    deadline.checked_add(Duration::from_secs(1))?;
    Some(deadline)
}

// Whether the worker ends normally or is dropped with its runtime, no room will be
// given back after this: closing the room wakes callers of `add` waiting for it, who
// then report `Stopped` (or `Closed` after `close`) instead of waiting forever.
impl<I, O, E, F> Drop for Worker<I, O, E, F> {
    fn drop(&mut self) {
        if let Some(room) = &self.room {
            room.close();
        }
    }
}

/// Runs the operation on one batch and sends each caller its own outcome.
async fn run_batch<I, O, E, F, Fut>(
    op: Arc<F>,
    dedup: Option<Dedup<I, O>>,
    items: Vec<I>,
    replies: Vec<oneshot::Sender<Outcome<O, E>>>,
) where
    F: Fn(Vec<I>) -> Fut,
    Fut: Future<Output = Result<Vec<O>, E>>,
{
    let (items, positions) = match dedup {
        Some(dedup) => dedup.split(items),
        None => (items, None),
    };
    let expected = items.len();
    // Catch a panic both in the call that makes the future and while it runs, so that a
    // panicking operation fails only this batch's callers, with a clear error.
    let outcome = match panic::catch_unwind(AssertUnwindSafe(|| op(items))) {
        Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
        Err(payload) => Err(payload),
    };
    match outcome {
        Ok(Ok(outputs)) if outputs.len() == expected => {
            let outputs = match (dedup, positions) {
                (Some(dedup), Some(positions)) => dedup.expand(&outputs, &positions),
                _ => outputs,
            };
            for (reply, output) in replies.into_iter().zip(outputs) {
                // The caller may have gone away meanwhile; its output is then dropped.
                let _ = reply.send(Ok(output));
            }
        }
        Ok(Ok(outputs)) => {
            event!(
                error,
                expected,
                actual = outputs.len(),
                "the batch operation returned the wrong number of outputs"
            );
            fan_out(
                replies,
                &BatchError::WrongLength {
                    expected,
                    actual: outputs.len(),
                },
            );
        }
        Ok(Err(error)) => {
            event!(debug, size = expected, "the batch operation failed");
            fan_out(replies, &BatchError::Failed(Arc::new(error)));
        }
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            event!(error, size = expected, %message, "the batch operation panicked");
            fan_out(replies, &BatchError::Panicked { message });
        }
    }
}

fn fan_out<O, E>(replies: Vec<oneshot::Sender<Outcome<O, E>>>, error: &BatchError<E>) {
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        return (*message).to_owned();
    }
    if let Some(message) = payload.downcast_ref::<String>() {
        return message.clone();
    }
    "a non-string panic payload".to_owned()
}
