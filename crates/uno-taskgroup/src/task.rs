//! One task of a group: its id, how its body can end, and the deadline it runs under.
//!
//! This is the bottom of the crate: it knows nothing of the group's state. The guard
//! that reports a task's end to the group lives with that state, in `shared::run`.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::task::Poll;

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
