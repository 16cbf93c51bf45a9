//! `CircuitBreakerBuilder`: the options, their defaults, and their validation in
//! `build`. What `build` accepts is a [`Config`] that can never trip, open or probe in
//! a way that panics: every count is at least 1, every duration positive, the growth
//! factor finite and at least 1.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::breaker::CircuitBreaker;
use crate::error::BuildError;
use crate::state::State;

/// Consecutive failures that open a breaker when no trip rule is set.
const DEFAULT_CONSECUTIVE_FAILURES: u32 = 5;

/// How long a breaker stays open when no open duration is set.
const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(30);

/// Probe calls admitted while half-open when none is set.
const DEFAULT_HALF_OPEN_CALLS: u32 = 1;

pub(crate) type RecordIf<E> = Arc<dyn Fn(&E) -> bool + Send + Sync>;
pub(crate) type OnStateChange = Arc<dyn Fn(State, State) + Send + Sync>;

/// Options for a [`CircuitBreaker`], checked by [`build`](Self::build).
///
/// Created by [`CircuitBreaker::builder`]. Setting an option twice keeps the last value.
///
/// Defaults: opens after 5 consecutive failures, stays open 30 s, then admits 1 probe;
/// every `Err` counts as a failure; no hook.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_breaker::CircuitBreaker;
///
/// let breaker: CircuitBreaker<std::io::Error> = CircuitBreaker::builder()
///     .failure_rate(0.5, 20, Duration::from_secs(60)) // half of at least 20 calls in a minute
///     .open_for_growing(Duration::from_secs(5), 2.0, Duration::from_secs(300))
///     .half_open_calls(3)
///     .record_if(|err: &std::io::Error| err.kind() != std::io::ErrorKind::NotFound)
///     .on_state_change(|from, to| println!("breaker: {from:?} -> {to:?}"))
///     .build()?;
/// # let _ = breaker;
/// # Ok::<(), uno_breaker::BuildError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct CircuitBreakerBuilder<E> {
    consecutive_failures: Option<u32>,
    failure_rate: Option<FailureRate>,
    open: OpenDuration,
    half_open_calls: u32,
    record_if: Option<RecordIf<E>>,
    on_state_change: Option<OnStateChange>,
    name: Option<Arc<str>>,
}

/// The validated settings that describe how a breaker trips, opens and probes.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) failure_rate: Option<FailureRate>,
    pub(crate) open: OpenDuration,
    pub(crate) half_open_calls: u32,
    /// What the `metrics` feature labels this breaker's metrics with.
    pub(crate) name: Option<Arc<str>>,
}

/// The failure-rate trip rule.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailureRate {
    pub(crate) ratio: f64,
    pub(crate) min_calls: u32,
    pub(crate) window: Duration,
}

/// How long the breaker stays open: `initial` for the first opening, then multiplied by
/// `factor` for every reopening without a close in between, up to `max`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenDuration {
    initial: Duration,
    factor: f64,
    max: Duration,
}

impl OpenDuration {
    /// The open duration after `reopenings` failed probes in a row (0 for the first
    /// opening). Saturates at `max`; never panics, whatever the inputs.
    pub(crate) fn after(&self, reopenings: u32) -> Duration {
        if reopenings == 0 || self.factor == 1.0 {
            return self.initial;
        }
        let exponent = i32::try_from(reopenings).unwrap_or(i32::MAX);
        let seconds = self.initial.as_secs_f64() * self.factor.powi(exponent);
        match Duration::try_from_secs_f64(seconds) {
            Ok(duration) => duration.min(self.max),
            // Only an overflow can fail here: `seconds` is positive and not NaN.
            Err(_) => self.max,
        }
    }
}

impl<E> CircuitBreakerBuilder<E> {
    pub(crate) fn new() -> Self {
        Self {
            consecutive_failures: None,
            failure_rate: None,
            open: OpenDuration {
                initial: DEFAULT_OPEN_FOR,
                factor: 1.0,
                max: DEFAULT_OPEN_FOR,
            },
            half_open_calls: DEFAULT_HALF_OPEN_CALLS,
            record_if: None,
            on_state_change: None,
            name: None,
        }
    }

    /// Names the breaker: with the `metrics` feature, its metrics carry the label
    /// `breaker="<name>"` (`"unnamed"` without one).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Opens the breaker when `n` calls in a row have failed; a success starts the count
    /// again. Zero is refused by [`build`](Self::build); `u32::MAX` practically never
    /// trips.
    ///
    /// When neither this nor [`failure_rate`](Self::failure_rate) is set, the breaker
    /// opens after 5 consecutive failures. When both are set, whichever holds first
    /// opens it.
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.consecutive_failures = Some(n);
        self
    }

    /// Opens the breaker when, among the calls of the last `window`, at least
    /// `min_calls` were made and at least one and at least `ratio` of them failed.
    ///
    /// `ratio` is a share in `0..=1`: 0.5 opens when half the calls failed, 1.0 only when
    /// all did, 0.0 at the first failure once `min_calls` were seen. The window slides:
    /// it is kept as 10 buckets of `window / 10` each, so a call stops counting between
    /// 9/10 of `window` and `window` after it finished. A window too long for the clock
    /// (such as [`Duration::MAX`]) never forgets. Counts restart whenever the breaker
    /// changes state.
    ///
    /// [`build`](Self::build) refuses a ratio outside `0..=1` or NaN, a zero
    /// `min_calls` and a zero `window`.
    pub fn failure_rate(mut self, ratio: f64, min_calls: u32, window: Duration) -> Self {
        self.failure_rate = Some(FailureRate {
            ratio,
            min_calls,
            window,
        });
        self
    }

    /// Keeps the breaker open for `duration` every time it opens, then lets probe calls
    /// through (half-open). A duration too long for the clock, such as
    /// [`Duration::MAX`], means forever. Zero is refused. Default: 30 s.
    pub fn open_for(mut self, duration: Duration) -> Self {
        self.open = OpenDuration {
            initial: duration,
            factor: 1.0,
            max: duration,
        };
        self
    }

    /// Keeps the breaker open for `initial` the first time it opens, and `factor` times
    /// longer every time a probe fails and it opens again, up to `max`. Closing resets
    /// it to `initial`. A dependency that stays down is then probed less and less often.
    ///
    /// [`build`](Self::build) refuses a zero `initial`, a `factor` below 1, NaN or
    /// infinite, and a `max` below `initial`. Durations too long for the clock mean
    /// forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_breaker::CircuitBreaker;
    ///
    /// // Open 1 s, then 2 s, 4 s, 8 s, ... and at most 60 s while probes keep failing.
    /// let breaker: CircuitBreaker<std::io::Error> = CircuitBreaker::builder()
    ///     .open_for_growing(Duration::from_secs(1), 2.0, Duration::from_secs(60))
    ///     .build()?;
    /// # let _ = breaker;
    /// # Ok::<(), uno_breaker::BuildError>(())
    /// ```
    pub fn open_for_growing(mut self, initial: Duration, factor: f64, max: Duration) -> Self {
        self.open = OpenDuration {
            initial,
            factor,
            max,
        };
        self
    }

    /// How many probe calls the breaker lets run at once while half-open, and how many
    /// of them must succeed to close it; the first probe that fails opens it again.
    /// A probe whose call is cancelled gives its slot back. Zero is refused. Default: 1.
    pub fn half_open_calls(mut self, n: u32) -> Self {
        self.half_open_calls = n;
        self
    }

    /// Counts as failures only the errors for which `predicate` returns `true`. Other
    /// errors are still returned to the caller (as [`BreakerError::Inner`]) but count as
    /// successes: the dependency answered. Default: every `Err` is a failure.
    ///
    /// Panics in the operation always count as failures; cancelled calls never count.
    ///
    /// [`BreakerError::Inner`]: crate::BreakerError::Inner
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Error, ErrorKind};
    /// use uno_breaker::{CircuitBreaker, State};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uno_breaker::BuildError> {
    /// // A missing record is the caller's problem, not a sign the database is down.
    /// let breaker = CircuitBreaker::builder()
    ///     .consecutive_failures(1)
    ///     .record_if(|err: &Error| err.kind() != ErrorKind::NotFound)
    ///     .build()?;
    /// let _ = breaker.call(async { Err::<(), _>(Error::from(ErrorKind::NotFound)) }).await;
    /// assert_eq!(breaker.state(), State::Closed);
    /// # Ok(())
    /// # }
    /// ```
    pub fn record_if<P>(mut self, predicate: P) -> Self
    where
        P: Fn(&E) -> bool + Send + Sync + 'static,
    {
        self.record_if = Some(Arc::new(predicate));
        self
    }

    /// Calls `hook(from, to)` after every change of state, once per change.
    ///
    /// The hook runs outside the breaker's lock, in the task whose call (or
    /// [`state`](CircuitBreaker::state) query) made the change, so it may call the
    /// breaker; it should be quick. Changes racing on different threads may reach their
    /// hooks in either order. A panicking hook panics that caller; the breaker's state
    /// has already changed and stays consistent.
    pub fn on_state_change<H>(mut self, hook: H) -> Self
    where
        H: Fn(State, State) + Send + Sync + 'static,
    {
        self.on_state_change = Some(Arc::new(hook));
        self
    }

    /// Checks the options and returns the breaker, closed.
    ///
    /// # Errors
    ///
    /// - [`BuildError::ZeroConsecutiveFailures`] for `consecutive_failures(0)`;
    /// - [`BuildError::InvalidFailureRatio`], [`BuildError::ZeroMinCalls`] and
    ///   [`BuildError::ZeroWindow`] for a `failure_rate` with a ratio outside `0..=1` or
    ///   NaN, zero `min_calls` or a zero window;
    /// - [`BuildError::ZeroOpenDuration`], [`BuildError::InvalidGrowthFactor`] and
    ///   [`BuildError::MaxOpenBelowInitial`] for the open duration;
    /// - [`BuildError::ZeroHalfOpenCalls`] for `half_open_calls(0)`.
    pub fn build(self) -> Result<CircuitBreaker<E>, BuildError> {
        if self.consecutive_failures == Some(0) {
            return Err(BuildError::ZeroConsecutiveFailures);
        }
        if let Some(rate) = self.failure_rate {
            if !(0.0..=1.0).contains(&rate.ratio) {
                return Err(BuildError::InvalidFailureRatio { ratio: rate.ratio });
            }
            if rate.min_calls == 0 {
                return Err(BuildError::ZeroMinCalls);
            }
            if rate.window.is_zero() {
                return Err(BuildError::ZeroWindow);
            }
        }
        let open = self.open;
        if open.initial.is_zero() {
            return Err(BuildError::ZeroOpenDuration);
        }
        if !(open.factor >= 1.0 && open.factor.is_finite()) {
            return Err(BuildError::InvalidGrowthFactor {
                factor: open.factor,
            });
        }
        if open.max < open.initial {
            return Err(BuildError::MaxOpenBelowInitial {
                max: open.max,
                initial: open.initial,
            });
        }
        if self.half_open_calls == 0 {
            return Err(BuildError::ZeroHalfOpenCalls);
        }
        let consecutive_failures = match (self.consecutive_failures, self.failure_rate) {
            (None, None) => Some(DEFAULT_CONSECUTIVE_FAILURES),
            (consecutive, _) => consecutive,
        };
        let config = Config {
            consecutive_failures,
            failure_rate: self.failure_rate,
            open,
            half_open_calls: self.half_open_calls,
            name: self.name,
        };
        Ok(CircuitBreaker::from_parts(
            config,
            self.record_if,
            self.on_state_change,
        ))
    }
}

impl<E> Clone for CircuitBreakerBuilder<E> {
    fn clone(&self) -> Self {
        Self {
            consecutive_failures: self.consecutive_failures,
            failure_rate: self.failure_rate,
            open: self.open,
            half_open_calls: self.half_open_calls,
            record_if: self.record_if.clone(),
            on_state_change: self.on_state_change.clone(),
            name: self.name.clone(),
        }
    }
}

impl<E> fmt::Debug for CircuitBreakerBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerBuilder")
            .field("consecutive_failures", &self.consecutive_failures)
            .field("failure_rate", &self.failure_rate)
            .field("open", &self.open)
            .field("half_open_calls", &self.half_open_calls)
            .field("name", &self.name)
            .field("record_if", &self.record_if.as_ref().map(|_| "<predicate>"))
            .field(
                "on_state_change",
                &self.on_state_change.as_ref().map(|_| "<hook>"),
            )
            .finish()
    }
}
