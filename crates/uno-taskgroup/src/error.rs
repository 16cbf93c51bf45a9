//! The errors of a task group: refused spawns, bad builder input, and failed groups.

use std::any::Any;
use std::fmt;
use std::sync::Mutex;

use crate::TaskId;

/// Why [`TaskGroup::spawn`](crate::TaskGroup::spawn) or
/// [`Spawner::spawn`](crate::Spawner::spawn) refused a task.
///
/// A refused future is dropped without ever being polled: none of its code runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// A task of the group failed and the group is cancelling its other tasks.
    #[error(
        "the task group has failed and is cancelling its tasks; the new task was dropped without running"
    )]
    Failed,
    /// The group was cancelled, through `cancel()` or its cancellation token.
    #[error(
        "the task group was cancelled; the new task was dropped without running, spawn it into a new group"
    )]
    Cancelled,
    /// The group was joined or dropped.
    #[error(
        "the task group has finished (joined or dropped); the new task was dropped without running, spawn it into a new group"
    )]
    Finished,
}

/// Why [`Builder::build`](crate::Builder::build) rejected its options.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_concurrency(0)` would let no task ever run.
    #[error("max_concurrency must be at least 1; a limit of 0 would never run a task")]
    ZeroConcurrency,
}

/// How one task of a group failed: it returned `Err`, panicked, or was dropped by its
/// runtime shutting down before it finished.
#[derive(Debug)]
#[non_exhaustive]
pub enum TaskError<E> {
    /// The task returned `Err`.
    Failed(E),
    /// The task panicked, while it ran or while its future was dropped once it had
    /// finished (a result it returned is then dropped, not reported). The panic was
    /// caught; [`PanicPayload::resume`] re-raises it.
    Panicked(PanicPayload),
    /// The task's runtime dropped it before it finished: the runtime was shut down
    /// (dropped, or `shutdown_timeout`/`shutdown_background` called) while the task
    /// was live, or when a queued task was started on it. Whatever the task would have
    /// returned is lost, so the group does not report success.
    ///
    /// Keep the runtime that runs a group's tasks alive until the group is joined.
    /// Tasks that the group or its owner aborted (see
    /// [`TaskGroup::abort`](crate::TaskGroup::abort) and cancellation) are never
    /// reported this way.
    RuntimeShutdown,
    /// The task was spawned under a deadline (`uno_deadline::within` or `at`, around
    /// the code that called `spawn`), inherited it, and was cut short when it passed.
    /// Whatever it would have returned is lost.
    DeadlinePassed,
    /// The task had started, and the group's cancellation (a failing sibling in a
    /// fail-fast group, [`cancel`](crate::TaskGroup::cancel), its token or its parent
    /// token) aborted it before it finished. Only
    /// [`join_settled`](crate::TaskGroup::join_settled) reports it: being cancelled is
    /// not a failure, so [`join`](crate::TaskGroup::join) and
    /// [`join_next`](crate::TaskGroup::join_next) leave such tasks out.
    Cancelled,
    /// The task was queued by [`max_concurrency`](crate::Builder::max_concurrency) and
    /// the group cancelled before a slot freed up: its future was dropped without ever
    /// being polled, so none of its code ran and it can safely be run again. Only
    /// [`join_settled`](crate::TaskGroup::join_settled) reports it;
    /// [`GroupError::dropped_queued`] and
    /// [`Settled::dropped_queued`](crate::Settled::dropped_queued) count such tasks.
    NotStarted,
}

impl<E> TaskError<E> {
    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// The task's own error, when it returned `Err`.
    pub fn failed(&self) -> Option<&E> {
        match self {
            TaskError::Failed(error) => Some(error),
            TaskError::Panicked(_)
            | TaskError::RuntimeShutdown
            | TaskError::DeadlinePassed
            | TaskError::Cancelled
            | TaskError::NotStarted => None,
        }
    }

    /// The task's own error, or `None` when it did not return `Err`.
    pub fn into_failed(self) -> Option<E> {
        match self {
            TaskError::Failed(error) => Some(error),
            TaskError::Panicked(_)
            | TaskError::RuntimeShutdown
            | TaskError::DeadlinePassed
            | TaskError::Cancelled
            | TaskError::NotStarted => None,
        }
    }

    /// Whether the task was dropped by its runtime shutting down before it finished.
    pub fn is_runtime_shutdown(&self) -> bool {
        matches!(self, TaskError::RuntimeShutdown)
    }

    /// Whether the task was cut short by the deadline it inherited.
    pub fn is_deadline_passed(&self) -> bool {
        matches!(self, TaskError::DeadlinePassed)
    }

    /// Whether the group's cancellation stopped the task, running
    /// ([`Cancelled`](TaskError::Cancelled)) or before it started
    /// ([`NotStarted`](TaskError::NotStarted)).
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled | TaskError::NotStarted)
    }

    /// Whether the task was queued and dropped without running when the group
    /// cancelled ([`NotStarted`](TaskError::NotStarted)).
    pub fn is_not_started(&self) -> bool {
        matches!(self, TaskError::NotStarted)
    }
}

impl<E: fmt::Display> fmt::Display for TaskError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Failed(error) => write!(f, "task failed: {error}"),
            TaskError::Panicked(panic) => write!(f, "{panic}"),
            TaskError::RuntimeShutdown => f.write_str(RUNTIME_SHUTDOWN),
            TaskError::DeadlinePassed => f.write_str(DEADLINE_PASSED),
            TaskError::Cancelled => f.write_str(CANCELLED),
            TaskError::NotStarted => f.write_str(NOT_STARTED),
        }
    }
}

/// A `TaskError` is an error whenever the task's error type can be printed, not only
/// when it is a `std::error::Error` itself: `anyhow::Error`, `eyre::Report` and
/// `Box<dyn Error + Send + Sync>` are not, and a group of tasks returning them must
/// still be `?`-convertible into them (see [`GroupError`]).
///
/// The price is that `source()` cannot return the task's own error, whose type is not
/// known to be an error: it returns `None`. Nothing is lost from the message, which
/// includes the task's error, and [`failed`](TaskError::failed) returns the error
/// itself.
impl<E: fmt::Debug + fmt::Display + 'static> std::error::Error for TaskError<E> {}

const DEADLINE_PASSED: &str = "task was cut short by the deadline it inherited from the code that spawned it; give that code more time, or do less under it";

const CANCELLED: &str =
    "task was aborted by its group's cancellation before it finished; its result, if any, is lost";

const NOT_STARTED: &str = "task was queued by max_concurrency and dropped without running when its group cancelled; none of its code ran, so it can be run again";

const RUNTIME_SHUTDOWN: &str = "task was stopped by its runtime shutting down before it finished; keep the runtime running until the group is joined";

/// The payload of a caught task panic.
///
/// It keeps the original payload so that [`resume`](Self::resume) re-raises exactly
/// what the task panicked with, and it is `Sync` so that errors holding it can cross
/// threads and be boxed as `dyn Error + Send + Sync`.
pub struct PanicPayload {
    message: Option<String>,
    // The payload is only ever moved out, never shared; the mutex exists to make the
    // type `Sync` without unsafe code.
    payload: Mutex<Box<dyn Any + Send + 'static>>,
}

impl PanicPayload {
    pub(crate) fn new(payload: Box<dyn Any + Send + 'static>) -> Self {
        let message = match payload.downcast_ref::<&'static str>() {
            Some(message) => Some((*message).to_owned()),
            None => payload.downcast_ref::<String>().cloned(),
        };
        PanicPayload {
            message,
            payload: Mutex::new(payload),
        }
    }

    /// The panic message, when the task panicked with a string (as `panic!` does).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The original payload, as `std::panic::catch_unwind` would return it.
    pub fn into_inner(self) -> Box<dyn Any + Send + 'static> {
        self.payload
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Re-raises the task's panic on the current thread, with its original payload.
    pub fn resume(self) -> ! {
        std::panic::resume_unwind(self.into_inner())
    }
}

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PanicPayload")
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(message) => write!(f, "task panicked: {message}"),
            None => f.write_str("task panicked with a non-string payload"),
        }
    }
}

/// Why a group's [`join`](crate::TaskGroup::join) did not succeed.
///
/// It holds every task failure that happened (an `Err`, a panic, or a task dropped by
/// its runtime shutting down), in completion order, each with the [`TaskId`] that
/// [`spawn`](crate::TaskGroup::spawn) returned, says whether the group was
/// cancelled, and counts the queued tasks that never started. A cancelled group is
/// never reported as a success, even when none of its tasks failed.
///
/// # Converting with `?`
///
/// `GroupError<E>` is a `std::error::Error` whenever `E` is `Debug + Display`, so
/// `group.join().await?` works in a function returning `anyhow::Result<_>`,
/// `eyre::Result<_>` or `Result<_, Box<dyn Error + Send + Sync>>`, also when the
/// tasks themselves return `anyhow::Error` or a boxed error (which are not
/// `std::error::Error`). Its message names the first failure and its task;
/// [`source`](std::error::Error::source) is that failure as a [`TaskError`], whose
/// own source is `None` (see [`TaskError`]'s `Error` impl). To reach the tasks' own
/// errors, downcast to `GroupError<E>` and use [`failures`](Self::failures).
///
/// ```
/// use uno_taskgroup::TaskGroup;
///
/// type BoxError = Box<dyn std::error::Error + Send + Sync>;
///
/// async fn run() -> Result<Vec<u32>, BoxError> {
///     // The tasks' error type is a boxed error, which is not `std::error::Error`.
///     let group = TaskGroup::<u32, BoxError>::new();
///     group.spawn(async { Ok(1) })?;
///     group.spawn(async { Err("disk full".into()) })?;
///     Ok(group.join().await?)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let error = run().await.unwrap_err();
/// assert_eq!(error.to_string(), "the task group failed: task 1 failed: disk full");
/// # }
/// ```
#[derive(Debug)]
pub struct GroupError<E> {
    failures: Vec<(TaskId, TaskError<E>)>,
    cancelled: bool,
    dropped_queued: usize,
}

impl<E> GroupError<E> {
    pub(crate) fn new(
        failures: Vec<(TaskId, TaskError<E>)>,
        cancelled: bool,
        dropped_queued: usize,
    ) -> Self {
        GroupError {
            failures,
            cancelled,
            dropped_queued,
        }
    }

    /// Every task failure, in the order the tasks finished.
    ///
    /// Empty when the group was cancelled without a task failing.
    pub fn failures(&self) -> &[(TaskId, TaskError<E>)] {
        &self.failures
    }

    /// Takes the failures out, in the order the tasks finished.
    pub fn into_failures(self) -> Vec<(TaskId, TaskError<E>)> {
        self.failures
    }

    /// Whether the group was cancelled, through [`cancel`](crate::TaskGroup::cancel),
    /// its token or the builder's parent token, rather than by a failing task.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// How many tasks queued by [`max_concurrency`](crate::Builder::max_concurrency)
    /// were dropped without running because the group cancelled (after a failure in
    /// a fail-fast group, or [`cancel`](crate::TaskGroup::cancel) and its tokens).
    ///
    /// None of their code ran. [`join_settled`](crate::TaskGroup::join_settled) tells
    /// which ones they were ([`TaskError::NotStarted`]).
    pub fn dropped_queued(&self) -> usize {
        self.dropped_queued
    }

    /// Whether any task panicked.
    pub fn has_panic(&self) -> bool {
        self.failures.iter().any(|(_, error)| error.is_panic())
    }

    /// Re-raises the first task panic on the current thread; returns `self` unchanged
    /// when no task panicked.
    ///
    /// For callers who want a panic in a task to propagate like a panic in their own
    /// code: `group.join().await.map_err(GroupError::resume_panic)?`.
    ///
    /// # Panics
    ///
    /// Panics with the task's original payload when a task panicked; that is its job.
    pub fn resume_panic(mut self) -> Self {
        let first_panic = self.failures.iter().position(|(_, error)| error.is_panic());
        let Some(index) = first_panic else {
            return self;
        };
        match self.failures.swap_remove(index) {
            (_, TaskError::Panicked(panic)) => panic.resume(),
            (
                _,
                TaskError::Failed(_)
                | TaskError::RuntimeShutdown
                | TaskError::DeadlinePassed
                | TaskError::Cancelled
                | TaskError::NotStarted,
            ) => {
                unreachable!("the position search found a panic")
            }
        }
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((id, error)) = self.failures.first() else {
            f.write_str(match self.cancelled {
                true => "the task group was cancelled before all its tasks finished",
                false => "the task group failed; its failures were already taken with join_next",
            })?;
            return self.write_dropped_queued(f);
        };
        match self.cancelled {
            true => f.write_str("the task group was cancelled; ")?,
            false => f.write_str("the task group failed: ")?,
        }
        match error {
            TaskError::Failed(error) => write!(f, "task {id} failed: {error}")?,
            TaskError::Panicked(panic) => match panic.message() {
                Some(message) => write!(f, "task {id} panicked: {message}")?,
                None => write!(f, "task {id} panicked")?,
            },
            TaskError::RuntimeShutdown => write!(
                f,
                "task {id} was stopped by its runtime shutting down before it finished; keep the runtime running until the group is joined"
            )?,
            TaskError::DeadlinePassed => write!(
                f,
                "task {id} was cut short by the deadline it inherited from the code that spawned it; give that code more time, or do less under it"
            )?,
            // Not failures: `join` never lists them, but say something all the same.
            TaskError::Cancelled => write!(f, "task {id} was cancelled")?,
            TaskError::NotStarted => write!(f, "task {id} never started")?,
        }
        match self.failures.len() - 1 {
            0 => {}
            1 => f.write_str(" (and 1 more failure, see GroupError::failures)")?,
            more => write!(f, " (and {more} more failures, see GroupError::failures)")?,
        }
        self.write_dropped_queued(f)
    }
}

impl<E> GroupError<E> {
    fn write_dropped_queued(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.dropped_queued {
            0 => Ok(()),
            1 => f.write_str("; 1 queued task never started, see TaskGroup::join_settled"),
            dropped => write!(
                f,
                "; {dropped} queued tasks never started, see TaskGroup::join_settled"
            ),
        }
    }
}

/// An error whenever the tasks' error type can be printed, so that `?` converts it
/// into `anyhow::Error` or a boxed error (see [`GroupError`]); the source is the
/// first failure.
/// The message already names the first failure, so `source()` returns `None`: an
/// error that both printed its cause and returned it would show it twice in a report
/// (`anyhow`'s `{:#}`, `eyre`). The failures themselves are in
/// [`failures`](GroupError::failures), after a downcast from a boxed error.
impl<E: fmt::Debug + fmt::Display + 'static> std::error::Error for GroupError<E> {}
