//! The task group itself.

use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

use crate::builder::Builder;
use crate::error::{GroupError, SpawnError, TaskError};
use crate::settled::Settled;
use crate::shared::{Config, Progress, Shared};
use crate::{Spawner, TaskId};

/// A set of tasks that is awaited, cancelled and dropped as one: structured
/// concurrency for tokio.
///
/// Every task [`spawn`](Self::spawn)ed into the group — by the owner, or by a task
/// through a [`Spawner`] — is awaited by [`join`](Self::join), which returns the
/// tasks' results in spawn order. By default the group is fail-fast: the first task
/// that returns `Err` or panics cancels all the others, and `join` returns a
/// [`GroupError`] listing every failure with its [`TaskId`].
///
/// No task outlives its group: dropping the group, or the future that awaits `join`,
/// aborts every task that is still running.
///
/// Tasks run on the runtime they were spawned from. If that runtime shuts down while
/// tasks are live, they are reported as [`TaskError::RuntimeShutdown`] (and, in a
/// fail-fast group, the first one cancels the rest): keep the runtime alive until the
/// group is joined.
///
/// # Cancellation
///
/// A group cancels its tasks when a task fails (fail-fast), when [`cancel`](Self::cancel)
/// is called, when its [`token`](Self::token) is cancelled, or when the builder's
/// [`parent_token`](Builder::parent_token) is. It first cancels its token, so tasks
/// that watch it can finish cleanly, then waits up to the builder's
/// [`grace_period`](Builder::grace_period) (zero by default) and aborts whatever is
/// still running. The grace period is timed by `join` and `join_next`, and by a failing
/// task when it is zero; a group that is dropped aborts its tasks at once.
///
/// # Examples
///
/// ```
/// use uno_taskgroup::TaskGroup;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let group = TaskGroup::new();
/// for n in 1..=3_u32 {
///     group.spawn(async move { Ok::<_, std::io::Error>(n * 10) })?;
/// }
/// assert_eq!(group.join().await?, [10, 20, 30]);
/// # Ok(())
/// # }
/// ```
#[must_use = "a TaskGroup aborts its tasks when dropped; call `join` to wait for them"]
pub struct TaskGroup<T, E> {
    pub(crate) shared: Arc<Shared<T, E>>,
    /// Set by `join`: a group dropped while being joined was cancelled on purpose, and
    /// is not warned about.
    joined: bool,
}

impl<T: Send + 'static, E: Send + 'static> TaskGroup<T, E> {
    /// A fail-fast group with no concurrency limit and no grace period.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = uno_taskgroup::TaskGroup::<u8, std::io::Error>::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::from_config(Config {
            token: CancellationToken::new(),
            token_external: false,
            max_concurrency: None,
            fail_fast: true,
            grace_period: Duration::ZERO,
            #[cfg(feature = "tracing")]
            span: tracing::debug_span!("taskgroup"),
        })
    }

    /// Options for a group: fail-fast, concurrency limit, grace period, parent token.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_taskgroup::TaskGroup;
    ///
    /// let group = TaskGroup::<(), std::io::Error>::builder()
    ///     .max_concurrency(8)
    ///     .grace_period(Duration::from_secs(5))
    ///     .build()
    ///     .expect("8 is a valid limit");
    /// # drop(group);
    /// ```
    pub fn builder() -> Builder<T, E> {
        Builder::new()
    }

    pub(crate) fn from_config(config: Config) -> Self {
        TaskGroup {
            joined: false,
            shared: Arc::new(Shared::new(config)),
        }
    }

    /// Spawns `task` into the group and returns its id.
    ///
    /// The task starts at once on the current tokio runtime (or when a slot frees up,
    /// with [`max_concurrency`](Builder::max_concurrency)).
    ///
    /// Spawned under a deadline (`uno_deadline::within` or `at` around this call),
    /// the task inherits it: it sees it through `uno_deadline::current()` and is cut
    /// short when it passes, which the group reports as
    /// [`TaskError::DeadlinePassed`](crate::TaskError::DeadlinePassed).
    ///
    /// # Errors
    ///
    /// Returns a [`SpawnError`] when the group has failed, was cancelled or has
    /// finished; `task` is then dropped without being polled.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime, as `tokio::spawn` does; the panic,
    /// and tokio's record of where the task was spawned, name the caller's line.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = uno_taskgroup::TaskGroup::new();
    /// let id = group.spawn(async { Ok::<_, std::io::Error>("done") }).unwrap();
    /// assert_eq!(id.as_u64(), 0);
    /// assert_eq!(group.join().await.unwrap(), ["done"]);
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, task: F) -> Result<TaskId, SpawnError>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.shared.spawn(task)
    }

    /// A cloneable handle that spawns into this group, for tasks that spawn siblings.
    ///
    /// Tasks spawned through it are awaited by `join` like any other.
    pub fn spawner(&self) -> Spawner<T, E> {
        Spawner::new(Arc::clone(&self.shared))
    }

    /// The group's cancellation token, for tasks that want to exit cleanly.
    ///
    /// It is cancelled when the group starts cancelling. Cancelling it yourself cancels
    /// the group, like [`cancel`](Self::cancel). It is a child of the builder's
    /// [`parent_token`](Builder::parent_token), never that token itself: the group
    /// never cancels a token it did not create.
    pub fn token(&self) -> CancellationToken {
        self.shared.share_token()
    }

    /// Cancels the group: no new task is accepted, the token is cancelled, and tasks
    /// still running after the grace period are aborted.
    ///
    /// `join` then returns a [`GroupError`] that [`is_cancelled`](GroupError::is_cancelled).
    /// Does nothing on a group that has finished.
    pub fn cancel(&self) {
        self.shared.cancel();
    }

    /// Aborts one task. Its result is not reported and, unlike an error, it does not
    /// fail the group. A task still queued by
    /// [`max_concurrency`](Builder::max_concurrency) is dropped without running.
    ///
    /// Returns whether the task was still running. It looks through the live tasks, so
    /// it takes time in proportion to their number.
    pub fn abort(&self, id: TaskId) -> bool {
        self.shared.abort_task(id)
    }

    /// How many tasks are live: spawned and not finished yet (running, or queued by
    /// [`max_concurrency`](Builder::max_concurrency)).
    ///
    /// Finished tasks are not counted, whether or not their results were collected.
    pub fn len(&self) -> usize {
        self.shared.live()
    }

    /// Whether no task is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for every task, then returns their results in spawn order.
    ///
    /// Tasks spawned while `join` waits, by [`Spawner`]s, are awaited too. Aborted tasks
    /// (see [`abort`](Self::abort)) have no result. Results already taken with
    /// [`join_next`](Self::join_next) are not returned again.
    ///
    /// It returns only once every task is gone: each task's future, and everything it
    /// captured, has been dropped, including tasks that were aborted before they ever
    /// ran, whichever thread dropped them. Drop guards in tasks have run by then.
    ///
    /// # Errors
    ///
    /// Returns a [`GroupError`] with every failure (in completion order, with task ids)
    /// when a task failed or panicked, or when the group was cancelled. A task that its
    /// runtime dropped before it finished (the runtime shut down) is a failure too,
    /// [`TaskError::RuntimeShutdown`]: a group whose tasks did not all run to their end
    /// is never reported as a success, unless they were aborted through
    /// [`abort`](Self::abort).
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the group, which aborts every task that is
    /// still running. No task body runs after that.
    ///
    /// To keep the results of the tasks that succeeded when others failed, use
    /// [`join_settled`](Self::join_settled). [`GroupError::dropped_queued`] counts
    /// queued tasks that never started because the group cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_taskgroup::{TaskError, TaskGroup};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = TaskGroup::new();
    /// group.spawn(async { Ok(1) }).unwrap();
    /// let failing = group.spawn(async { Err("no") }).unwrap();
    /// let error = group.join().await.unwrap_err();
    /// assert!(matches!(error.failures(), [(id, TaskError::Failed("no"))] if *id == failing));
    /// # }
    /// ```
    pub async fn join(mut self) -> Result<Vec<T>, GroupError<E>> {
        self.joined = true;
        drive(&self.shared, |waker| self.shared.poll_join(waker)).await
    }

    /// Waits for every task, like [`join`](Self::join), then returns every task's
    /// outcome in spawn order, successes and failures alike.
    ///
    /// Use it when one failure must not throw away the other results, typically with
    /// [`fail_fast(false)`](Builder::fail_fast). Each outcome is paired with its
    /// [`TaskId`]: tasks aborted with [`abort`](Self::abort) and outcomes already
    /// taken with [`join_next`](Self::join_next) are left out, so positions and ids
    /// differ. Tasks that the group's cancellation stopped are listed as
    /// [`TaskError::Cancelled`] (they had started) or [`TaskError::NotStarted`]
    /// (queued by [`max_concurrency`](Builder::max_concurrency), dropped unpolled);
    /// [`Settled::dropped_queued`] counts the latter and [`Settled::is_cancelled`] says
    /// whether the group was cancelled.
    ///
    /// Like `join`, it returns only once every task's future, and everything it
    /// captured, has been dropped; fail-fast, the grace period and cancellation apply
    /// as they do for `join`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe, like `join`: dropping the returned future drops the group,
    /// which aborts every task that is still running, and the outcomes collected so far
    /// are dropped with it. No task body runs after that.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_taskgroup::{TaskError, TaskGroup};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let group = TaskGroup::builder().fail_fast(false).build().unwrap();
    /// group.spawn(async { Ok("first") }).unwrap();
    /// let failing = group.spawn(async { Err("no") }).unwrap();
    /// group.spawn(async { Ok("third") }).unwrap();
    /// let settled = group.join_settled().await;
    /// assert_eq!(settled.successes().map(|(_, value)| *value).collect::<Vec<_>>(), ["first", "third"]);
    /// assert!(matches!(settled.outcomes()[1], (id, Err(TaskError::Failed("no"))) if id == failing));
    /// # }
    /// ```
    pub async fn join_settled(mut self) -> Settled<T, E> {
        self.joined = true;
        drive(&self.shared, |waker| self.shared.poll_join_settled(waker)).await
    }

    /// Waits for the next task to finish and returns its outcome, in completion order;
    /// `None` when no task is live and every outcome was taken.
    ///
    /// Fail-fast still applies: a failure cancels the siblings when it happens, whether
    /// or not it was taken yet. A failure taken here is not repeated by `join`, which
    /// still reports that the group failed.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. If `join_next` is used as the event in a
    /// `tokio::select!` statement and some other branch completes first, no outcome is
    /// lost (the next call returns it) and the tasks keep running.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let mut group = uno_taskgroup::TaskGroup::<u32, std::io::Error>::new();
    /// group.spawn(async { Ok(7) }).unwrap();
    /// while let Some(outcome) = group.join_next().await {
    ///     assert_eq!(outcome.unwrap(), 7);
    /// }
    /// # }
    /// ```
    #[allow(clippy::type_complexity)]
    pub async fn join_next(&mut self) -> Option<Result<T, (TaskId, TaskError<E>)>> {
        drive(&self.shared, |waker| self.shared.poll_join_next(waker)).await
    }
}

/// Polls `poll` until it is ready, while timing the group's grace period once its
/// token is cancelled.
async fn drive<T, E, R>(shared: &Shared<T, E>, mut poll: impl FnMut(&Waker) -> Progress<R>) -> R
where
    T: Send + 'static,
    E: Send + 'static,
{
    let mut cancelled = pin!(shared.token.cancelled());
    let mut token_seen = false;
    let mut grace: Option<Pin<Box<Sleep>>> = None;
    poll_fn(|cx| {
        if !token_seen && cancelled.as_mut().poll(cx).is_ready() {
            token_seen = true;
            grace = shared
                .closing_deadline()
                .map(|deadline| Box::pin(tokio::time::sleep_until(deadline)));
        }
        if let Some(sleep) = &mut grace
            && sleep.as_mut().poll(cx).is_ready()
        {
            grace = None;
            shared.abort_remaining();
        }
        match poll(cx.waker()) {
            Progress::Ready(result) => Poll::Ready(result),
            Progress::Pending => Poll::Pending,
        }
    })
    .await
}

impl<T: Send + 'static, E: Send + 'static> Default for TaskGroup<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> Drop for TaskGroup<T, E> {
    fn drop(&mut self) {
        // Dropping a group that was never joined while it still has tasks is usually a
        // mistake (`main` returned, an early `return` or `?`): say what was dropped.
        #[cfg(feature = "tracing")]
        if !self.joined {
            let live = self.shared.live();
            if live > 0 {
                tracing::warn!(
                    target: "uno_taskgroup",
                    live,
                    "a TaskGroup was dropped without join while {live} of its tasks were running or queued; they are aborted; await `join` (or `Shutdown::run`) to let them finish"
                );
            }
        }
        self.shared.shut_down();
    }
}

impl<T, E> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.shared, f)
    }
}
