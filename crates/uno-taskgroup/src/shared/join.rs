//! Polling the group's end: `join` (every success in spawn order, or the failures),
//! `join_settled` (every outcome in spawn order) and `join_next` (one outcome at a
//! time, in completion order).
//!
//! Invariants: `join` and `join_settled` are ready only once no task is live, and mark
//! the group finished; `join_next` hands out a failure exactly after the successes
//! reported before it; results are dropped outside the state's lock.

use std::collections::VecDeque;
use std::mem;
use std::task::Waker;

use super::Shared;
use crate::error::{GroupError, TaskError};
use crate::settled::Settled;
use crate::task::TaskId;

/// What one poll of the group found, for `join` and `join_next`.
pub(crate) enum Progress<R> {
    Ready(R),
    Pending,
}

impl<T, E> Shared<T, E> {
    /// `join`'s poll: ready, and the group finished, once no task is live.
    pub(crate) fn poll_join(&self, waker: &Waker) -> Progress<Result<Vec<T>, GroupError<E>>> {
        let mut state = self.lock();
        // Frees the memory of tasks that ended before their handle was attached.
        self.attach_pending(&mut state);
        if state.tasks.live != 0 {
            state.wake_on_each_completion = false;
            register(&mut state.joiner, waker);
            return Progress::Pending;
        }
        state.finished = true;
        let cancelled = state.cancel_requested || (!state.failed && self.token.is_cancelled());
        let values = mem::take(&mut state.successes);
        let ids = mem::take(&mut state.success_ids);
        let dropped_queued = state.dropped_queued;
        if cancelled || state.failed || state.any_failure {
            let failures: Vec<_> = state
                .failures
                .drain(..)
                .map(|failure| (failure.id, failure.error))
                .collect();
            drop(state);
            // The results of a failed group are dropped here, outside the lock, as they
            // may run user code.
            drop(values);
            return Progress::Ready(Err(GroupError::new(failures, cancelled, dropped_queued)));
        }
        drop(state);
        if mem::size_of::<T>() == 0 {
            return Progress::Ready(Ok(values.into()));
        }
        Progress::Ready(Ok(in_spawn_order(ids.into_ids(), values)))
    }

    /// `join_settled`'s poll: like `join`'s, but every outcome, in spawn order.
    pub(crate) fn poll_join_settled(&self, waker: &Waker) -> Progress<Settled<T, E>> {
        let mut state = self.lock();
        self.attach_pending(&mut state);
        if state.tasks.live != 0 {
            state.wake_on_each_completion = false;
            register(&mut state.joiner, waker);
            return Progress::Pending;
        }
        state.finished = true;
        let cancelled = state.cancel_requested || (!state.failed && self.token.is_cancelled());
        let values = mem::take(&mut state.successes);
        let mut ids = mem::take(&mut state.success_ids).into_ids();
        let failures = mem::take(&mut state.failures);
        let stopped = mem::take(&mut state.cancelled);
        let dropped_queued = state.dropped_queued;
        drop(state);
        // Each outcome carries its id, and the pairs are put into spawn order by id.
        let mut outcomes: VecDeque<(TaskId, Result<T, TaskError<E>>)> = ids
            .iter()
            .copied()
            .zip(values.into_iter().map(Ok))
            .collect();
        outcomes.reserve(failures.len() + stopped.len());
        for failure in failures {
            ids.push_back(failure.id);
            outcomes.push_back((failure.id, Err(failure.error)));
        }
        for (id, started) in stopped {
            let error = match started {
                true => TaskError::Cancelled,
                false => TaskError::NotStarted,
            };
            ids.push_back(id);
            outcomes.push_back((id, Err(error)));
        }
        Progress::Ready(Settled::new(
            in_spawn_order(ids, outcomes),
            cancelled,
            dropped_queued,
        ))
    }

    /// `join_next`'s poll: the next outcome in completion order, or `None` once no task
    /// is live and every outcome was taken.
    #[allow(clippy::type_complexity)]
    pub(crate) fn poll_join_next(
        &self,
        waker: &Waker,
    ) -> Progress<Option<Result<T, (TaskId, TaskError<E>)>>> {
        let mut state = self.lock();
        let failure_is_next = state
            .failures
            .front()
            .is_some_and(|failure| failure.successes_before == state.successes_taken);
        if failure_is_next {
            let failure = state.failures.pop_front().expect("a failure is next");
            return Progress::Ready(Some(Err((failure.id, failure.error))));
        }
        if let Some(value) = state.successes.pop_front() {
            state.success_ids.pop_front();
            state.successes_taken += 1;
            return Progress::Ready(Some(Ok(value)));
        }
        if state.tasks.live == 0 {
            return Progress::Ready(None);
        }
        state.wake_on_each_completion = true;
        register(&mut state.joiner, waker);
        Progress::Pending
    }
}

/// Puts `values` (in completion order, with their task `ids`) into spawn order.
///
/// Tasks mostly finish in about the order they were spawned and ids are dense, so
/// instead of sorting, each value is placed at its id's offset from the smallest one:
/// linear time. Ids made sparse by aborts or by `join_next` fall back to a sort.
fn in_spawn_order<T>(ids: VecDeque<TaskId>, values: VecDeque<T>) -> Vec<T> {
    if ids.iter().is_sorted() {
        return values.into();
    }
    let (Some(first), Some(last)) = (ids.iter().min(), ids.iter().max()) else {
        return values.into();
    };
    let first = first.as_u64();
    let span = usize::try_from(last.as_u64() - first).unwrap_or(usize::MAX);
    if span >= ids.len().saturating_mul(2) {
        let mut ordered: Vec<(TaskId, T)> = ids.into_iter().zip(values).collect();
        ordered.sort_unstable_by_key(|(id, _)| *id);
        return ordered.into_iter().map(|(_, value)| value).collect();
    }
    let mut places: Vec<Option<T>> = std::iter::repeat_with(|| None).take(span + 1).collect();
    for (id, value) in ids.into_iter().zip(values) {
        // In range: `first` is the smallest id and `span` the distance to the largest.
        places[(id.as_u64() - first) as usize] = Some(value);
    }
    places.into_iter().flatten().collect()
}

fn register(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(current) if current.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_are_put_into_spawn_order_whatever_the_ids() {
        use std::collections::VecDeque;

        use super::in_spawn_order;
        use crate::TaskId;

        let order = |ids: &[u64]| {
            let ids: VecDeque<TaskId> = ids.iter().copied().map(TaskId::new).collect();
            let values: VecDeque<u64> = ids.iter().map(|id| id.as_u64()).collect();
            in_spawn_order(ids, values)
        };
        assert_eq!(order(&[]), Vec::<u64>::new());
        assert_eq!(order(&[3, 4, 9]), [3, 4, 9]);
        // Dense ids, placed by offset.
        assert_eq!(order(&[5, 7, 6, 9, 8]), [5, 6, 7, 8, 9]);
        // Sparse ids (aborted tasks, results taken by `join_next`), sorted.
        assert_eq!(order(&[1_000, 2, u64::MAX, 40]), [2, 40, 1_000, u64::MAX]);
    }
}
