//! The future a group hands to `tokio::spawn` for each task: the task's body, and the
//! guard that reports its end to the group.
//!
//! Invariants: every spawned or queued task reports its end exactly once, on every
//! path (completion, panic, abort before or after the first poll, runtime shutdown),
//! and its body, with everything it captured, is dropped before that report.

use std::future::{Future, poll_fn};
use std::panic::{self, AssertUnwindSafe};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use super::Shared;
use crate::task::{Body, Outcome, Stopped, TaskId};

/// Reports a task's end to its group exactly once.
///
/// It is moved into the task's future when the task is spawned, so it is dropped with
/// that future on every path: completion, abort before or after the first poll, and
/// runtime shutdown. A guard dropped without [`finish`](Self::finish) reports a task
/// that ended without an outcome.
pub(super) struct TaskGuard<T, E> {
    shared: Arc<Shared<T, E>>,
    slot: usize,
    id: TaskId,
    reported: bool,
}

impl<T, E> TaskGuard<T, E> {
    pub(super) fn new(shared: Arc<Shared<T, E>>, slot: usize, id: TaskId) -> Self {
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

/// A task as it is handed to `tokio::spawn`: its body, and the guard that reports its
/// end.
///
/// The body is declared first so that it is dropped first: a task that is dropped
/// before its first poll (aborted, or by a runtime shutting down) drops everything its
/// body captured before its guard reports the end, so `join` cannot return while the
/// body's captures are still being dropped on another thread.
pub(super) struct Task<T, E, F> {
    body: Body<F>,
    guard: TaskGuard<T, E>,
}

impl<T, E, F: Future> Task<T, E, F> {
    pub(super) fn new(guard: TaskGuard<T, E>, body: F) -> Self {
        Task {
            body: Body::new(body),
            guard,
        }
    }
}

/// The future that a group hands to `tokio::spawn` for each task.
pub(super) async fn run<T, E, F>(task: Task<T, E, F>)
where
    T: Send + 'static,
    E: Send + 'static,
    F: Future<Output = Result<T, E>> + Send + 'static,
{
    // Moved out one by one: locals are dropped in reverse order, so the body (declared
    // last) is dropped before the guard on every path, as in `Task`.
    let guard = task.guard;
    let body = task.body;
    // A task spawned while the group was being torn down must not start its body.
    if guard.shared.handoff.is_aborted() {
        return;
    }
    let mut body = pin!(Some(body));
    let outcome = poll_fn(|cx| {
        let Some(running) = body.as_mut().as_pin_mut() else {
            // Not reached: the future is not polled again once it is ready.
            return Poll::Pending;
        };
        let output = match panic::catch_unwind(AssertUnwindSafe(|| running.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(Ok(output))) => Ok(output),
            Ok(Poll::Ready(Err(_elapsed))) => Err(Stopped::DeadlinePassed),
            Err(payload) => Err(Stopped::Panicked(payload)),
        };
        // The body is dropped here, under `catch_unwind` too, rather than after the
        // outcome is reported: a body whose drop panics panicked, whatever it returned.
        let dropped = panic::catch_unwind(AssertUnwindSafe(|| body.set(None)));
        Poll::Ready(match (output, dropped) {
            (Ok(output), Ok(())) => Ok(output),
            // Dropped outside the lock, here: the result may run user code on drop.
            (Ok(output), Err(payload)) => {
                drop(output);
                Err(Stopped::Panicked(payload))
            }
            // The first panic is the one to report; a second one, from the drop, is
            // only a consequence.
            (Err(stopped), _) => Err(stopped),
        })
    })
    .await;
    guard.finish(outcome);
}
