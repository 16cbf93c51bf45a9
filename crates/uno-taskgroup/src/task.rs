//! One task of a group: its id, and the wrapper that reports how it ended.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::FutureExt as _;

use crate::shared::Shared;

/// Identifies a task within its group.
///
/// Ids count up from 0 in spawn order, so sorting by id sorts by spawn order. They are
/// unique within one group only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(u64);

impl TaskId {
    pub(crate) fn new(value: u64) -> Self {
        TaskId(value)
    }

    /// The position of the task in its group's spawn order, from 0.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// How a task's body ended: its own result, or the payload of its panic.
pub(crate) type Outcome<T, E> = Result<Result<T, E>, Box<dyn Any + Send + 'static>>;

/// Reports a task's end to its group exactly once.
///
/// It is moved into the task's future when the task is spawned, so it is dropped with
/// that future on every path: completion, abort before or after the first poll, and
/// runtime shutdown. A guard dropped without [`finish`](Self::finish) reports a task
/// that ended without an outcome.
pub(crate) struct TaskGuard<T, E> {
    shared: Arc<Shared<T, E>>,
    slot: usize,
    id: TaskId,
    reported: bool,
}

impl<T, E> TaskGuard<T, E> {
    pub(crate) fn new(shared: Arc<Shared<T, E>>, slot: usize, id: TaskId) -> Self {
        TaskGuard {
            shared,
            slot,
            id,
            reported: false,
        }
    }

    fn finish(mut self, outcome: Outcome<T, E>) {
        self.reported = true;
        self.shared.complete(self.slot, self.id, Some(outcome));
    }
}

impl<T, E> Drop for TaskGuard<T, E> {
    fn drop(&mut self) {
        if !self.reported {
            self.shared.complete(self.slot, self.id, None);
        }
    }
}

/// The future that a group hands to `tokio::spawn` for each task.
pub(crate) async fn run<T, E, F>(guard: TaskGuard<T, E>, body: F)
where
    T: Send + 'static,
    E: Send + 'static,
    F: Future<Output = Result<T, E>> + Send + 'static,
{
    // A task spawned while the group was being torn down must not start its body.
    if guard.shared.aborted.load(Ordering::Acquire) {
        return;
    }
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    guard.finish(outcome);
}
