//! [`CircuitBreaker`], the shared handle: it takes the lock around the state machine for
//! an admission and again for an outcome, never across the operation and never while
//! the hook runs. A `Ticket` stands for an admitted call; dropping it without an outcome
//! (the call was cancelled) gives a probe slot back.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::FutureExt;
use tokio::time::Instant;

use crate::builder::{CircuitBreakerBuilder, Config, OnStateChange, RecordIf};
use crate::error::BreakerError;
use crate::state::{Admission, Change, Core, Rejection, State};

/// Stops calling a dependency that keeps failing, and tries it again after a while.
///
/// Closed, it runs every call and counts failures; when a trip rule holds
/// ([`consecutive_failures`](CircuitBreakerBuilder::consecutive_failures) or
/// [`failure_rate`](CircuitBreakerBuilder::failure_rate)) it opens and rejects calls
/// without running them, with [`BreakerError::Open`]. After the open duration it is
/// half-open: a bounded number of probe calls run, and they close it or open it again.
///
/// `CircuitBreaker<E>` guards operations that fail with `E`; which of those errors count
/// as failures is set once, with [`record_if`](CircuitBreakerBuilder::record_if), so that
/// every caller is judged the same way. Cloning is cheap, and every clone shares the
/// same state: keep one breaker per dependency.
///
/// Time is tokio's clock ([`tokio::time::Instant`]), so tests with paused time see exact
/// open durations and windows.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_breaker::{BreakerError, CircuitBreaker, State};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), uno_breaker::BuildError> {
/// let breaker = CircuitBreaker::builder()
///     .consecutive_failures(2)
///     .open_for(Duration::from_secs(10))
///     .build()?;
/// for _ in 0..2 {
///     let _ = breaker.call(async { Err::<(), _>("refused") }).await;
/// }
/// assert_eq!(breaker.state(), State::Open);
/// let rejected = breaker.call(async { Ok(()) }).await;
/// assert_eq!(rejected, Err(BreakerError::Open { retry_after: Duration::from_secs(10) }));
/// # Ok(())
/// # }
/// ```
pub struct CircuitBreaker<E> {
    shared: Arc<Shared<E>>,
}

struct Shared<E> {
    config: Config,
    core: Mutex<Core>,
    record_if: Option<RecordIf<E>>,
    on_state_change: Option<OnStateChange>,
}

/// An admitted call. Dropped without [`finish`](Ticket::finish), it was cancelled.
struct Ticket<'a, E> {
    shared: &'a Shared<E>,
    admission: Admission,
    finished: bool,
}

impl<E> CircuitBreaker<E> {
    /// Starts a [`CircuitBreakerBuilder`] with the defaults: open after 5 consecutive
    /// failures, for 30 s, then 1 probe call.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_breaker::CircuitBreaker;
    ///
    /// let breaker: CircuitBreaker<std::io::Error> = CircuitBreaker::builder()
    ///     .consecutive_failures(3)
    ///     .open_for(Duration::from_secs(10))
    ///     .build()?;
    /// # let _ = breaker;
    /// # Ok::<(), uno_breaker::BuildError>(())
    /// ```
    pub fn builder() -> CircuitBreakerBuilder<E> {
        CircuitBreakerBuilder::new()
    }

    pub(crate) fn from_parts(
        config: Config,
        record_if: Option<RecordIf<E>>,
        on_state_change: Option<OnStateChange>,
    ) -> Self {
        let core = Core::new(&config, Instant::now());
        Self {
            shared: Arc::new(Shared {
                config,
                core: Mutex::new(core),
                record_if,
                on_state_change,
            }),
        }
    }

    /// Runs `operation` if the breaker admits it, and counts its outcome.
    ///
    /// The breaker decides when the returned future is first polled. Closed, it runs
    /// the operation; open, or half-open with every probe slot taken, it drops the
    /// operation without polling it. An `Err` the [`record_if`] predicate accepts (by
    /// default, every `Err`) and a panic count as failures; `Ok`, other errors, and a
    /// call dropped before it finished do not. Nothing is allocated per call.
    ///
    /// [`record_if`]: CircuitBreakerBuilder::record_if
    ///
    /// # Errors
    ///
    /// - [`BreakerError::Open`] when the breaker is open, with how long until it admits
    ///   a probe; the operation was not run;
    /// - [`BreakerError::HalfOpenBusy`] when it is half-open and all its probe slots are
    ///   taken; the operation was not run;
    /// - [`BreakerError::Inner`] with the operation's own error.
    ///
    /// # Panics
    ///
    /// A panic in `operation` is counted as a failure and then resumed, so it reaches
    /// the caller as if there were no breaker. A panic in the `record_if` predicate or
    /// the state-change hook reaches the caller too; the breaker stays consistent.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future drops the operation, counts nothing, and gives
    /// back the probe slot of a half-open probe, so another call can probe.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_breaker::{BreakerError, CircuitBreaker};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uno_breaker::BuildError> {
    /// let breaker = CircuitBreaker::builder().build()?;
    /// assert_eq!(breaker.call(async { Ok::<_, &str>(42) }).await, Ok(42));
    /// assert_eq!(breaker.call(async { Err::<u8, _>("down") }).await, Err(BreakerError::Inner("down")));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn call<T, F>(&self, operation: F) -> Result<T, BreakerError<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        let ticket = self.admit()?;
        // The operation's own state is not observed after a panic: the breaker only
        // records that it failed and resumes the panic.
        match AssertUnwindSafe(operation).catch_unwind().await {
            Ok(Ok(value)) => {
                ticket.finish(false);
                Ok(value)
            }
            Ok(Err(error)) => {
                let failed = self
                    .shared
                    .record_if
                    .as_ref()
                    .is_none_or(|record_if| record_if(&error));
                ticket.finish(failed);
                Err(BreakerError::Inner(error))
            }
            Err(panic) => {
                ticket.finish(true);
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// The breaker's state now. An open breaker whose open duration has passed is
    /// reported, and becomes, half-open (running the state-change hook).
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_breaker::{CircuitBreaker, State};
    ///
    /// let breaker: CircuitBreaker<std::io::Error> = CircuitBreaker::builder().build()?;
    /// assert_eq!(breaker.state(), State::Closed);
    /// # Ok::<(), uno_breaker::BuildError>(())
    /// ```
    pub fn state(&self) -> State {
        let now = Instant::now();
        let (state, change) = self.shared.lock().state(now);
        self.shared.notify(change);
        state
    }

    fn admit(&self) -> Result<Ticket<'_, E>, BreakerError<E>> {
        let shared = &*self.shared;
        let now = Instant::now();
        let (admission, change) = shared.lock().admit(&shared.config, now);
        shared.notify(change);
        match admission {
            Ok(admission) => Ok(Ticket {
                shared,
                admission,
                finished: false,
            }),
            Err(Rejection::Open { retry_after }) => Err(BreakerError::Open { retry_after }),
            Err(Rejection::HalfOpenBusy) => Err(BreakerError::HalfOpenBusy),
        }
    }
}

impl<E> Shared<E> {
    fn lock(&self) -> MutexGuard<'_, Core> {
        // Nothing panics while the lock is held (hooks and predicates run outside it),
        // so a poisoned lock still holds a consistent state.
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reports a change of state; called with the lock released.
    fn notify(&self, change: Change) {
        let Some((from, to)) = change else {
            return;
        };
        crate::trace!(?from, ?to, "circuit breaker changed state");
        if let Some(hook) = &self.on_state_change {
            hook(from, to);
        }
    }
}

impl<E> Ticket<'_, E> {
    fn finish(mut self, failed: bool) {
        self.finished = true;
        let now = Instant::now();
        let change = self
            .shared
            .lock()
            .record(&self.shared.config, self.admission, failed, now);
        self.shared.notify(change);
    }
}

impl<E> Drop for Ticket<'_, E> {
    fn drop(&mut self) {
        // Only a probe has something to give back, so a cancelled call in the closed
        // state does not take the lock.
        if !self.finished && self.admission.is_probe() {
            self.shared.lock().cancel(self.admission);
        }
    }
}

impl<E> Clone for CircuitBreaker<E> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<E> fmt::Debug for CircuitBreaker<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("config", &self.shared.config)
            .field("core", &*self.shared.lock())
            .finish_non_exhaustive()
    }
}
