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
//! This file owns the group's state machine (spawn, completion, failure, cancel,
//! join polling) under one mutex. Two data structures it keeps under that mutex live
//! in their own files, each stating its invariants: `slots` (the live tasks' abort
//! handles, in reusable slots) and `id_runs` (the ids of kept results).

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::Waker;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{GroupError, PanicPayload, SpawnError, TaskError};
use crate::settled::Settled;
use crate::task::{self, Outcome, Stopped, Task, TaskGuard, TaskId};

mod id_runs;
mod slots;

use self::id_runs::IdRuns;
use self::slots::{Slots, Stop};

pub(crate) struct Shared<T, E> {
    /// On cache lines of its own: every task's start and end lock it, from several
    /// threads, and it should not drag the `Arc`'s counts and the read-mostly fields
    /// below along with it.
    state: CachePadded<Mutex<State<T, E>>>,
    /// Abort handles of tasks just spawned (slot, id, handle), not yet moved into the
    /// state's slots. A spawner puts its task's handle here rather than taking the
    /// state's lock a second time; the next spawn, abort or join moves them over.
    /// Only spawners touch it, so its lock is rarely contended. Taken under the
    /// state's lock, never the other way round.
    pending: Mutex<Vec<(usize, TaskId, AbortHandle)>>,
    pub(crate) token: CancellationToken,
    /// Whether anyone but the group may cancel `token`: it has a parent, or was handed
    /// out by `token()`. Until then only the group cancels it, always after recording
    /// why in its state, so the token's own lock need not be taken to look at it.
    token_external: AtomicBool,
    /// Set once every task has been aborted; tasks that have not started yet see it and
    /// never run their body.
    pub(crate) aborted: AtomicBool,
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

/// A task waiting for a free slot: its future, with the guard that reports its end.
struct Queued {
    slot: usize,
    id: TaskId,
    task: Pin<Box<dyn Future<Output = ()> + Send + 'static>>,
}

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

thread_local! {
    /// Set while this thread starts queued tasks. A runtime that is shutting down drops
    /// a task's future inside `spawn`; the guard's report then must not start the next
    /// queued task recursively (the loop in `start_queued` does it), or a long queue
    /// would overflow the stack.
    static STARTING_QUEUED: Cell<bool> = const { Cell::new(false) };
}

/// Clears `STARTING_QUEUED` when `start_queued` returns, also by unwinding.
struct ResetOnDrop;

impl Drop for ResetOnDrop {
    fn drop(&mut self) {
        STARTING_QUEUED.set(false);
    }
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

/// What one poll of the group found, for `join` and `join_next`.
pub(crate) enum Progress<R> {
    Ready(R),
    Pending,
}

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
            pending: Mutex::new(Vec::new()),
            token: config.token,
            token_external: AtomicBool::new(config.token_external),
            aborted: AtomicBool::new(false),
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

    fn lock_pending(&self) -> MutexGuard<'_, Vec<(usize, TaskId, AbortHandle)>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the handles of spawned tasks into their slots; handles of tasks that
    /// ended meanwhile are dropped (no user code runs: only the tokio task's memory
    /// is freed).
    fn attach_pending(&self, state: &mut State<T, E>) {
        let mut pending = self.lock_pending();
        for (slot, id, handle) in pending.drain(..) {
            let _ended = state.tasks.attach(slot, id, handle);
        }
    }

    pub(crate) fn spawn<F>(self: &Arc<Self>, body: F) -> Result<TaskId, SpawnError>
    where
        T: Send + 'static,
        E: Send + 'static,
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        if self.max_concurrency.is_some() {
            // Queued tasks are started later, from whichever thread frees a slot.
            self.runtime.get_or_init(Handle::current);
        }
        // Reserve a slot first and attach the abort handle after `tokio::spawn`: the
        // lock is not held while tokio runs (a runtime that is shutting down drops the
        // future, and so its guard, right inside `spawn`), and a task that ends before
        // its handle is attached simply frees its slot. The handle waits in `pending`
        // until the group's lock is taken again.
        // The token has a lock of its own: look at it before taking the group's, so
        // that the two are never held together.
        let token_cancelled = self.cancelled_from_outside();
        let mut state = self.lock();
        if state.finished {
            return Err(SpawnError::Finished);
        }
        if state.failed {
            return Err(SpawnError::Failed);
        }
        if state.cancel_requested || token_cancelled {
            return Err(SpawnError::Cancelled);
        }
        let id = TaskId::new(state.next_id);
        state.next_id += 1;
        // Queued tasks go first, so that tasks start in spawn order.
        let start_now = match self.max_concurrency {
            None => true,
            Some(limit) => state.running < limit && state.queue.is_empty(),
        };
        if start_now {
            // This task's handle will wait in `pending`: move the earlier ones over.
            self.attach_pending(&mut state);
        }
        let (slot, ended) = state.tasks.reserve(id, start_now);
        let task = task::run(Task::new(TaskGuard::new(Arc::clone(self), slot, id), body));
        if !start_now {
            let task = Box::pin(task);
            state.queue.push_back(Queued { slot, id, task });
            return Ok(id);
        }
        state.running += 1;
        drop(state);
        drop(ended);
        self.start(slot, id, task);
        Ok(id)
    }

    /// Spawns a task whose slot is reserved and counted as running, on the current
    /// runtime, and leaves its abort handle in `pending`.
    fn start<F>(&self, slot: usize, id: TaskId, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = self.spawn_task(id, task, None);
        self.lock_pending().push((slot, id, handle));
        // The group may have been torn down since the reservation. `abort_all` sets
        // the flag before it takes `pending`'s lock: either it found this handle, or
        // the flag is seen here.
        if self.aborted.load(Ordering::Acquire) {
            self.abort_remaining();
        }
    }

    fn attached(&self, attached: Result<(), AbortHandle>) {
        match attached {
            // The group may have been torn down between the reservation and now.
            Ok(()) if self.aborted.load(Ordering::Acquire) => self.abort_remaining(),
            Ok(()) => {}
            // The task has ended already; its handle is dropped here, outside the lock.
            Err(unused) => drop(unused),
        }
    }

    /// Starts `next` (a queued task already counted as running), then further queued
    /// tasks while slots are free and the group is not cancelling.
    fn start_queued(&self, next: Option<Queued>) {
        let Some(runtime) = self.runtime.get() else {
            return;
        };
        // A recursive call (see `STARTING_QUEUED`) never gets a task to start:
        // `complete` pops none while this thread is starting queued tasks.
        if STARTING_QUEUED.replace(true) {
            return;
        }
        let _reset = ResetOnDrop;
        let mut next = next;
        while let Some(queued) = next.take() {
            // A cancelled token stops queued tasks even before the owner notices it:
            // the task is dropped unpolled, and its guard reports it (the flag above
            // keeps that report from starting another one). The token's lock is looked
            // at here, never under the group's.
            if self.cancelled_from_outside() {
                self.lock()
                    .tasks
                    .mark_stopping(queued.slot, Stop::Unstarted);
                drop(queued);
                break;
            }
            let handle = self.spawn_task(queued.id, queued.task, Some(runtime));
            let attached = {
                let mut state = self.lock();
                // Under the same lock, the next task if another slot is free: tasks
                // that ended on this thread while it was starting this one.
                next = Self::next_queued(self.max_concurrency, &mut state);
                state.tasks.attach(queued.slot, queued.id, handle)
            };
            self.attached(attached);
        }
    }

    /// Takes the next queued task and counts it as running, if a slot is free and the
    /// group is not cancelling (its token is checked by `start_queued`).
    fn next_queued(max_concurrency: Option<usize>, state: &mut State<T, E>) -> Option<Queued> {
        let limit = max_concurrency?;
        if state.running >= limit || state.closing_since.is_some() {
            return None;
        }
        let next = state.queue.pop_front()?;
        state.running += 1;
        state.tasks.mark_running(next.slot);
        Some(next)
    }

    fn spawn_task<F>(&self, id: TaskId, task: F, runtime: Option<&Handle>) -> AbortHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        #[cfg(feature = "tracing")]
        let task = tracing::Instrument::instrument(
            task,
            tracing::debug_span!(parent: &self.span, "task", id = id.as_u64()),
        );
        #[cfg(not(feature = "tracing"))]
        let _ = id;
        #[expect(
            clippy::disallowed_methods,
            reason = "this is the group's own spawn: the task is tracked and aborted by the group"
        )]
        match runtime {
            None => tokio::spawn(task).abort_handle(),
            Some(runtime) => runtime.spawn(task).abort_handle(),
        }
    }

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
                (None, None) if self.aborted.load(Ordering::Acquire) => {
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
        self.aborted.store(true, Ordering::Release);
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
            if self.aborted.load(Ordering::Acquire) {
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

    pub(crate) fn live(&self) -> usize {
        self.lock().tasks.live
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

    #[tokio::test]
    async fn a_task_whose_handle_is_still_pending_can_be_aborted() {
        let group = TaskGroup::<(), Infallible>::new();
        let stuck = group.spawn(std::future::pending()).unwrap();
        assert_eq!(group.shared.lock_pending().len(), 1);
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
        assert_eq!(group.shared.lock_pending().len(), 1);
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
