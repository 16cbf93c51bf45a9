//! The slots of a group's live tasks: each holds a task's abort handle and how it is
//! meant to end, and is reused once its task ends.
//!
//! Invariants: a slot is `Live` from `reserve` until `release` for the same task id
//! (a stale id finds nothing), `live` counts the `Live` slots, and every free slot is
//! `Vacant`, keeping the handle of the task that used it last until it is reused (see
//! the parent module for why).

use std::mem;

use tokio::task::AbortHandle;

use crate::task::TaskId;

/// The abort handles of live tasks, in reusable slots so that a task can find and free
/// its own entry in constant time.
#[derive(Default)]
pub(super) struct Slots {
    entries: Vec<Slot>,
    free: Vec<usize>,
    /// Slots in use: tasks that are live (running or queued).
    pub(super) live: usize,
}

pub(super) enum Slot {
    /// Free, with the abort handle of the task that used it last, if any (see the
    /// module's documentation).
    Vacant { ended: Option<AbortHandle> },
    Live {
        id: TaskId,
        handle: Option<AbortHandle>,
        /// Spawned (counted against the concurrency limit), not waiting in the queue.
        running: bool,
        /// The group (or its owner, through `abort`) chose to stop this task: if it
        /// ends without an outcome, that is why. Group-wide aborts of running tasks
        /// are in `aborted`.
        stop: Option<Stop>,
    },
}

impl Slots {
    /// How many slots exist, live or free.
    #[cfg(test)]
    pub(super) fn count(&self) -> usize {
        self.entries.len()
    }

    /// Takes a slot for task `id`; also returns the handle of the ended task that used
    /// the slot before, to be dropped once the lock is released.
    pub(super) fn reserve(&mut self, id: TaskId, running: bool) -> (usize, Option<AbortHandle>) {
        self.live += 1;
        let entry = Slot::Live {
            id,
            handle: None,
            running,
            stop: None,
        };
        match self.free.pop() {
            Some(slot) => match mem::replace(&mut self.entries[slot], entry) {
                Slot::Vacant { ended } => (slot, ended),
                // Free slots are vacant.
                Slot::Live { .. } => (slot, None),
            },
            None => {
                self.entries.push(entry);
                (self.entries.len() - 1, None)
            }
        }
    }

    /// Stores the handle of task `id`, or gives it back when the task has ended already.
    pub(super) fn attach(
        &mut self,
        slot: usize,
        id: TaskId,
        handle: AbortHandle,
    ) -> Result<(), AbortHandle> {
        match &mut self.entries[slot] {
            Slot::Live {
                id: live_id,
                handle: stored,
                ..
            } if *live_id == id => {
                *stored = Some(handle);
                Ok(())
            }
            _ => Err(handle),
        }
    }

    pub(super) fn mark_running(&mut self, slot: usize) {
        if let Slot::Live { running, .. } = &mut self.entries[slot] {
            *running = true;
        }
    }

    /// Marks the task in `slot` as stopped on purpose (see `Slot::Live::stop`).
    pub(super) fn mark_stopping(&mut self, slot: usize, why: Stop) {
        if let Slot::Live { stop, .. } = &mut self.entries[slot] {
            *stop = Some(why);
        }
    }

    /// Frees the slot of task `id`; returns whether the task was running and whether it
    /// was being stopped on purpose, or `None` if it was released already.
    pub(super) fn release(&mut self, slot: usize, id: TaskId) -> Option<Released> {
        let (released, ended) = match &mut self.entries[slot] {
            Slot::Live {
                id: live_id,
                running,
                handle,
                stop,
            } if *live_id == id => (
                Released {
                    running: *running,
                    stop: *stop,
                },
                handle.take(),
            ),
            _ => return None,
        };
        self.entries[slot] = Slot::Vacant { ended };
        self.free.push(slot);
        self.live -= 1;
        Some(released)
    }

    pub(super) fn take_handles(&mut self) -> Vec<AbortHandle> {
        self.entries
            .iter_mut()
            .filter_map(|entry| match entry {
                Slot::Live { handle, .. } => handle.take(),
                Slot::Vacant { .. } => None,
            })
            .collect()
    }

    /// The handle of live task `id`, which is marked as being stopped on purpose: the
    /// caller aborts it.
    pub(super) fn stop(&mut self, id: TaskId) -> Option<AbortHandle> {
        self.entries.iter_mut().find_map(|entry| match entry {
            Slot::Live {
                id: live_id,
                handle: Some(handle),
                stop,
                ..
            } if *live_id == id => {
                *stop = Some(Stop::ByOwner);
                Some(handle.clone())
            }
            _ => None,
        })
    }
}

/// What `Slots::release` found about a task that ended.
pub(super) struct Released {
    pub(super) running: bool,
    pub(super) stop: Option<Stop>,
}

/// Why a task was stopped on purpose, when it ends without an outcome.
#[derive(Clone, Copy)]
pub(super) enum Stop {
    /// The owner aborted it with `abort(id)`: it is not reported at all.
    ByOwner,
    /// It was queued by `max_concurrency` and dropped unpolled when the group cancelled.
    Unstarted,
}
