//! The background task that forms batches, runs the operation and routes outputs.
//!
//! One worker runs per batcher. It owns the queue, so forming a batch, removing a
//! cancelled item and deciding when to send need no lock. A cancelled item costs the
//! worker O(1): it is never searched for, only skipped when met at the front or when
//! its batch forms, or swept out with others once they outnumber the live items (see
//! `claim.rs`).
//!
//! The queues themselves, one per key with `key_fn`, are lanes (`lanes.rs`); this file
//! decides, lane by lane, when a batch is due.
//!
//! The file runs past 450 lines because the queue's bookkeeping (the live count,
//! sweeping, flush sequence numbers, the dispatch policy, lanes' deadlines) only makes
//! sense read together; its unit tests, which count the worker's steps from inside,
//! are in `tests.rs`.
//!
//! Running batches are futures the worker polls itself (`run.rs`), as a hand-written
//! batching loop runs its operation inline, not tasks of their own: a spawn per batch
//! cost more than the rest of the batch's bookkeeping at small batches (see
//! docs/benchmarks.md). Each batch's future still owns its callers' reply channels, so
//! batches that finish out of order cannot cross outputs, and a panic anywhere in it
//! fails only its own callers.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt as _, StreamExt as _};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::claim::{Claim, Room};
use crate::config::Config;
use crate::dedup::Dedup;
use crate::draining::DrainEntry;
use crate::error::BatchError;
use crate::lanes::{Key, Lanes};
use crate::metrics;
use crate::policy::BatchPolicy;
use crate::run::{BatchId, panic_message, run_batch};
use crate::ticket::Outcome;

/// How many messages the worker takes from its channel in one go.
const RECEIVE_CHUNK: usize = 1024;

/// What a batcher handle sends to its worker.
pub(crate) enum Message<I, O, E> {
    /// A new item and where its output goes.
    Item(Entry<I, O, E>),
    /// Send every queued item now; drop the sender once they have been processed.
    Flush(oneshot::Sender<()>),
    /// Accept nothing more; send everything, finish, then stop.
    Close,
}

/// One accepted item, the channel its outcome goes back on, and its claim.
pub(crate) struct Entry<I, O, E> {
    pub(crate) item: I,
    pub(crate) reply: oneshot::Sender<Outcome<O, E>>,
    /// Shared with the item's ticket: whichever of the two claims the item first sends
    /// it (the worker) or cancels it (the ticket).
    pub(crate) claim: Claim,
    /// The caller's deadline, for `add` under `uno_deadline`: a batch formed at or
    /// after it leaves the item out. The caller's own timer usually cancels the item
    /// first; this check makes "never sent after its deadline" hold whichever task
    /// runs first at that instant.
    pub(crate) deadline: Option<Instant>,
    /// What the item counts against `max_batch_weight` (0 without one).
    pub(crate) weight: usize,
    /// The item's key, with `key_fn`: its lane.
    pub(crate) key: Option<Box<dyn Key>>,
}

/// An entry waiting in the worker's queue. Its ticket may have been dropped since it
/// was queued: such an entry stays where it is until it is skipped or swept out.
struct Queued<I, O, E> {
    entry: Entry<I, O, E>,
    /// When the worker first saw the entry; `max_wait_time` counts from here.
    arrived: Instant,
    /// The order in which the worker queued the entry, from 0; a flush covers every
    /// entry queued before it by this number, whatever was skipped or swept since.
    sequence: u64,
}

/// A `flush` call waiting for the items queued before it to be processed.
struct FlushWaiter {
    /// The flush covers the queued entries whose sequence is below this.
    until: u64,
    /// Once no covered entry is queued any more: the batches still running that hold
    /// covered items. The flush is done when this is empty.
    running: Option<HashSet<BatchId>>,
    /// Dropped (never sent on) to tell the `flush` call it is done.
    _done: oneshot::Sender<()>,
}

impl FlushWaiter {
    /// Whether the entry at the front of the queue, numbered `front`, is one this
    /// flush still waits to see sent.
    fn covers(&self, front: u64) -> bool {
        self.running.is_none() && front < self.until
    }
}

/// A running batch, polled by the worker; resolves to its id and its lane's slot.
type Running = Pin<Box<dyn Future<Output = (BatchId, usize)> + Send>>;

/// The channels a worker is started with.
pub(crate) struct Channels<I, O, E> {
    pub(crate) receiver: mpsc::UnboundedReceiver<Message<I, O, E>>,
    pub(crate) room: Arc<Room>,
    pub(crate) finished: watch::Sender<bool>,
    pub(crate) drain: Arc<DrainEntry>,
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
    /// Queued entries, in lanes, each in the order they were accepted, including
    /// cancelled ones not yet skipped or swept out.
    lanes: Lanes<Queued<I, O, E>>,
    /// The lanes to check this turn (kept to reuse its allocation).
    due: Vec<usize>,
    /// How many queued entries are live: not cancelled, as far as the worker has
    /// counted (see [`Room::take_cancelled`]). This, not the number queued, is what
    /// fills an unkeyed batch; a keyed lane counts its queued entries (see
    /// [`Builder::key_fn`](crate::Builder::key_fn)).
    live: usize,
    /// The sequence number the next queued entry gets.
    next_sequence: u64,
    room: Arc<Room>,
    /// The running batches, each resolving to its own id when done.
    in_flight: FuturesUnordered<Running>,
    /// The ids of `in_flight`'s batches, which `FuturesUnordered` does not list.
    /// A set, as with keys a batcher may run many batches at once.
    running: HashSet<BatchId>,
    /// The id the next batch gets.
    next_batch: BatchId,
    flushes: Vec<FlushWaiter>,
    finished: watch::Sender<bool>,
    /// Where the worker publishes what it holds, for exit paths.
    drain: Arc<DrainEntry>,
    /// Whether every handle is gone while items were queued; warned about once.
    warned_dropped: bool,
    /// How many times the worker looked at a queued entry, so that a unit test can
    /// check that cancelling costs O(1) without timing anything.
    #[cfg(test)]
    visits: usize,
}

/// Cancelled entries are swept out of the queue when they are at least this many and
/// outnumber the live ones: each sweep then removes at least half of what it looks at,
/// so its cost is O(1) per cancelled entry, and the queue never holds more than about
/// twice its live entries.
const SWEEP_AT_LEAST: usize = 64;

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
            lanes: Lanes::new(config.keyed),
            due: Vec::new(),
            live: 0,
            next_sequence: 0,
            room: channels.room,
            in_flight: FuturesUnordered::new(),
            next_batch: 0,
            running: HashSet::new(),
            flushes: Vec::new(),
            finished: channels.finished,
            drain: channels.drain,
            warned_dropped: false,
            #[cfg(test)]
            visits: 0,
        }
    }

    pub(crate) async fn run(mut self) {
        let mut incoming = Vec::with_capacity(RECEIVE_CHUNK);
        // One timer, moved only when the deadline changes, rather than a new one per turn.
        let timer = tokio::time::sleep_until(Instant::now());
        tokio::pin!(timer);
        let mut timer_deadline = None;
        loop {
            let deadline = self.turn();
            self.drain.publish(self.live, self.in_flight.len());
            if !self.receiving && self.lanes.queued == 0 && self.in_flight.is_empty() {
                break;
            }
            if let Some(deadline) = deadline
                && timer_deadline != Some(deadline)
            {
                timer.as_mut().reset(deadline);
                timer_deadline = Some(deadline);
            }
            // A dropped ticket does not wake the worker: it gives its room back itself,
            // and its entry is skipped or swept out whenever the worker next runs.
            tokio::select! {
                biased;
                Some((id, slot)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    self.batch_finished(id, slot);
                }
                received = self.receiver.recv_many(&mut incoming, RECEIVE_CHUNK), if self.receiving => {
                    if received == 0 {
                        // Closed and drained: every handle is gone, or `close` was called.
                        if !self.closing {
                            self.warn_dropped();
                        }
                        self.receiving = false;
                        self.close_lanes();
                    }
                    self.accept(&mut incoming);
                }
                () = &mut timer, if deadline.is_some() => {}
            }
        }
        event!(debug, "batcher worker finished");
        self.finished.send_replace(true);
    }

    /// Every handle was dropped without `close` while items were queued: they are sent
    /// in the background, which only an exit path that waits for [`Draining`] (such as
    /// uno-signal's `Shutdown::run`) is sure to let finish. Says so once.
    fn warn_dropped(&mut self) {
        if self.warned_dropped || self.live == 0 {
            return;
        }
        self.warned_dropped = true;
        event!(
            warn,
            batcher = self.drain.name(),
            queued = self.live,
            "a batcher was dropped with {} items queued; they are sent in the background, and only an exit path that waits for them (uno-signal's Shutdown::run) is sure to let that finish; call close().await to wait yourself",
            self.live
        );
    }

    /// Does what is due after anything happened: counts cancellations, starts due
    /// batches, settles flushes. Returns when the worker must wake up by itself.
    fn turn(&mut self) -> Option<Instant> {
        self.count_cancelled();
        let mut due = std::mem::take(&mut self.due);
        self.lanes.due(&mut due);
        for slot in due.drain(..) {
            let deadline = self.start_due_batches(slot);
            self.lanes.set_deadline(slot, deadline);
            self.lanes.release(slot);
        }
        self.due = due;
        self.settle_flushes();
        self.lanes.next_deadline()
    }

    /// From now on everything queued is due at once, in every lane.
    fn close_lanes(&mut self) {
        self.closing = true;
        self.lanes.touch_all();
    }

    fn accept(&mut self, incoming: &mut Vec<Message<I, O, E>>) {
        if incoming.is_empty() {
            return;
        }
        let now = Instant::now();
        for message in incoming.drain(..) {
            match message {
                Message::Item(mut entry) => {
                    // Its caller already went away and gave the room back: never queue it.
                    if !entry.claim.queue() {
                        continue;
                    }
                    self.live += 1;
                    let slot = match self.lanes.slot_for(entry.key.take()) {
                        Ok(slot) => slot,
                        Err(payload) => {
                            self.refuse_unkeyable(entry, payload.as_ref());
                            continue;
                        }
                    };
                    let weight = entry.weight;
                    let queued = Queued {
                        entry,
                        arrived: now,
                        sequence: self.next_sequence,
                    };
                    self.lanes.push(slot, queued, weight);
                    self.next_sequence += 1;
                }
                Message::Flush(done) => {
                    self.flushes.push(FlushWaiter {
                        until: self.next_sequence,
                        running: None,
                        _done: done,
                    });
                    self.lanes.touch_all();
                }
                Message::Close => {
                    event!(debug, queued = self.live, "batcher closing");
                    self.close_lanes();
                    // Items already in the channel are still received and processed;
                    // sends after this point fail, and the caller gets `Closed`.
                    self.receiver.close();
                }
            }
        }
    }

    /// The item's key panicked in its `Hash`, `Eq` or `Drop` as the worker looked for
    /// its lane: the item is not queued, and its caller gets the panic as the batch
    /// operation's would be reported. Settled through its claim, as an expired item
    /// is, so that a caller cancelling at this moment is counted once.
    fn refuse_unkeyable(&mut self, entry: Entry<I, O, E>, payload: &(dyn std::any::Any + Send)) {
        if entry.claim.take() {
            self.live -= 1;
            self.room.give_back(1);
            let message = format!("the item's key panicked: {}", panic_message(payload));
            event!(error, %message, "a batch key panicked");
            let _ = entry.reply.send(Err(BatchError::Panicked { message }));
        }
        // Otherwise its ticket was dropped first and counted the item as cancelled,
        // which `count_cancelled` takes out of `live`.
    }

    /// Takes the cancellations counted by tickets since the last turn out of the live
    /// count, and sweeps cancelled entries out once they outnumber the live ones.
    fn count_cancelled(&mut self) {
        let cancelled = self.room.take_cancelled();
        debug_assert!(
            cancelled <= self.live,
            "each is counted after it was queued"
        );
        self.live = self.live.saturating_sub(cancelled);
        // An estimate that can only fall short: a ticket counts its cancellation just
        // after flipping its claim, so a sweep may already have removed an entry that
        // is still counted as live here.
        let cancelled_queued = self.lanes.queued.saturating_sub(self.live);
        if cancelled_queued >= SWEEP_AT_LEAST && cancelled_queued > self.live {
            self.sweep_cancelled();
        }
    }

    /// Removes every cancelled entry. Flushes count entries by sequence number, so
    /// they stay right.
    fn sweep_cancelled(&mut self) {
        #[cfg(feature = "tracing")]
        let before = self.lanes.queued;
        let _looked = self.lanes.sweep(
            |queued| queued.entry.claim.is_cancelled(),
            |queued| queued.entry.weight,
        );
        #[cfg(test)]
        {
            self.visits += _looked;
        }
        event!(
            trace,
            removed = before - self.lanes.queued,
            "removed cancelled items from the queue"
        );
    }

    /// Pops the cancelled entries at the front, so that the front is the oldest live
    /// entry, whose wait decides when a partial batch is due.
    fn skip_cancelled_front(&mut self, slot: usize) {
        loop {
            let lane = self.lanes.lane(slot);
            let Some(front) = lane.queue.front() else {
                return;
            };
            let cancelled = front.entry.claim.is_cancelled();
            #[cfg(test)]
            {
                self.visits += 1;
            }
            if !cancelled {
                return;
            }
            if let Some(skipped) = lane.queue.pop_front() {
                self.lanes.popped(slot, skipped.entry.weight);
            }
        }
    }

    /// Starts every batch of the lane in `slot` that is due and has room to run.
    /// Returns when the lane's oldest item's wait runs out, if the worker must wake up
    /// for that.
    fn start_due_batches(&mut self, slot: usize) -> Option<Instant> {
        let mut now = None;
        loop {
            self.skip_cancelled_front(slot);
            let live = self.live;
            let lane = self.lanes.lane(slot);
            let oldest = lane.queue.front()?;
            if lane.running >= self.config.max_concurrent_batches {
                // A batch finishing wakes the worker, which then comes back here.
                return None;
            }
            // Past the check above, a slot is free: `Immediate` sends, `Balanced` only
            // when no batch of the lane runs at all. A lane counts what it holds as
            // live, never more than the worker's live count: with one lane, that count.
            let due = match self.config.policy {
                BatchPolicy::Window => false,
                BatchPolicy::Immediate => true,
                BatchPolicy::Balanced => lane.running == 0,
            } || self.closing
                || lane.queue.len().min(live) >= self.config.max_batch_size
                || self
                    .config
                    .max_batch_weight
                    .is_some_and(|max| lane.weight >= max as u128)
                || self
                    .flushes
                    .iter()
                    .any(|flush| flush.covers(oldest.sequence));
            if !due {
                let deadline = wait_deadline(oldest.arrived, self.config.max_wait_time)?;
                if *now.get_or_insert_with(Instant::now) < deadline {
                    return Some(deadline);
                }
            }
            self.start_batch(slot);
        }
    }

    fn start_batch(&mut self, slot: usize) {
        // No more than the lane holds: with many keys, `live` counts every lane's items.
        let capacity = self
            .config
            .max_batch_size
            .min(self.live)
            .min(self.lanes.lane(slot).queue.len());
        let mut items = Vec::with_capacity(capacity);
        let mut replies = Vec::with_capacity(capacity);
        let mut skipped = 0_usize;
        let mut expired = 0_usize;
        let mut now = None;
        let mut oldest = None;
        // A `u128`, as `queued_weight`, so two huge weights cannot saturate into a fit.
        let mut weight = 0_u128;
        while items.len() < self.config.max_batch_size {
            // The next live item would tip the batch over its weight: it starts the next
            // one. A first item always goes, however heavy.
            let lane = self.lanes.lane(slot);
            if let Some(max) = self.config.max_batch_weight
                && !items.is_empty()
                && let Some(front) = lane.queue.front()
                && weight + front.entry.weight as u128 > max as u128
                && !front.entry.claim.is_cancelled()
            {
                break;
            }
            let Some(queued) = lane.queue.pop_front() else {
                break;
            };
            self.lanes.popped(slot, queued.entry.weight);
            let arrived = queued.arrived;
            #[cfg(test)]
            {
                self.visits += 1;
            }
            let entry = queued.entry;
            // Its caller's deadline passed before this batch formed: the item is left
            // out and its caller told, through the same claim a cancel uses.
            if let Some(deadline) = entry.deadline
                && deadline <= *now.get_or_insert_with(Instant::now)
            {
                if entry.claim.expire() {
                    expired += 1;
                    let _ = entry.reply.send(Err(BatchError::DeadlinePassed {
                        deadline,
                        sent: false,
                    }));
                } else {
                    skipped += 1;
                }
                continue;
            }
            // A caller that went away before its batch started: its item is skipped
            // here and never reaches the operation; its ticket gave the room back.
            if !entry.claim.take() {
                skipped += 1;
                continue;
            }
            oldest.get_or_insert(arrived);
            weight += entry.weight as u128;
            items.push(entry.item);
            replies.push(entry.reply);
        }
        if skipped > 0 {
            event!(
                trace,
                removed = skipped,
                "removed cancelled items from the queue"
            );
        }
        if expired > 0 {
            event!(
                trace,
                removed = expired,
                "removed items whose caller's deadline passed from the queue"
            );
        }
        debug_assert!(
            items.len() + expired <= self.live,
            "only live entries are taken or expired"
        );
        self.live = self.live.saturating_sub(items.len() + expired);
        self.room.give_back(items.len() + expired);
        if items.is_empty() {
            return;
        }
        event!(trace, size = items.len(), "starting a batch");
        if let Some(oldest) = oldest {
            metrics::batch_started(self.drain.shared_name(), items.len(), oldest);
        }
        let id = self.next_batch;
        self.next_batch += 1;
        let op = Arc::clone(&self.op);
        let mut batch: Running =
            Box::pin(run_batch(id, op, self.dedup, items, replies).map(move |id| (id, slot)));
        // Polled once right here, as a hand-written loop calls its operation inline: an
        // operation that answers at once costs no trip through `in_flight`. One still
        // pending is polled again by `in_flight`, with the worker's waker, before the
        // worker waits, so nothing is lost by this first poll's waker doing nothing.
        if (&mut batch).now_or_never().is_some() {
            return;
        }
        self.in_flight.push(batch);
        self.running.insert(id);
        self.lanes.lane(slot).running += 1;
    }

    fn batch_finished(&mut self, id: BatchId, slot: usize) {
        self.lanes.lane(slot).running -= 1;
        self.lanes.touch(slot);
        self.running.remove(&id);
        for flush in &mut self.flushes {
            if let Some(running) = &mut flush.running {
                running.remove(&id);
            }
        }
    }

    /// Resolves every flush whose items have all been sent and processed.
    fn settle_flushes(&mut self) {
        if self.flushes.is_empty() {
            return;
        }
        // The oldest entry still queued in any lane.
        let front = self.lanes.fronts().map(|queued| queued.sequence).min();
        let running_now = &self.running;
        self.flushes.retain_mut(|flush| {
            if front.is_some_and(|front| flush.covers(front)) {
                return true;
            }
            let running = flush.running.get_or_insert_with(|| running_now.clone());
            // Dropping the waiter drops its sender, which resolves the `flush` call.
            !running.is_empty()
        });
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
        self.room.close();
    }
}

#[cfg(test)]
mod tests;
