//! Spawning: a task starts at once, or waits in the queue behind `max_concurrency`
//! and is started, in spawn order, from whichever thread frees a slot.
//!
//! Invariants: `running` counts the slots marked running (spawned, not queued) and
//! never exceeds `max_concurrency`; a queued task is never spawned once the group is
//! closing (its token cancelled or `closing_since` set); a task's abort handle reaches
//! its slot (through the hand-off, `handoff.rs`) or the task is aborted because the
//! hand-off saw the group aborted.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use super::run::{self, Task, TaskGuard};
use super::slots::Stop;
use super::{Shared, State};
use crate::error::SpawnError;
use crate::task::TaskId;

thread_local! {
    /// Set while this thread starts queued tasks. A runtime that is shutting down drops
    /// a task's future inside `spawn`; the guard's report then must not start the next
    /// queued task recursively (the loop in `start_queued` does it), or a long queue
    /// would overflow the stack.
    pub(super) static STARTING_QUEUED: Cell<bool> = const { Cell::new(false) };
}

/// Clears `STARTING_QUEUED` when `start_queued` returns, also by unwinding.
struct ResetOnDrop;

impl Drop for ResetOnDrop {
    fn drop(&mut self) {
        STARTING_QUEUED.set(false);
    }
}

/// A task waiting for a free slot: its future, with the guard that reports its end.
pub(super) struct Queued {
    pub(super) slot: usize,
    pub(super) id: TaskId,
    pub(super) task: Pin<Box<dyn Future<Output = ()> + Send + 'static>>,
}

impl<T, E> Shared<T, E> {
    // `track_caller` down to `tokio::spawn`, so that a panic outside a runtime and
    // tokio's task spawn location name the user's `spawn` call.
    #[track_caller]
    pub(crate) fn spawn<F>(self: &Arc<Self>, body: F) -> Result<TaskId, SpawnError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        if self.max_concurrency.is_some() {
            // Queued tasks are started later, from whichever thread frees a slot.
            // Not `get_or_init(Handle::current)`: a function pointer would lose the
            // caller's location.
            if self.runtime.get().is_none() {
                let _ = self.runtime.set(Handle::current());
            }
        }
        // Reserve a slot first and attach the abort handle after `tokio::spawn`: the
        // lock is not held while tokio runs (a runtime that is shutting down drops the
        // future, and so its guard, right inside `spawn`), and a task that ends before
        // its handle is attached simply frees its slot. The handle waits in `pending`
        // until the group's lock is taken again.
        // The token has a lock of its own: look at it before taking the group's, so
        // that the two are never held together.
        let token_cancelled = self.cancelled_from_outside();
        let mut state = self.lock();
        if state.finished {
            return Err(SpawnError::Finished);
        }
        if state.failed {
            return Err(SpawnError::Failed);
        }
        if state.cancel_requested || token_cancelled {
            return Err(SpawnError::Cancelled);
        }
        let id = TaskId::new(state.next_id);
        state.next_id += 1;
        // Queued tasks go first, so that tasks start in spawn order.
        let start_now = match self.max_concurrency {
            None => true,
            Some(limit) => state.running < limit && state.queue.is_empty(),
        };
        if start_now {
            // This task's handle will wait in `pending`: move the earlier ones over.
            self.attach_pending(&mut state);
        }
        let (slot, ended) = state.tasks.reserve(id, start_now);
        let task = run::run(Task::new(TaskGuard::new(Arc::clone(self), slot, id), body));
        if !start_now {
            let task = Box::pin(task);
            state.queue.push_back(Queued { slot, id, task });
            return Ok(id);
        }
        state.running += 1;
        drop(state);
        drop(ended);
        self.start(slot, id, task);
        Ok(id)
    }

    /// Spawns a task whose slot is reserved and counted as running, on the current
    /// runtime, and leaves its abort handle in `pending`.
    #[track_caller]
    fn start<F>(&self, slot: usize, id: TaskId, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = self.spawn_task(id, task, None);
        // The group may have been torn down since the reservation: either the
        // teardown takes this handle, or `park` sees it and this tears down again.
        if self.handoff.park((slot, id, handle)) {
            self.abort_remaining();
        }
    }

    fn attached(&self, attached: Result<(), AbortHandle>) {
        match attached {
            // The group may have been torn down between the reservation and now.
            Ok(()) if self.handoff.is_aborted() => self.abort_remaining(),
            Ok(()) => {}
            // The task has ended already; its handle is dropped here, outside the lock.
            Err(unused) => drop(unused),
        }
    }

    /// Starts `next` (a queued task already counted as running), then further queued
    /// tasks while slots are free and the group is not cancelling.
    pub(super) fn start_queued(&self, next: Option<Queued>) {
        let Some(runtime) = self.runtime.get() else {
            return;
        };
        // A recursive call (see `STARTING_QUEUED`) never gets a task to start:
        // `complete` pops none while this thread is starting queued tasks.
        if STARTING_QUEUED.replace(true) {
            return;
        }
        let _reset = ResetOnDrop;
        let mut next = next;
        while let Some(queued) = next.take() {
            // A cancelled token stops queued tasks even before the owner notices it:
            // the task is dropped unpolled, and its guard reports it (the flag above
            // keeps that report from starting another one). The token's lock is looked
            // at here, never under the group's.
            if self.cancelled_from_outside() {
                self.lock()
                    .tasks
                    .mark_stopping(queued.slot, Stop::Unstarted);
                drop(queued);
                break;
            }
            let handle = self.spawn_task(queued.id, queued.task, Some(runtime));
            let attached = {
                let mut state = self.lock();
                // Under the same lock, the next task if another slot is free: tasks
                // that ended on this thread while it was starting this one.
                next = Self::next_queued(self.max_concurrency, &mut state);
                state.tasks.attach(queued.slot, queued.id, handle)
            };
            self.attached(attached);
        }
    }

    /// Takes the next queued task and counts it as running, if a slot is free and the
    /// group is not cancelling (its token is checked by `start_queued`).
    pub(super) fn next_queued(
        max_concurrency: Option<usize>,
        state: &mut State<T, E>,
    ) -> Option<Queued> {
        let limit = max_concurrency?;
        if state.running >= limit || state.closing_since.is_some() {
            return None;
        }
        let next = state.queue.pop_front()?;
        state.running += 1;
        state.tasks.mark_running(next.slot);
        Some(next)
    }

    #[track_caller]
    fn spawn_task<F>(&self, id: TaskId, task: F, runtime: Option<&Handle>) -> AbortHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        #[cfg(feature = "tracing")]
        let task = tracing::Instrument::instrument(
            task,
            tracing::debug_span!(parent: &self.span, "task", id = id.as_u64()),
        );
        #[cfg(not(feature = "tracing"))]
        let _ = id;
        #[expect(
            clippy::disallowed_methods,
            reason = "this is the group's own spawn: the task is tracked and aborted by the group"
        )]
        match runtime {
            None => tokio::spawn(task).abort_handle(),
            Some(runtime) => runtime.spawn(task).abort_handle(),
        }
    }
}
