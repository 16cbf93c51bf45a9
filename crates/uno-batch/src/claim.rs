//! Who an accepted item belongs to while it waits: its ticket or the worker.
//!
//! Each item carries a [`Claim`] shared by its ticket and its queue entry, and every
//! handle, ticket and the worker share one [`Room`]. The invariants:
//!
//! - An item is claimed once: by the worker when it takes the item into a batch or
//!   finds its caller's deadline passed (it expires the item instead), or by its ticket
//!   when the ticket is dropped (or its caller's deadline passes) first. A cancelled or
//!   expired item is never sent.
//! - Whoever claims the item gives its room (its `max_pending` permit) back, so room
//!   is given back exactly once, and at once on cancel, without waiting for the
//!   worker.
//! - Cancelling costs O(1): the ticket flips the claim and, when the item had reached
//!   the worker's queue, counts it in [`Room::take_cancelled`]. The worker leaves the
//!   entry where it is and skips it when it forms a batch (or sweeps such entries out
//!   when they outnumber the live ones), so it never searches the queue for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use tokio::sync::Semaphore;

/// The item is in the channel; the worker has not seen it yet.
const SENT: u8 = 0;
/// The item is in the worker's queue.
const QUEUED: u8 = 1;
/// The worker took the item into a batch.
const TAKEN: u8 = 2;
/// The item's ticket was dropped before the worker took it.
const CANCELLED: u8 = 3;
/// The worker found the caller's deadline passed as it formed a batch: it removed the
/// item, gave its room back and told the caller.
const EXPIRED: u8 = 4;

/// What a ticket found when it cancelled its item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// The worker had not seen the item yet; it will drop it unqueued.
    BeforeQueued,
    /// The item was waiting in the worker's queue.
    WhileQueued,
    /// The worker had removed the item because its caller's deadline passed; it gave
    /// the room back and sent the caller the deadline error.
    Expired,
    /// The item was already in a batch: too late, nothing changes.
    TooLate,
}

/// One item's claim, shared by its ticket and its queue entry.
#[derive(Debug, Clone)]
pub(crate) struct Claim(Arc<AtomicU8>);

impl Claim {
    pub(crate) fn new() -> Self {
        Self(Arc::new(AtomicU8::new(SENT)))
    }

    /// Called by the worker as it takes the item into its queue. False when the ticket
    /// was dropped first: the item is then not queued at all.
    pub(crate) fn queue(&self) -> bool {
        self.0
            .compare_exchange(SENT, QUEUED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Called by the worker as it takes the item into a batch. False when the ticket
    /// was dropped first: the item is then skipped.
    pub(crate) fn take(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, TAKEN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Called by the worker, instead of [`take`](Self::take), for a queued item whose
    /// caller's deadline passed before its batch formed. False when the ticket was
    /// dropped first: the item is then skipped as a cancelled one.
    pub(crate) fn expire(&self) -> bool {
        self.0
            .compare_exchange(QUEUED, EXPIRED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Whether the ticket was dropped before the worker took the item.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire) == CANCELLED
    }

    /// Called by a ticket dropped before its output came.
    pub(crate) fn cancel(&self) -> Cancelled {
        match self.0.swap(CANCELLED, Ordering::AcqRel) {
            SENT => Cancelled::BeforeQueued,
            QUEUED => Cancelled::WhileQueued,
            EXPIRED => Cancelled::Expired,
            // Taken (or, impossibly, cancelled twice): writing `CANCELLED` over
            // `TAKEN` is harmless, as nobody looks at the claim after the take.
            _ => Cancelled::TooLate,
        }
    }
}

/// The queue's room and the count of cancelled entries, shared by every handle, ticket
/// and the worker of one batcher.
#[derive(Debug)]
pub(crate) struct Room {
    /// One permit per item that may be queued, when `max_pending` is set.
    permits: Option<Semaphore>,
    /// Items cancelled while in the worker's queue that the worker has not yet
    /// counted out of its live items.
    cancelled: AtomicUsize,
}

impl Room {
    pub(crate) fn new(max_pending: Option<usize>) -> Self {
        Self {
            permits: max_pending.map(Semaphore::new),
            cancelled: AtomicUsize::new(0),
        }
    }

    /// The permits, one per item that may be queued; `None` when unbounded.
    pub(crate) fn permits(&self) -> Option<&Semaphore> {
        self.permits.as_ref()
    }

    /// Gives back the room of `items` items that left the queue.
    pub(crate) fn give_back(&self, items: usize) {
        if items > 0
            && let Some(permits) = &self.permits
        {
            permits.add_permits(items);
        }
    }

    /// Records a dropped ticket: gives its item's room back unless the item was
    /// already in a batch or expired by the worker (which gave it back then), and
    /// counts it if the worker had queued it. Returns what the ticket found.
    pub(crate) fn cancel(&self, claim: &Claim) -> Cancelled {
        let cancelled = claim.cancel();
        match cancelled {
            Cancelled::BeforeQueued => self.give_back(1),
            Cancelled::WhileQueued => {
                self.give_back(1);
                self.cancelled.fetch_add(1, Ordering::AcqRel);
            }
            Cancelled::Expired | Cancelled::TooLate => {}
        }
        cancelled
    }

    /// How many queued items were cancelled since the last call. Each was counted
    /// after the worker queued it, so the worker's live count never goes below zero.
    pub(crate) fn take_cancelled(&self) -> usize {
        self.cancelled.swap(0, Ordering::AcqRel)
    }

    /// Closes the permits: callers waiting for room are woken and refused.
    pub(crate) fn close(&self) {
        if let Some(permits) = &self.permits {
            permits.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_won_once_and_room_is_given_back_once() {
        let room = Room::new(Some(2));
        let permits = room.permits().unwrap();

        // Cancelled before the worker saw it: room back, nothing to count.
        let early = Claim::new();
        permits.try_acquire().unwrap().forget();
        assert_eq!(room.cancel(&early), Cancelled::BeforeQueued);
        assert!(!early.queue());
        assert_eq!((permits.available_permits(), room.take_cancelled()), (2, 0));

        // Cancelled while queued: room back, counted once.
        let queued = Claim::new();
        permits.try_acquire().unwrap().forget();
        assert!(queued.queue());
        assert_eq!(room.cancel(&queued), Cancelled::WhileQueued);
        assert!(queued.is_cancelled());
        assert!(!queued.take());
        assert!(!queued.expire());
        assert_eq!((permits.available_permits(), room.take_cancelled()), (2, 1));
        assert_eq!(room.take_cancelled(), 0);

        // Taken first: the worker gives the room back, the late cancel changes nothing.
        let taken = Claim::new();
        permits.try_acquire().unwrap().forget();
        assert!(taken.queue());
        assert!(taken.take());
        room.give_back(1);
        assert_eq!(room.cancel(&taken), Cancelled::TooLate);
        assert_eq!((permits.available_permits(), room.take_cancelled()), (2, 0));

        // Expired by the worker: it gives the room back; the ticket's cancel that
        // follows neither gives it back again nor counts the item.
        let expired = Claim::new();
        permits.try_acquire().unwrap().forget();
        assert!(expired.queue());
        assert!(expired.expire());
        assert!(!expired.take());
        room.give_back(1);
        assert_eq!(room.cancel(&expired), Cancelled::Expired);
        assert_eq!((permits.available_permits(), room.take_cancelled()), (2, 0));
    }
}
