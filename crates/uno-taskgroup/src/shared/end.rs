//! How tasks end: each task's report (success, failure, panic, deadline, abort or its
//! runtime dropping it), and the group's cancellation, grace period and teardown.
//!
//! Invariants: a task's outcome is recorded once, when its slot is released; the
//! first failure of a fail-fast group (or `cancel()`) sets `closing_since` and drops
//! the queue; `aborted` is set before the live tasks' handles are taken, so that a
//! task spawned meanwhile sees it; no abort handle is used and no queued future is
//! dropped while the state's lock is held (`Teardown` runs after it).

use std::collections::VecDeque;
use std::mem;
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::slots::Stop;
use super::spawn::{Queued, STARTING_QUEUED};
use super::{Failure, Shared, State};
use crate::error::{PanicPayload, TaskError};
use crate::task::{Outcome, Stopped, TaskId};

/// Work to do once the state lock is released: aborting tasks and dropping queued
/// futures both end tasks, whose guards take the lock again.
#[must_use]
struct Teardown {
    abort: Vec<AbortHandle>,
    queued: VecDeque<Queued>,
}

impl Teardown {
    fn run(self) {
        for handle in self.abort {
            handle.abort();
        }
        drop(self.queued);
    }
}

impl<T, E> Shared<T, E> {
    /// Records how a task ended; `None` means it ended without an outcome: aborted by
    /// the group or its owner, or dropped by its runtime shutting down (a failure).
    pub(crate) fn complete(&self, slot: usize, id: TaskId, outcome: Option<Outcome<T, E>>) {
        let mut teardown = None;
        let mut cancel_token = false;
        let mut slot_freed = false;
        let mut next = None;
        let waker = {
            let mut state = self.lock();
            // A task that was released already, or that the group or its owner chose to
            // stop, ended the way they wanted.
            let mut stop = Some(Stop::ByOwner);
            if let Some(released) = state.tasks.release(slot, id) {
                stop = released.stop;
                if released.running {
                    state.running -= 1;
                    slot_freed = !state.queue.is_empty();
                }
            }
            match (outcome, stop) {
                (None, Some(Stop::ByOwner)) => {}
                (None, Some(Stop::Unstarted)) => {
                    state.cancelled.push((id, false));
                    state.dropped_queued += 1;
                }
                (None, None) if self.handoff.is_aborted() => {
                    state.cancelled.push((id, true));
                }
                // Nobody in the group stopped it, so its runtime dropped it: the runtime
                // is shutting down (or was shut down when the task was spawned on it).
                (None, None) => {
                    cancel_token = self.record_failure(&mut state, id, TaskError::RuntimeShutdown);
                }
                (Some(Ok(Ok(value))), _) => {
                    state.successes.push_back(value);
                    state.success_ids.push_back(id);
                    state.successes_reported += 1;
                }
                (Some(Ok(Err(error))), _) => {
                    cancel_token = self.record_failure(&mut state, id, TaskError::Failed(error));
                }
                (Some(Err(Stopped::Panicked(payload))), _) => {
                    let error = TaskError::Panicked(PanicPayload::new(payload));
                    cancel_token = self.record_failure(&mut state, id, error);
                }
                (Some(Err(Stopped::DeadlinePassed)), _) => {
                    cancel_token = self.record_failure(&mut state, id, TaskError::DeadlinePassed);
                }
            }
            if cancel_token {
                teardown = Some(match self.grace_period.is_zero() {
                    true => self.abort_all(&mut state),
                    false => Self::drop_queue(&mut state),
                });
            } else if slot_freed && !STARTING_QUEUED.get() {
                // Take the freed slot's next task under this lock rather than a new one.
                next = Self::next_queued(self.max_concurrency, &mut state);
            }
            if state.tasks.live == 0 || state.wake_on_each_completion {
                state.joiner.take()
            } else {
                None
            }
        };
        if cancel_token {
            #[cfg(feature = "tracing")]
            tracing::debug!(parent: &self.span, task = id.as_u64(), "task failed, cancelling the group");
            self.token.cancel();
        }
        if let Some(teardown) = teardown {
            teardown.run();
        }
        if slot_freed {
            self.start_queued(next);
        }
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Returns whether this failure starts the group's cancellation.
    fn record_failure(&self, state: &mut State<T, E>, id: TaskId, error: TaskError<E>) -> bool {
        state.any_failure = true;
        state.failures.push_back(Failure {
            id,
            error,
            successes_before: state.successes_reported,
        });
        if !self.fail_fast || state.failed || state.finished {
            return false;
        }
        state.failed = true;
        if state.closing_since.is_none() {
            state.closing_since = Some(Instant::now());
        }
        true
    }

    /// Tasks still waiting for a slot when the group starts cancelling never start:
    /// their futures are dropped without being polled.
    fn drop_queue(state: &mut State<T, E>) -> Teardown {
        let queued = mem::take(&mut state.queue);
        for task in &queued {
            state.tasks.mark_stopping(task.slot, Stop::Unstarted);
        }
        Teardown {
            abort: Vec::new(),
            queued,
        }
    }

    /// Takes every live task's abort handle and every queued task, to be aborted and
    /// dropped once the lock is released.
    fn abort_all(&self, state: &mut State<T, E>) -> Teardown {
        self.handoff.mark_aborted();
        self.attach_pending(state);
        let queued = mem::take(&mut state.queue);
        for task in &queued {
            state.tasks.mark_stopping(task.slot, Stop::Unstarted);
        }
        Teardown {
            abort: state.tasks.take_handles(),
            queued,
        }
    }

    pub(crate) fn cancel(&self) {
        let teardown = {
            let mut state = self.lock();
            if state.finished {
                return;
            }
            state.cancel_requested = true;
            if state.closing_since.is_none() {
                state.closing_since = Some(Instant::now());
            }
            match self.grace_period.is_zero() {
                true => self.abort_all(&mut state),
                false => Self::drop_queue(&mut state),
            }
        };
        #[cfg(feature = "tracing")]
        tracing::debug!(parent: &self.span, "task group cancelled");
        self.token.cancel();
        teardown.run();
    }

    /// Called by the owner once it sees the group's token cancelled: returns when the
    /// grace period ends, or `None` when the tasks were aborted already or the grace
    /// period is too long to end (it then lasts forever).
    pub(crate) fn closing_deadline(&self) -> Option<Instant> {
        let (teardown, deadline) = {
            let mut state = self.lock();
            if self.handoff.is_aborted() {
                return None;
            }
            let since = *state.closing_since.get_or_insert_with(Instant::now);
            match grace_deadline(since, self.grace_period) {
                // A grace period too long to end is as good as endless: the tasks are
                // waited for, never aborted by the group.
                None => (Self::drop_queue(&mut state), None),
                Some(deadline) if !self.grace_period.is_zero() && Instant::now() < deadline => {
                    (Self::drop_queue(&mut state), Some(deadline))
                }
                Some(_) => (self.abort_all(&mut state), None),
            }
        };
        teardown.run();
        deadline
    }

    /// Aborts every task that is still live: the grace period is over.
    pub(crate) fn abort_remaining(&self) {
        let teardown = self.abort_all(&mut self.lock());
        teardown.run();
    }

    pub(crate) fn abort_task(&self, id: TaskId) -> bool {
        let (handle, queued) = {
            let mut state = self.lock();
            self.attach_pending(&mut state);
            let queued = state
                .queue
                .iter()
                .position(|queued| queued.id == id)
                .and_then(|index| state.queue.remove(index));
            if let Some(queued) = &queued {
                state.tasks.mark_stopping(queued.slot, Stop::ByOwner);
            }
            (state.tasks.stop(id), queued)
        };
        match (handle, queued) {
            (Some(handle), _) => {
                handle.abort();
                true
            }
            // Dropped outside the lock: its guard reports the end of the task.
            (None, Some(queued)) => {
                drop(queued);
                true
            }
            (None, None) => false,
        }
    }

    /// The owner is gone: refuse new tasks and abort every live one, right away.
    pub(crate) fn shut_down(&self) {
        let (teardown, live) = {
            let mut state = self.lock();
            if state.finished {
                return;
            }
            state.finished = true;
            (self.abort_all(&mut state), state.tasks.live)
        };
        if live != 0 {
            self.token.cancel();
        }
        teardown.run();
    }
}

/// When a grace period that started at `since` ends; `None` when it never does.
///
/// A grace period too long to add to an instant (`Duration::MAX`) means "forever", as
/// in the other uno crates. So does one that ends within a second of the last instant
/// the clock can represent: tokio's timer rounds deadlines up and would overflow there.
fn grace_deadline(since: Instant, grace_period: Duration) -> Option<Instant> {
    let deadline = since.checked_add(grace_period)?;
    deadline.checked_add(Duration::from_secs(1))?;
    Some(deadline)
}
