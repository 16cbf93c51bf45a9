//! The crate's errors: [`BreakerError`], what a call through the breaker returns, and
//! [`BuildError`], what [`CircuitBreakerBuilder::build`](crate::CircuitBreakerBuilder::build)
//! refuses.

use std::time::Duration;

/// What [`CircuitBreaker::call`](crate::CircuitBreaker::call) returns instead of a value.
///
/// Either the breaker refused the call without running the operation
/// ([`Open`](Self::Open), [`HalfOpenBusy`](Self::HalfOpenBusy)), or the operation ran
/// and failed with its own error ([`Inner`](Self::Inner)). A panic in the operation is
/// not an error value: it is counted as a failure and resumed in the caller.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_breaker::BreakerError;
///
/// let rejected: BreakerError<std::io::Error> = BreakerError::Open { retry_after: Duration::from_secs(3) };
/// assert!(rejected.is_rejected());
/// assert_eq!(rejected.retry_after(), Some(Duration::from_secs(3)));
/// assert!(rejected.into_inner().is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BreakerError<E> {
    /// The breaker is open: the operation was not run.
    ///
    /// `retry_after` is how long until the breaker lets a probe call through;
    /// [`Duration::MAX`] when it stays open forever (an open duration too long for the
    /// clock to represent).
    #[error(
        "the circuit breaker is open and rejected the call without running it; \
         try again after {retry_after:?}, or fall back"
    )]
    Open {
        /// How long until the breaker admits a probe call.
        retry_after: Duration,
    },
    /// The breaker is half-open and every probe slot is taken: the operation was not
    /// run. The probes in flight decide whether it closes or opens again.
    #[error(
        "the circuit breaker is half-open and all its probe calls are in flight, so it \
         rejected the call without running it; try again once the probes finish, or fall back"
    )]
    HalfOpenBusy,
    /// The operation ran and returned this error.
    #[error(transparent)]
    Inner(E),
}

impl<E> BreakerError<E> {
    /// Whether the breaker refused the call without running the operation
    /// ([`Open`](Self::Open) or [`HalfOpenBusy`](Self::HalfOpenBusy)).
    ///
    /// This is the predicate to keep a retry policy from retrying rejections:
    /// `retry_if(|err: &BreakerError<E>| !err.is_rejected())`.
    pub fn is_rejected(&self) -> bool {
        matches!(self, Self::Open { .. } | Self::HalfOpenBusy)
    }

    /// How long until an open breaker admits a probe; `None` unless this is
    /// [`Open`](Self::Open). Fits uno-retry's `delay_hint`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Open { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// The operation's error, if the operation ran and failed.
    pub fn inner(&self) -> Option<&E> {
        match self {
            Self::Inner(error) => Some(error),
            _ => None,
        }
    }

    /// The operation's error, if the operation ran and failed.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(error) => Some(error),
            _ => None,
        }
    }
}

/// A setting that [`CircuitBreakerBuilder::build`](crate::CircuitBreakerBuilder::build)
/// refuses because the breaker could never work with it.
///
/// # Examples
///
/// ```
/// use uno_breaker::{BuildError, CircuitBreaker};
///
/// let refused = CircuitBreaker::<std::io::Error>::builder().consecutive_failures(0).build();
/// assert_eq!(refused.unwrap_err(), BuildError::ZeroConsecutiveFailures);
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `consecutive_failures(0)` was asked for.
    #[error(
        "consecutive_failures is zero, so the breaker would open before any call failed; \
         use at least 1, such as 5"
    )]
    ZeroConsecutiveFailures,
    /// A failure ratio below 0, above 1 or NaN was given to `failure_rate`.
    #[error(
        "failure_rate ratio {ratio} is outside 0..=1 or not a number; use the share of \
         failed calls that should open the breaker, such as 0.5"
    )]
    InvalidFailureRatio {
        /// The rejected ratio.
        ratio: f64,
    },
    /// `failure_rate` was given a `min_calls` of zero.
    #[error(
        "failure_rate min_calls is zero, so the breaker would judge a window with no calls \
         in it; use at least 1, such as 10"
    )]
    ZeroMinCalls,
    /// `failure_rate` was given a zero window.
    #[error(
        "failure_rate window is zero, so it would remember no call; give a positive \
         duration, such as 60 s"
    )]
    ZeroWindow,
    /// An open duration of zero was given to `open_for` or `open_for_growing`.
    #[error(
        "the open duration is zero, so the breaker would never reject a call; give a \
         positive duration, such as 30 s"
    )]
    ZeroOpenDuration,
    /// `open_for_growing` was given a factor below 1, NaN or infinite.
    #[error(
        "open duration growth factor {factor} is below 1 or not a finite number; use a \
         factor of at least 1.0, such as 2.0"
    )]
    InvalidGrowthFactor {
        /// The rejected factor.
        factor: f64,
    },
    /// `open_for_growing` was given a maximum below its initial duration.
    #[error(
        "the longest open duration ({max:?}) is shorter than the first one ({initial:?}); \
         raise the maximum or lower the first duration"
    )]
    MaxOpenBelowInitial {
        /// The requested maximum.
        max: Duration,
        /// The requested first open duration.
        initial: Duration,
    },
    /// `half_open_calls(0)` was asked for.
    #[error(
        "half_open_calls is zero, so the breaker could never try the dependency again and \
         would stay open; use at least 1"
    )]
    ZeroHalfOpenCalls,
}
