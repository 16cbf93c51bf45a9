//! The future that resolves to one queued item's output.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::sync::oneshot;

use crate::claim::{Cancelled, Claim, Room};
use crate::error::BatchError;

/// What the worker sends back for one item.
pub(crate) type Outcome<O, E> = Result<O, BatchError<E>>;

/// One queued item's claim on its output, returned by
/// [`try_add`](crate::AsyncBatcher::try_add).
///
/// Await it to get the item's own output, or the [`BatchError`] that its batch ended
/// with. A ticket does not borrow the batcher: it can be moved into another task, and it
/// stays valid after every batcher handle is dropped (the worker still sends the
/// item; see [`AsyncBatcher`](crate::AsyncBatcher#dropping-the-last-handle)).
///
/// # Cancel safety
///
/// Dropping a ticket before it completes cancels its item: if the item's batch has not
/// started, the item is removed from the queue and never given to the batch operation,
/// and its room (see [`max_pending`](crate::Builder::max_pending)) is given back at once
/// by the drop itself, which costs O(1) however long the queue is;
/// if the batch is already running, the item's output is discarded and the other items
/// of the batch are not disturbed. Polling `&mut ticket` in a `tokio::select!` branch
/// that loses is cancel-safe: the ticket keeps its place and can be awaited again.
#[must_use = "dropping a ticket cancels its item: await it, or bind it with `let _ticket = ...` (not `let _ = ...`, which drops it at once)"]
pub struct Ticket<O, E> {
    receiver: oneshot::Receiver<Outcome<O, E>>,
    claim: Claim,
    room: Arc<Room>,
    completed: bool,
}

impl<O, E> Ticket<O, E> {
    pub(crate) fn new(
        receiver: oneshot::Receiver<Outcome<O, E>>,
        claim: Claim,
        room: Arc<Room>,
    ) -> Self {
        Self {
            receiver,
            claim,
            room,
            completed: false,
        }
    }
}

impl<O, E> Ticket<O, E> {
    /// Gives up on the item because its caller's `deadline` passed, through the same
    /// O(1) claim a dropped ticket uses, and says what the caller gets: its own outcome
    /// if its batch delivered it just now (a value ready at the deadline is kept, as
    /// with `tokio::time::timeout`), otherwise [`BatchError::DeadlinePassed`], with
    /// `sent` telling whether the operation had the item. Never another item's
    /// outcome: the receiver is this item's own.
    pub(crate) fn expire(mut self, deadline: tokio::time::Instant) -> Outcome<O, E> {
        self.completed = true;
        // Closed first, so that a batch finishing from now on drops the output instead
        // of sending it; one sent before is still received below.
        self.receiver.close();
        let sent = match self.room.cancel(&self.claim) {
            Cancelled::BeforeQueued | Cancelled::WhileQueued => false,
            // The worker expired the item and sends its own error right after: not sent.
            Cancelled::Expired => false,
            Cancelled::TooLate => true,
        };
        if sent && let Ok(outcome) = self.receiver.try_recv() {
            return outcome;
        }
        Err(BatchError::DeadlinePassed { deadline, sent })
    }
}

impl<O, E> Future for Ticket<O, E> {
    type Output = Result<O, BatchError<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let received = ready!(Pin::new(&mut self.receiver).poll(cx));
        self.completed = true;
        // The reply is dropped without a value only when the worker itself was dropped,
        // which happens when its runtime shuts down.
        Poll::Ready(received.unwrap_or(Err(BatchError::Stopped)))
    }
}

impl<O, E> Drop for Ticket<O, E> {
    fn drop(&mut self) {
        if self.completed {
            return;
        }
        // Cancelling is O(1) and needs no help from the worker: the claim tells the
        // worker to skip the item, and the room is given back here, at once (unless the
        // item's batch already started, when the worker gave it back). Closing the
        // channel lets a running batch drop this output early.
        self.receiver.close();
        self.room.cancel(&self.claim);
    }
}

impl<O, E> fmt::Debug for Ticket<O, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket")
            .field("completed", &self.completed)
            .finish_non_exhaustive()
    }
}
