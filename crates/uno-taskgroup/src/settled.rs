//! What `TaskGroup::join_settled` returns: every task's outcome, in spawn order.
//!
//! It is built once, by the group's last poll, and never changes: the outcomes are
//! sorted by task id, there is at most one per task, and the count of queued tasks
//! that never started agrees with the `TaskError::NotStarted` outcomes it holds.

use crate::{TaskError, TaskId};

/// Every task's outcome, returned by [`TaskGroup::join_settled`](crate::TaskGroup::join_settled).
///
/// Unlike [`join`](crate::TaskGroup::join), which keeps no result once one task
/// failed, it keeps them all: each task's `Ok` value or its [`TaskError`], in spawn
/// order, paired with the [`TaskId`] that `spawn` returned. The pairing matters
/// because not every id has an outcome: tasks aborted by the owner with
/// [`abort`](crate::TaskGroup::abort) are left out, as are outcomes already taken
/// with [`join_next`](crate::TaskGroup::join_next).
///
/// Tasks that the group's cancellation stopped are listed too, as
/// [`TaskError::Cancelled`] (they had started) or [`TaskError::NotStarted`] (they were
/// queued by [`max_concurrency`](crate::Builder::max_concurrency) and never ran).
///
/// # Examples
///
/// ```
/// use uno_taskgroup::{TaskError, TaskGroup};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let group = TaskGroup::builder().fail_fast(false).build().unwrap();
/// group.spawn(async { Ok(1) }).unwrap();
/// group.spawn(async { Err("no") }).unwrap();
/// group.spawn(async { Ok(3) }).unwrap();
/// let settled = group.join_settled().await;
/// let outcomes: Vec<_> = settled
///     .into_outcomes()
///     .into_iter()
///     .map(|(_, outcome)| outcome.map_err(|error| error.into_failed()))
///     .collect();
/// assert_eq!(outcomes, [Ok(1), Err(Some("no")), Ok(3)]);
/// # }
/// ```
#[derive(Debug)]
pub struct Settled<T, E> {
    outcomes: Vec<(TaskId, Result<T, TaskError<E>>)>,
    cancelled: bool,
    dropped_queued: usize,
}

impl<T, E> Settled<T, E> {
    pub(crate) fn new(
        outcomes: Vec<(TaskId, Result<T, TaskError<E>>)>,
        cancelled: bool,
        dropped_queued: usize,
    ) -> Self {
        Settled {
            outcomes,
            cancelled,
            dropped_queued,
        }
    }

    /// Every outcome, in spawn order, with its task's id.
    pub fn outcomes(&self) -> &[(TaskId, Result<T, TaskError<E>>)] {
        &self.outcomes
    }

    /// Takes the outcomes out, in spawn order, with their tasks' ids.
    pub fn into_outcomes(self) -> Vec<(TaskId, Result<T, TaskError<E>>)> {
        self.outcomes
    }

    /// The values of the tasks that succeeded, in spawn order, with their ids.
    pub fn successes(&self) -> impl Iterator<Item = (TaskId, &T)> {
        self.outcomes
            .iter()
            .filter_map(|(id, outcome)| outcome.as_ref().ok().map(|value| (*id, value)))
    }

    /// The tasks that did not succeed, in spawn order, with their ids: failures, and
    /// tasks the group's cancellation stopped.
    pub fn failures(&self) -> impl Iterator<Item = (TaskId, &TaskError<E>)> {
        self.outcomes
            .iter()
            .filter_map(|(id, outcome)| outcome.as_ref().err().map(|error| (*id, error)))
    }

    /// Whether the group was cancelled, through [`cancel`](crate::TaskGroup::cancel),
    /// its token or the builder's parent token, rather than by a failing task (as
    /// [`GroupError::is_cancelled`](crate::GroupError::is_cancelled)).
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// How many tasks queued by [`max_concurrency`](crate::Builder::max_concurrency)
    /// were dropped without running because the group cancelled: the number of
    /// [`TaskError::NotStarted`] outcomes.
    pub fn dropped_queued(&self) -> usize {
        self.dropped_queued
    }
}

impl<T, E> IntoIterator for Settled<T, E> {
    type Item = (TaskId, Result<T, TaskError<E>>);
    type IntoIter = std::vec::IntoIter<Self::Item>;

    /// The outcomes, in spawn order, with their tasks' ids.
    fn into_iter(self) -> Self::IntoIter {
        self.outcomes.into_iter()
    }
}
