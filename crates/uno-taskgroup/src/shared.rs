//! The state a group shares with its spawners and with its running tasks.
//!
//! Tasks are plain `tokio::spawn` tasks. Instead of keeping their join handles (which
//! would keep every finished task's memory until someone reaps it, as a `JoinSet`
//! does), each task reports its own outcome here when it ends and frees its slot. A
//! group therefore holds one slot per *live* task, plus the results that the owner has
//! not collected yet. A freed slot keeps the ended task's abort handle until the slot
//! is reused, so that the tokio task's bare allocation (its future and output were
//! dropped when it ended) is freed by the spawning thread, which allocates the next
//! task from it, instead of by a worker that would fight the spawning thread for the
//! allocator's lock. That memory stays bounded by the most tasks ever live at once.
//!
//! With `max_concurrency`, tasks beyond the limit are not spawned at all: their futures
//! wait in a queue, and each task that ends starts the next one. Nothing is spawned
//! that has to wait, and a cancelled group simply drops its queue.
//!
//! This file owns the group's state, under one mutex, and the few helpers every part
//! uses to reach it. What is done with that state lives in one file per concept, each
//! stating the invariants it keeps, and read bottom-up:
//!
//! - `slots`: the live tasks' abort handles, in reusable slots;
//! - `id_runs`: the ids of kept results, as runs;
//! - `spawn`: spawning a task or queueing it behind `max_concurrency`, and starting
//!   queued tasks as slots free up;
//! - `end`: how a task's end is recorded (success, failure, abort, runtime shutdown),
//!   and the group's cancellation, grace period and teardown;
//! - `run`: the future each task runs as, with the guard that reports its end;
//! - `join`: the polls behind `join`, `join_settled` and `join_next`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::Waker;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::TaskError;
use crate::task::TaskId;

mod end;
mod handoff;
mod id_runs;
mod join;
mod run;
mod slots;
mod spawn;

use self::id_runs::IdRuns;
use self::slots::Slots;
use self::spawn::Queued;

use self::handoff::Handoff;
pub(crate) use self::join::Progress;

pub(crate) struct Shared<T, E> {
    /// On cache lines of its own: every task's start and end lock it, from several
    /// threads, and it should not drag the `Arc`'s counts and the read-mostly fields
    /// below along with it.
    state: CachePadded<Mutex<State<T, E>>>,
    /// Abort handles of tasks just spawned (slot, id, handle), not yet moved into the
    /// state's slots, and whether every task has been aborted: tasks that have not
    /// started yet see that and never run their body (see `handoff.rs`).
    pub(crate) handoff: Handoff<(usize, TaskId, AbortHandle)>,
    pub(crate) token: CancellationToken,
    /// Whether anyone but the group may cancel `token`: it has a parent, or was handed
    /// out by `token()`. Until then only the group cancels it, always after recording
    /// why in its state, so the token's own lock need not be taken to look at it.
    token_external: AtomicBool,
    max_concurrency: Option<usize>,
    /// Where queued tasks start: the runtime of the first task that was queued, as they
    /// are started from whichever thread frees a slot.
    runtime: OnceLock<Handle>,
    pub(crate) fail_fast: bool,
    pub(crate) grace_period: Duration,
    #[cfg(feature = "tracing")]
    pub(crate) span: tracing::Span,
}

pub(crate) struct Config {
    pub(crate) token: CancellationToken,
    /// The token is a child of a parent token.
    pub(crate) token_external: bool,
    pub(crate) max_concurrency: Option<usize>,
    pub(crate) fail_fast: bool,
    pub(crate) grace_period: Duration,
    #[cfg(feature = "tracing")]
    pub(crate) span: tracing::Span,
}

struct State<T, E> {
    finished: bool,
    /// A task failed while the group was fail-fast.
    failed: bool,
    /// A task failed, in any mode; `join` then never reports success, even when the
    /// failures were taken with `join_next`.
    any_failure: bool,
    /// `cancel()` was called.
    cancel_requested: bool,
    /// When the group started cancelling (failure, `cancel()` or its token), for the
    /// grace period.
    closing_since: Option<Instant>,
    next_id: u64,
    tasks: Slots,
    /// Tasks that were spawned, counted against `max_concurrency`.
    running: usize,
    /// Tasks waiting for a free slot, in spawn order, not spawned yet.
    queue: VecDeque<Queued>,
    successes: VecDeque<T>,
    /// The ids of `successes`, in the same (completion) order, to sort `join`'s results
    /// into spawn order and to pair `join_settled`'s outcomes with their tasks. Stored
    /// as runs of consecutive ids, so that tasks finishing in about spawn order (a
    /// long-running group of `()` tasks, typically) keep it flat in memory.
    success_ids: IdRuns,
    successes_reported: u64,
    successes_taken: u64,
    failures: VecDeque<Failure<E>>,
    /// Tasks that the group's cancellation stopped before they finished, with whether
    /// they had started (`false`: queued by `max_concurrency` and dropped unpolled),
    /// for `join_settled`. Tasks the owner aborted with `abort(id)` are not listed.
    /// Only a cancelling group adds to it, so it is bounded by the tasks live then.
    cancelled: Vec<(TaskId, bool)>,
    /// How many queued tasks were dropped without starting because the group cancelled.
    dropped_queued: usize,
    joiner: Option<Waker>,
    /// `join_next` wants a wake-up for every finished task, `join` only for the last.
    wake_on_each_completion: bool,
}

struct Failure<E> {
    id: TaskId,
    error: TaskError<E>,
    /// How many successes were reported before this failure, so that `join_next` can
    /// hand out outcomes in completion order.
    successes_before: u64,
}

/// Aligns its contents to 128 bytes (two cache lines, for CPUs that fetch lines in
/// pairs), so that nothing else shares their lines.
#[repr(align(128))]
struct CachePadded<T>(T);

impl<T, E> Shared<T, E> {
    pub(crate) fn new(config: Config) -> Self {
        Shared {
            state: CachePadded(Mutex::new(State {
                finished: false,
                failed: false,
                any_failure: false,
                cancel_requested: false,
                closing_since: None,
                next_id: 0,
                tasks: Slots::default(),
                running: 0,
                queue: VecDeque::new(),
                successes: VecDeque::new(),
                success_ids: IdRuns::default(),
                successes_reported: 0,
                successes_taken: 0,
                failures: VecDeque::new(),
                cancelled: Vec::new(),
                dropped_queued: 0,
                joiner: None,
                wake_on_each_completion: false,
            })),
            handoff: Handoff::new(),
            token: config.token,
            token_external: AtomicBool::new(config.token_external),
            max_concurrency: config.max_concurrency,
            runtime: OnceLock::new(),
            fail_fast: config.fail_fast,
            grace_period: config.grace_period,
            #[cfg(feature = "tracing")]
            span: config.span,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T, E>> {
        // No user code runs while the lock is held, so a poisoned lock still holds
        // consistent state.
        self.state.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The group's token, for someone else: from now on, it may be cancelled from
    /// outside the group.
    pub(crate) fn share_token(&self) -> CancellationToken {
        self.token_external.store(true, Ordering::Release);
        self.token.clone()
    }

    /// Whether the token was cancelled by someone other than the group (a parent token,
    /// or a holder of `token()`): the group's own cancellations are in its state.
    fn cancelled_from_outside(&self) -> bool {
        self.token_external.load(Ordering::Acquire) && self.token.is_cancelled()
    }

    /// Moves the handles of spawned tasks into their slots; handles of tasks that
    /// ended meanwhile are dropped (no user code runs: only the tokio task's memory
    /// is freed).
    fn attach_pending(&self, state: &mut State<T, E>) {
        self.handoff.take_all(|(slot, id, handle)| {
            let _ended = state.tasks.attach(slot, id, handle);
        });
    }

    pub(crate) fn live(&self) -> usize {
        self.lock().tasks.live
    }
}

impl<T, E> fmt::Debug for Shared<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("TaskGroup")
            .field("live", &state.tasks.live)
            .field("finished", &state.finished)
            .field("failed", &state.failed)
            .field(
                "cancelled",
                &(state.cancel_requested || self.token.is_cancelled()),
            )
            .field("fail_fast", &self.fail_fast)
            .field("max_concurrency", &self.max_concurrency)
            .field("grace_period", &self.grace_period)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use crate::TaskGroup;

    #[tokio::test]
    async fn a_long_running_group_of_unit_tasks_stays_flat_in_memory() {
        const BATCH: usize = 1_000;
        let group = TaskGroup::<(), Infallible>::new();
        for _ in 0..200 {
            for _ in 0..BATCH {
                group.spawn(async { Ok(()) }).unwrap();
            }
            while !group.is_empty() {
                tokio::task::yield_now().await;
            }
            let state = group.shared.lock();
            // Slots are reused, and `()` results need neither storage nor ids.
            assert!(state.tasks.count() <= BATCH);
            // Tasks that finish in spawn order share one run of ids.
            assert_eq!(state.success_ids.run_count(), 1);
            assert_eq!(state.successes.len(), state.successes_reported as usize);
        }
        assert_eq!(group.join().await.unwrap().len(), 200 * BATCH);
    }

    #[tokio::test]
    async fn a_task_whose_handle_is_still_pending_can_be_aborted() {
        let group = TaskGroup::<(), Infallible>::new();
        let stuck = group.spawn(std::future::pending()).unwrap();
        assert_eq!(group.shared.handoff.len(), 1);
        assert!(group.abort(stuck));
        assert_eq!(group.join().await.unwrap(), Vec::<()>::new());
    }

    #[tokio::test]
    async fn dropping_the_group_aborts_a_task_whose_handle_is_still_pending() {
        let group = TaskGroup::<(), Infallible>::new();
        let (alive, gone) = tokio::sync::oneshot::channel::<()>();
        group
            .spawn(async move {
                let _alive = alive;
                std::future::pending::<()>().await;
                Ok(())
            })
            .unwrap();
        assert_eq!(group.shared.handoff.len(), 1);
        drop(group);
        let aborted = tokio::time::timeout(std::time::Duration::from_secs(10), gone).await;
        assert!(aborted.expect("the task is aborted").is_err());
    }

    #[test]
    fn the_token_is_looked_at_once_someone_else_may_cancel_it() {
        use std::sync::atomic::Ordering;

        let external =
            |group: &TaskGroup<(), Infallible>| group.shared.token_external.load(Ordering::Acquire);
        let group = TaskGroup::<(), Infallible>::new();
        assert!(!external(&group));
        let token = group.spawner().token();
        assert!(external(&group));
        token.cancel();
        assert!(group.shared.cancelled_from_outside());

        let parent = tokio_util::sync::CancellationToken::new();
        let child = TaskGroup::<(), Infallible>::builder()
            .parent_token(&parent)
            .build()
            .unwrap();
        assert!(external(&child));
    }

    #[tokio::test]
    async fn results_that_are_kept_carry_their_ids() {
        let group = TaskGroup::<u8, Infallible>::new();
        for n in 0..10 {
            group.spawn(async move { Ok(n) }).unwrap();
        }
        while !group.is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(group.shared.lock().success_ids.len(), 10);
        assert_eq!(group.join().await.unwrap(), (0..10).collect::<Vec<_>>());
    }
}
