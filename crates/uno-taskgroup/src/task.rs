//! One task of a group: its id, and the wrapper that reports how it ended.

use std::any::Any;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{self, AssertUnwindSafe};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;

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

/// How a task's body ended: its own result, or how it was stopped short.
pub(crate) type Outcome<T, E> = Result<Result<T, E>, Stopped>;

/// A task body that did not return.
pub(crate) enum Stopped {
    /// It panicked, with this payload.
    Panicked(Box<dyn Any + Send + 'static>),
    /// The deadline it inherited from the code that spawned it passed.
    DeadlinePassed,
}

pin_project_lite::pin_project! {
    /// A task's body, run under the deadline of the code that spawned it, if any.
    #[project = BodyProj]
    pub(crate) enum Body<F> {
        Plain { #[pin] future: F },
        UnderDeadline { #[pin] future: uno_deadline::Deadline<F> },
    }
}

impl<F: Future> Body<F> {
    /// Wraps `future` in the spawning code's deadline; read here, in the spawner's
    /// task, and only wrapped when there is one, so a group used without deadlines
    /// pays one task-local read per spawn.
    pub(crate) fn new(future: F) -> Self {
        match uno_deadline::current() {
            Some(_) => Body::UnderDeadline {
                future: uno_deadline::inherit(future),
            },
            None => Body::Plain { future },
        }
    }
}

impl<F: Future> Future for Body<F> {
    type Output = Result<F::Output, uno_deadline::Elapsed>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            BodyProj::Plain { future } => future.poll(cx).map(Ok),
            BodyProj::UnderDeadline { future } => future.poll(cx),
        }
    }
}

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

/// A task as it is handed to `tokio::spawn`: its body, and the guard that reports its
/// end.
///
/// The body is declared first so that it is dropped first: a task that is dropped
/// before its first poll (aborted, or by a runtime shutting down) drops everything its
/// body captured before its guard reports the end, so `join` cannot return while the
/// body's captures are still being dropped on another thread.
pub(crate) struct Task<T, E, F> {
    body: Body<F>,
    guard: TaskGuard<T, E>,
}

impl<T, E, F: Future> Task<T, E, F> {
    pub(crate) fn new(guard: TaskGuard<T, E>, body: F) -> Self {
        Task {
            body: Body::new(body),
            guard,
        }
    }
}

/// The future that a group hands to `tokio::spawn` for each task.
pub(crate) async fn run<T, E, F>(task: Task<T, E, F>)
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
    if guard.shared.aborted.load(Ordering::Acquire) {
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
