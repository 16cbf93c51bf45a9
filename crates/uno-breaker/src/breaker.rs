//! [`CircuitBreaker`], the shared handle: it takes the lock around the state machine for
//! an admission and again for an outcome, never across the operation and never while
//! the hook runs. A `Ticket` stands for an admitted call; dropping it without an outcome
//! (the call was cancelled) gives a probe slot back. A ticket borrows the breaker in
//! [`CircuitBreaker::call`] and owns a clone of it in the tower service's future.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::FutureExt;
use tokio::time::Instant;

use crate::builder::{CircuitBreakerBuilder, Config, OnStateChange, RecordIf};
use crate::error::BreakerError;
use crate::metrics;
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
///
/// `B` is how it reaches its breaker: `&CircuitBreaker<E>` or an owned clone.
pub(crate) struct Ticket<E, B: Borrow<CircuitBreaker<E>>> {
    breaker: B,
    admission: Admission,
    finished: bool,
    _error: PhantomData<fn(&E)>,
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
        metrics::created(&config);
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
        let ticket = Self::admit(self).map_err(|rejection| self.refuse(rejection))?;
        // The operation's own state is not observed after a panic: the breaker only
        // records that it failed and resumes the panic.
        match AssertUnwindSafe(operation).catch_unwind().await {
            Ok(Ok(value)) => {
                ticket.finish(false);
                Ok(value)
            }
            Ok(Err(error)) => {
                ticket.finish(self.records(&error));
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

    /// The name given with [`CircuitBreakerBuilder::name`], if any.
    pub fn name(&self) -> Option<&str> {
        self.shared.config.name.as_deref()
    }

    /// Admits a call now, or says why not; the ticket reaches the breaker through
    /// `breaker` (a borrow, or an owned clone for a future that outlives the borrow).
    pub(crate) fn admit<B: Borrow<Self>>(breaker: B) -> Result<Ticket<E, B>, Rejection> {
        let shared = &*breaker.borrow().shared;
        let now = Instant::now();
        let (admission, change) = shared.lock().admit(&shared.config, now);
        shared.notify(change);
        Ok(Ticket {
            admission: admission?,
            breaker,
            finished: false,
            _error: PhantomData,
        })
    }

    /// Why a call would be refused now, if it would; it takes no probe slot. An open
    /// duration that has passed turns into half-open here, as in [`state`](Self::state).
    // Used by the tower service only.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn rejection(&self) -> Option<Rejection> {
        let shared = &*self.shared;
        let (rejection, change) = shared.lock().peek(&shared.config, Instant::now());
        shared.notify(change);
        rejection
    }

    /// Whether `error` counts as a failure ([`record_if`](CircuitBreakerBuilder::record_if)).
    pub(crate) fn records(&self, error: &E) -> bool {
        self.shared
            .record_if
            .as_ref()
            .is_none_or(|record_if| record_if(error))
    }
}

impl<E> CircuitBreaker<E> {
    /// The error a refused call returns; counts the refusal.
    pub(crate) fn refuse<X>(&self, rejection: Rejection) -> BreakerError<X> {
        metrics::rejected(&self.shared.config, rejection);
        rejected(rejection)
    }
}

/// The error a refused call returns.
fn rejected<X>(rejection: Rejection) -> BreakerError<X> {
    match rejection {
        Rejection::Open { retry_after } => BreakerError::Open { retry_after },
        Rejection::HalfOpenBusy => BreakerError::HalfOpenBusy,
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
        metrics::changed(&self.config, from, to);
        if let Some(hook) = &self.on_state_change {
            hook(from, to);
        }
    }
}

impl<E, B: Borrow<CircuitBreaker<E>>> Ticket<E, B> {
    /// Records the call's outcome.
    pub(crate) fn finish(mut self, failed: bool) {
        self.finished = true;
        let shared = &*self.breaker.borrow().shared;
        let now = Instant::now();
        let change = shared
            .lock()
            .record(&shared.config, self.admission, failed, now);
        metrics::finished(&shared.config, failed);
        shared.notify(change);
    }

    /// The breaker this call was admitted by.
    // Used by the tower service only.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn breaker(&self) -> &CircuitBreaker<E> {
        self.breaker.borrow()
    }
}

impl<E, B: Borrow<CircuitBreaker<E>>> Drop for Ticket<E, B> {
    fn drop(&mut self) {
        // Only a probe has something to give back, so a cancelled call in the closed
        // state does not take the lock.
        if !self.finished && self.admission.is_probe() {
            self.breaker.borrow().shared.lock().cancel(self.admission);
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
