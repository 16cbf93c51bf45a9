//! The crate's one error type.

use std::time::Duration;

/// Everything that can go wrong in `uno-retry`.
///
/// Most variants come from [`RetryPolicyBuilder::build`](crate::RetryPolicyBuilder::build)
/// and [`RetryBudget::new`](crate::RetryBudget::new), which reject settings that could
/// never work. [`Error::AttemptTimedOut`] is the one runtime variant: it is what an
/// attempt turns into when it outlives the policy's
/// [`attempt_timeout`](crate::RetryPolicyBuilder::attempt_timeout), converted into the
/// operation's own error type through `From<Error>`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `max_attempts(0)` was asked for.
    #[error(
        "max_attempts is zero, but it counts every call including the first; \
         use max_attempts(1) to call once without retrying"
    )]
    ZeroMaxAttempts,
    /// An exponential factor below 1, or not a finite number, was asked for.
    #[error(
        "backoff factor {factor} is below 1 or not a finite number, so delays would \
         shrink or be undefined; use a factor of at least 1.0, such as 2.0"
    )]
    InvalidFactor {
        /// The rejected factor.
        factor: f64,
    },
    /// `max_delay` is shorter than the strategy's initial delay.
    #[error(
        "max_delay ({max_delay:?}) is shorter than the initial delay ({initial:?}); \
         raise max_delay or lower the initial delay"
    )]
    MaxDelayBelowInitial {
        /// The requested cap.
        max_delay: Duration,
        /// The strategy's initial delay.
        initial: Duration,
    },
    /// A growing strategy (anything but constant) was given a zero initial delay: its
    /// delays would all be zero, and the retries would spin without ever waiting.
    #[error(
        "a {strategy:?} backoff from a zero initial delay stays at zero, so retries would spin \
         without waiting; give a positive initial delay, or use RetryPolicy::constant(Duration::ZERO) \
         to retry at once on purpose"
    )]
    ZeroInitialDelay {
        /// The strategy that was asked for.
        strategy: crate::BackoffStrategy,
    },
    /// `max_elapsed(Duration::ZERO)` was asked for.
    #[error(
        "max_elapsed is zero, so no retry could ever start; give a positive duration, \
         or use max_attempts(1) to call once without retrying"
    )]
    ZeroMaxElapsed,
    /// `attempt_timeout(Duration::ZERO)` was asked for.
    #[error(
        "attempt_timeout is zero, so every attempt would time out before it starts; \
         give a positive duration"
    )]
    ZeroAttemptTimeout,
    /// A [`RetryBudget`](crate::RetryBudget) was given a zero time window.
    #[error(
        "retry budget ttl is zero, so it would remember nothing; give a positive duration such as 10 s"
    )]
    ZeroBudgetTtl,
    /// A [`RetryBudget`](crate::RetryBudget) was given a negative or non-finite ratio.
    #[error(
        "retry budget ratio {ratio} is negative or not a finite number; \
         use a ratio such as 0.2 (one retry per five calls)"
    )]
    InvalidRetryRatio {
        /// The rejected ratio.
        ratio: f64,
    },
    /// A [`RetryBudget`](crate::RetryBudget) with no reserve and a zero ratio.
    #[error(
        "retry budget allows no retry at all (min_per_second and ratio are both zero); \
         raise one of them, or use max_attempts(1) to turn retries off"
    )]
    EmptyBudget,
    /// An attempt ran longer than the policy's `attempt_timeout` and was dropped.
    #[error(
        "attempt timed out after {timeout:?} and was cancelled; it is retried while \
         attempts remain, raise attempt_timeout if the operation needs longer"
    )]
    AttemptTimedOut {
        /// The policy's per-attempt timeout.
        timeout: Duration,
    },
}

impl From<Error> for std::io::Error {
    /// Maps [`Error::AttemptTimedOut`] to [`std::io::ErrorKind::TimedOut`] and every
    /// other variant to [`std::io::ErrorKind::InvalidInput`], so operations that fail
    /// with `std::io::Error` can use
    /// [`attempt_timeout`](crate::RetryPolicyBuilder::attempt_timeout) directly.
    fn from(error: Error) -> Self {
        let kind = match error {
            Error::AttemptTimedOut { .. } => std::io::ErrorKind::TimedOut,
            _ => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, error)
    }
}
