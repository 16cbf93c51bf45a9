//! The `Shutdown` coordinator.
//!
//! The file runs past 450 lines because `Shutdown` is one state machine (begin once,
//! collect work, abort at the grace period's end, wait for drains, report) whose parts
//! share its private state; its signal handling and reporting are in `handler.rs`,
//! `drain.rs` and `report.rs`.

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use futures_util::FutureExt as _;

use crate::metrics;
use crate::platform::{self, Registration, SignalStream};
use crate::{
    Drain, Failure, ForceExit, Outcome, ShutdownBuilder, ShutdownReason, ShutdownReport, Signal,
    SignalError, SignalExit, UnfinishedDrain,
};

/// What a failure of work started with [`Shutdown::spawn_with`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OnFailure {
    /// Begin the shutdown with [`ShutdownReason::Failed`] naming the work, as
    /// tokio-graceful-shutdown does: a service whose part died should stop as a whole
    /// rather than limp on. The default, and what [`Shutdown::spawn`] does.
    #[default]
    Shutdown,
    /// Only record the failure in the [`ShutdownReport`].
    Continue,
}

/// Graceful shutdown: the first signal (or [`trigger`](Shutdown::trigger)) cancels a
/// token that work watches, work gets a grace period to finish, what is left is
/// aborted and reported, and a second signal exits the process at once.
///
/// # How it goes
///
/// 1. [`install`](Shutdown::install) starts listening. Work is started with
///    [`spawn`](Shutdown::spawn) under a name, and watches [`token`](Shutdown::token).
/// 2. The first installed signal, or `trigger()`, begins the shutdown: the token is
///    cancelled and [`wait`](Shutdown::wait) returns.
/// 3. [`run`](Shutdown::run) returns once all work has finished, or once the grace
///    period has run out since the shutdown began; work still running then is
///    aborted. Its [`ShutdownReport`] names what finished, failed and was aborted.
/// 4. Any installed signal that arrives once the shutdown has begun ends the process
///    at once with the [`ForceExit`] code (130 after `SIGINT`, 143 after `SIGTERM`).
///    On Unix this exit happens inside the signal handler, so it works even when
///    blocking code holds every runtime thread; destructors do not run and output not
///    yet written to stdout or stderr is lost (Rust's stdout writes each complete
///    line).
///
/// # Process-global state
///
/// Signal dispositions belong to the process, not to a `Shutdown`:
///
/// - While a `Shutdown` (or a [`SignalHandle`](crate::SignalHandle)) listens for a
///   signal, that signal's default action is off. When the last uno listener for it
///   is gone, uno-signal emulates the default action again (for these signals: end the
///   process), or, for a signal the process ignored before uno first listened to it
///   (`nohup` and SIGHUP, on Linux), ignores it again. Mixing uno-signal with `tokio::signal` for the same signal defeats
///   this: once uno's last listener is gone, the signal ends the process even though
///   tokio still listens.
/// - Several `Shutdown`s can live in one process (for example in one test binary);
///   each sees every signal it installed. The forced exit is process-wide by nature:
///   once any of them has begun shutting down, its next signal ends the process.
///
/// Nothing else is shared: tokens, work and reports belong to one `Shutdown`.
///
/// Dropping a `Shutdown` stops listening, cancels its token and aborts its work.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_signal::{Shutdown, Signal};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), uno_signal::SignalError> {
///     let shutdown = Shutdown::install([Signal::Interrupt, Signal::Terminate])?;
///
///     let token = shutdown.token();
///     shutdown.spawn("worker", async move {
///         loop {
///             tokio::select! {
///                 () = token.cancelled() => break,
///                 () = tokio::time::sleep(Duration::from_millis(100)) => {
///                     // ... one unit of work ...
///                 }
///             }
///         }
///         // ... flush, close connections ...
///     })?;
///
///     # shutdown.trigger(); // stands in for Ctrl-C here
///     let report = shutdown.run().await; // Ctrl-C once: graceful; twice: exit 130
///     println!("{report}");
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct Shutdown {
    state: Arc<State>,
    grace_period: Duration,
    signal_exit: SignalExit,
    drains: Drains,
    work: Mutex<WorkSet>,
    /// Serialises calls of `run`: the work set wakes only the last task that polled
    /// it, so two concurrent `run`s could otherwise miss a completion.
    running: tokio::sync::Mutex<()>,
    listener: JoinHandle<()>,
    // Kept for its `Drop`: unregisters the forced exit and gives signals back to
    // their default action when this was their last listener.
    _registration: Registration,
}

/// What the listener task shares with the `Shutdown`.
#[derive(Debug)]
struct State {
    token: CancellationToken,
    reason: OnceLock<ShutdownReason>,
    began_at: OnceLock<Instant>,
    /// Read inside the signal handler: set once the shutdown has begun.
    armed: Arc<AtomicBool>,
}

impl State {
    /// Begins the shutdown; returns false if it had already begun.
    fn begin(&self, reason: ShutdownReason) -> bool {
        if self.reason.set(reason).is_err() {
            return false;
        }
        let _ = self.began_at.set(Instant::now());
        Registration::arm(&self.armed);
        #[cfg(feature = "tracing")]
        if let Some(reason) = self.reason.get() {
            tracing::info!(%reason, "shutdown began");
        }
        self.token.cancel();
        true
    }
}

/// The drains `run` waits for after the work.
struct Drains(Vec<Arc<dyn Drain>>);

impl std::fmt::Debug for Drains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|drain| drain.name()))
            .finish()
    }
}

impl Drains {
    /// Waits for every drain until `deadline` (`None`: no limit), then lists what is
    /// left of each one that did not finish.
    async fn wait_until(&self, deadline: Option<Instant>) -> Vec<UnfinishedDrain> {
        #[expect(
            clippy::disallowed_methods,
            reason = "every drain is awaited to its end, and none can fail: join_all is the point"
        )]
        let all = futures_util::future::join_all(self.0.iter().map(|drain| drain.wait()));
        match deadline {
            Some(deadline) => drop(tokio::time::timeout_at(deadline, all).await),
            None => drop(all.await),
        }
        self.0
            .iter()
            .filter_map(|drain| {
                let remaining = drain.remaining();
                (!remaining.is_empty()).then(|| UnfinishedDrain {
                    name: drain.name(),
                    remaining,
                })
            })
            .collect()
    }
}

#[derive(Debug, Default)]
struct WorkSet {
    tasks: JoinSet<Result<(), Failure>>,
    /// Name and spawn position of each task in `tasks`.
    names: HashMap<tokio::task::Id, (u64, String)>,
    spawned: u64,
    /// Outcomes collected but not yet returned by `run`; kept here rather than in
    /// `run`'s future so that dropping that future loses nothing.
    finished: Vec<String>,
    failed: Vec<(String, Failure)>,
}

impl WorkSet {
    fn record(&mut self, joined: Result<(tokio::task::Id, Result<(), Failure>), JoinError>) {
        let (id, result) = match joined {
            Ok((id, result)) => (id, result),
            Err(error) => {
                let id = error.id();
                // Panics are caught inside the task and uno aborts tasks only together
                // with their removal from the set, so an error here is the runtime
                // cancelling the task as it shuts down: reported rather than lost.
                let failure = match error.try_into_panic() {
                    Ok(payload) => Failure::from_panic(&*payload),
                    Err(_) => Failure::Panic("cancelled by the runtime".to_owned()),
                };
                (id, Err(failure))
            }
        };
        let name = self
            .names
            .remove(&id)
            .map_or_else(|| format!("{id}"), |(_, name)| name);
        match result {
            Ok(()) => self.finished.push(name),
            Err(failure) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(work = %name, %failure, "shutdown work failed");
                self.failed.push((name, failure));
            }
        }
    }

    /// Aborts every task still running and returns their names in spawn order.
    fn abort_remaining(&mut self) -> Vec<String> {
        // Dropping the set aborts its tasks; they are dropped at their next `.await`,
        // and nothing waits for that, so a task stuck in blocking code cannot hang the
        // shutdown.
        drop(std::mem::take(&mut self.tasks));
        let mut remaining: Vec<(u64, String)> =
            self.names.drain().map(|(_, entry)| entry).collect();
        remaining.sort_unstable_by_key(|(position, _)| *position);
        remaining.into_iter().map(|(_, name)| name).collect()
    }
}

impl Shutdown {
    /// Listens for `signals` with the default grace period
    /// ([`DEFAULT_GRACE_PERIOD`](crate::DEFAULT_GRACE_PERIOD)) and forced exit
    /// ([`ForceExit::Conventional`]). Use [`builder`](Shutdown::builder) for other
    /// options.
    ///
    /// # Errors
    ///
    /// [`SignalError::Unsupported`] for a signal the platform does not have,
    /// [`SignalError::Register`] if the operating system refuses a handler.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime, or (on Unix, with signals to
    /// listen for) in a runtime built without `enable_io`. A shutdown without signals
    /// needs no I/O driver.
    pub fn install(signals: impl IntoIterator<Item = Signal>) -> Result<Shutdown, SignalError> {
        ShutdownBuilder::default().signals(signals).install()
    }

    /// Options: signals, grace period, forced exit.
    pub fn builder() -> ShutdownBuilder {
        ShutdownBuilder::default()
    }

    pub(crate) fn from_builder(builder: &ShutdownBuilder) -> Result<Shutdown, SignalError> {
        let armed = Arc::new(AtomicBool::new(false));
        let (stream, registration) =
            platform::listen(&builder.signals, Some((builder.force_exit, &armed)))?;
        let state = Arc::new(State {
            token: CancellationToken::new(),
            reason: OnceLock::new(),
            began_at: OnceLock::new(),
            armed,
        });
        #[expect(
            clippy::disallowed_methods,
            reason = "the listener task is owned by the Shutdown, which aborts it on drop"
        )]
        let listener = tokio::spawn(listen(stream, Arc::clone(&state), builder.force_exit));
        Ok(Shutdown {
            state,
            grace_period: builder.grace_period,
            signal_exit: builder.signal_exit,
            drains: Drains(builder.drains.clone()),
            work: Mutex::new(WorkSet::default()),
            running: tokio::sync::Mutex::new(()),
            listener,
            _registration: registration,
        })
    }

    /// A token that is cancelled when the shutdown begins.
    ///
    /// It is a child of the shutdown's own token: cancelling it affects only its
    /// holder and its own children, never the shutdown. Call
    /// [`trigger`](Shutdown::trigger) to begin the shutdown.
    #[must_use]
    pub fn token(&self) -> CancellationToken {
        self.state.token.child_token()
    }

    /// Begins the shutdown as a signal would, with [`ShutdownReason::Triggered`]. Does
    /// nothing if it has already begun.
    ///
    /// Like a first signal, it arms the forced exit: an installed signal that arrives
    /// after it ends the process.
    pub fn trigger(&self) {
        self.state.begin(ShutdownReason::Triggered);
    }

    /// Whether the shutdown has begun.
    #[must_use]
    pub fn is_triggered(&self) -> bool {
        self.state.reason.get().is_some()
    }

    /// Why the shutdown began, or `None` while it has not.
    #[must_use]
    pub fn reason(&self) -> Option<ShutdownReason> {
        self.state.reason.get().cloned()
    }

    /// The grace period work gets once the shutdown has begun.
    #[must_use]
    pub fn grace_period(&self) -> Duration {
        self.grace_period
    }

    /// Waits until the shutdown begins, and says why.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future has no effect on the shutdown.
    pub async fn wait(&self) -> ShutdownReason {
        self.state.token.cancelled().await;
        // The reason is set before the token is cancelled.
        self.reason().unwrap_or(ShutdownReason::Triggered)
    }

    /// Starts `work` on the runtime under `name`, to be waited for (then aborted) by
    /// [`run`](Shutdown::run). If the work returns an error or panics, the shutdown
    /// begins with [`ShutdownReason::Failed`] naming it ([`OnFailure::Shutdown`]); use
    /// [`spawn_with`](Shutdown::spawn_with) to only record the failure.
    ///
    /// The work returns `()` or `Result<(), E>`; errors and panics end up in the
    /// [`ShutdownReport`]. It should watch [`token`](Shutdown::token) and wind down
    /// once it is cancelled. Spawned under a deadline (`uno_deadline::within`), the
    /// work inherits it and fails with [`Failure::DeadlinePassed`] when it passes.
    ///
    /// # Errors
    ///
    /// [`SignalError::ShuttingDown`] once the shutdown has begun: new work would only
    /// be cancelled at once.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime.
    pub fn spawn<F>(&self, name: impl Into<String>, work: F) -> Result<(), SignalError>
    where
        F: Future + Send + 'static,
        F::Output: Outcome,
    {
        self.spawn_with(name, OnFailure::Shutdown, work)
    }

    /// Starts `work` as [`spawn`](Shutdown::spawn) does, with `on_failure` deciding
    /// whether its error or panic begins the shutdown.
    ///
    /// # Errors
    ///
    /// [`SignalError::ShuttingDown`] once the shutdown has begun.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime.
    pub fn spawn_with<F>(
        &self,
        name: impl Into<String>,
        on_failure: OnFailure,
        work: F,
    ) -> Result<(), SignalError>
    where
        F: Future + Send + 'static,
        F::Output: Outcome,
    {
        let name = name.into();
        if self.is_triggered() {
            return Err(SignalError::ShuttingDown { name });
        }
        let state = Arc::clone(&self.state);
        let failed_name = name.clone();
        // Work spawned under a deadline keeps it (read here, in the spawning task).
        let work = uno_deadline::inherit(work);
        let work = async move {
            // Caught here rather than by the runtime, so that the shutdown begins as
            // soon as the work fails, not when `run` gets to collect it.
            let result = match std::panic::AssertUnwindSafe(work).catch_unwind().await {
                Ok(Ok(outcome)) => outcome.into_result().map_err(Failure::Error),
                Ok(Err(_elapsed)) => Err(Failure::DeadlinePassed),
                Err(payload) => Err(Failure::from_panic(&*payload)),
            };
            if result.is_err() && on_failure == OnFailure::Shutdown {
                state.begin(ShutdownReason::Failed { name: failed_name });
            }
            result
        };
        let mut set = self.lock_work();
        let handle = set.tasks.spawn(work);
        let position = set.spawned;
        set.spawned += 1;
        set.names.insert(handle.id(), (position, name));
        Ok(())
    }

    /// Runs the shutdown to its end, the one exit path of a service: returns once all
    /// spawned work has finished and every [`Drain`] (background cleanups, batchers
    /// writing their last items) has finished, or once the grace period has run out
    /// after the shutdown began. Work still running then is aborted, and drains still
    /// going are listed in the report's
    /// [`unfinished_drains`](ShutdownReport::unfinished_drains); nothing is dropped
    /// silently. End `main` with `std::process::exit(report.exit_code())`.
    ///
    /// The grace period bounds the whole exit: the drains get what the work left of
    /// it. If all work finishes before any shutdown (or none was spawned), the drains
    /// get a grace period from then, and the report's
    /// [`reason`](ShutdownReport::reason) is `None`; use [`wait`](Shutdown::wait) to
    /// wait for the shutdown itself.
    ///
    /// Concurrent calls take turns: a second call waits for the first to return, then
    /// reports whatever is left (usually nothing).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: work keeps running when the future is dropped, and outcomes it had
    /// already collected are returned by the next call.
    pub async fn run(&self) -> ShutdownReport {
        let _running = self.running.lock().await;
        let mut all_finished = false;
        loop {
            tokio::select! {
                biased;
                () = self.state.token.cancelled() => break,
                more = poll_fn(|context| self.poll_collect(context)) => {
                    if !more {
                        all_finished = true;
                        break;
                    }
                }
            }
        }
        let began_at = self
            .state
            .began_at
            .get()
            .copied()
            .unwrap_or_else(Instant::now);
        // A grace period too long to represent is as good as endless.
        let deadline = began_at.checked_add(self.grace_period);
        let aborted = if all_finished {
            Vec::new()
        } else {
            self.collect_until(deadline).await
        };
        // Phases are timed only for an exit that began with a shutdown (not for work
        // that all finished first).
        let shut_down = self.state.began_at.get().is_some();
        if shut_down {
            metrics::phase_ended("work", began_at);
        }
        let drains_began = Instant::now();
        let unfinished_drains = self.drains.wait_until(deadline).await;
        if shut_down {
            metrics::phase_ended("drains", drains_began);
        }
        metrics::exit_ended(aborted.len(), unfinished_drains.len());
        #[cfg(feature = "tracing")]
        if !unfinished_drains.is_empty() {
            tracing::warn!(
                ?unfinished_drains,
                "grace period over; drains did not finish"
            );
        }
        self.take_report(aborted, unfinished_drains)
    }

    /// Collects finished work until none is left or `deadline` passes; then aborts
    /// the rest and returns its names.
    async fn collect_until(&self, deadline: Option<Instant>) -> Vec<String> {
        let grace = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(grace);
        loop {
            tokio::select! {
                biased;
                more = poll_fn(|context| self.poll_collect(context)) => {
                    if !more {
                        return Vec::new();
                    }
                }
                () = &mut grace => {
                    let aborted = self.lock_work().abort_remaining();
                    #[cfg(feature = "tracing")]
                    tracing::warn!(?aborted, "grace period over; aborted unfinished work");
                    return aborted;
                }
            }
        }
    }

    /// Collects one finished task; `Ready(false)` when there is none left.
    fn poll_collect(&self, context: &mut Context<'_>) -> Poll<bool> {
        let mut set = self.lock_work();
        match set.tasks.poll_join_next_with_id(context) {
            Poll::Ready(Some(joined)) => {
                set.record(joined);
                Poll::Ready(true)
            }
            Poll::Ready(None) => Poll::Ready(false),
            Poll::Pending => Poll::Pending,
        }
    }

    fn take_report(
        &self,
        aborted: Vec<String>,
        unfinished_drains: Vec<UnfinishedDrain>,
    ) -> ShutdownReport {
        let mut set = self.lock_work();
        ShutdownReport {
            reason: self.reason(),
            finished: std::mem::take(&mut set.finished),
            failed: std::mem::take(&mut set.failed),
            aborted,
            unfinished_drains,
            signal_exit: self.signal_exit,
        }
    }

    fn lock_work(&self) -> MutexGuard<'_, WorkSet> {
        // No code path panics while holding the lock with the set half-updated.
        self.work.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Shutdown {
    fn drop(&mut self) {
        self.listener.abort();
        self.state.token.cancel();
        // The work set aborts its tasks when dropped.
    }
}

/// Turns the first signal into the shutdown; later ones are for the forced exit.
async fn listen(mut stream: SignalStream, state: Arc<State>, force_exit: ForceExit) {
    while let Some(signal) = stream.recv().await {
        if state.begin(ShutdownReason::Signal(signal)) {
            continue;
        }
        // On Unix a forced exit already happened inside the signal handler, so
        // reaching this point there means the forced exit is off.
        #[cfg(feature = "tracing")]
        tracing::info!(%signal, ?force_exit, "signal during shutdown");
        platform::exit_on_runtime(signal, force_exit);
    }
}
