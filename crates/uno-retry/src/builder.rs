//! `RetryPolicyBuilder`: options, then validation in `build`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::budget::RetryBudget;
use crate::error::Error;
use crate::policy::{AttemptTimeout, RetryPolicy};
use crate::strategy::{BackoffStrategy, Jitter, Schedule};

/// The maximum number of calls when none is set: the seed's default.
const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The factor of an exponential policy when none is set.
const DEFAULT_FACTOR: f64 = 2.0;

/// Options for a [`RetryPolicy`], checked by [`build`](Self::build).
///
/// Created by [`RetryPolicy::builder`] and the per-strategy constructors. Setting an
/// option twice keeps the last value; this holds for the hooks too.
///
/// Defaults: 3 attempts, no `max_delay`, no `max_elapsed`, no per-attempt timeout, no
/// jitter, factor 2, an unseeded RNG, every error retried, no hooks, no budget.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_retry::{Jitter, RetryPolicy};
///
/// let policy: RetryPolicy<std::io::Error> = RetryPolicy::exponential(Duration::from_millis(50))
///     .factor(3.0)
///     .max_attempts(5)
///     .max_delay(Duration::from_secs(1))
///     .max_elapsed(Duration::from_secs(30))
///     .jitter(Jitter::Full)
///     .build()?;
/// assert!(policy.delays().all(|delay| delay <= Duration::from_secs(1)));
/// # Ok::<(), uno_retry::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct RetryPolicyBuilder<E> {
    policy: RetryPolicy<E>,
}

/// The cap on the delays of a policy with
/// [`unlimited_attempts`](RetryPolicyBuilder::unlimited_attempts) and no
/// [`max_delay`](RetryPolicyBuilder::max_delay) of its own: one minute.
pub const UNLIMITED_MAX_DELAY: Duration = Duration::from_secs(60);

impl<E> RetryPolicyBuilder<E> {
    pub(crate) fn new(strategy: BackoffStrategy, initial: Duration) -> Self {
        Self {
            policy: RetryPolicy {
                schedule: Schedule {
                    strategy,
                    initial,
                    factor: DEFAULT_FACTOR,
                    max_delay: None,
                    jitter: Jitter::None,
                },
                max_attempts: Some(DEFAULT_MAX_ATTEMPTS),
                max_elapsed: None,
                attempt_timeout: None,
                seed: None,
                retry_if: None,
                notify: None,
                delay_hint: None,
                budget: None,
                name: None,
            },
        }
    }

    pub(crate) fn from_policy(policy: RetryPolicy<E>) -> Self {
        Self { policy }
    }

    /// The most calls a run makes, the first call included (the seed's
    /// `max_attempts`): `max_attempts(1)` never retries. Zero is rejected by
    /// [`build`](Self::build). Default: 3.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.policy.max_attempts = Some(max_attempts);
        self
    }

    /// Lifts the attempt limit. Unless [`max_elapsed`](Self::max_elapsed) or a
    /// [budget](Self::budget) is set too, the policy then retries retryable errors for
    /// as long as they happen.
    ///
    /// Without a [`max_delay`](Self::max_delay), an unlimited policy caps its delays at
    /// [`UNLIMITED_MAX_DELAY`](crate::UNLIMITED_MAX_DELAY) (one minute, or the initial
    /// delay if that is longer): an exponential backoff left to grow for a day would
    /// otherwise wait for centuries between attempts.
    pub fn unlimited_attempts(mut self) -> Self {
        self.policy.max_attempts = None;
        self
    }

    /// Caps every delay, after jitter and after any [`delay_hint`](Self::delay_hint)
    /// (the seed's `max_delay`). Must not be shorter than the initial delay.
    pub fn max_delay(mut self, max_delay: Duration) -> Self {
        self.policy.schedule.max_delay = Some(max_delay);
        self
    }

    /// Stops retrying once the next wait would end more than `max_elapsed` after the
    /// run's first poll, measured on tokio's clock.
    ///
    /// It is checked before each sleep, so a run never sleeps past the limit and no
    /// attempt starts after it; an attempt that has started is not interrupted (use
    /// [`attempt_timeout`](Self::attempt_timeout) for that). Zero is rejected; a huge
    /// limit (such as `Duration::MAX`) never stops the run.
    pub fn max_elapsed(mut self, max_elapsed: Duration) -> Self {
        self.policy.max_elapsed = Some(max_elapsed);
        self
    }

    /// The growth factor of an exponential policy; at least 1 and finite. Default: 2.
    pub fn factor(mut self, factor: f64) -> Self {
        self.policy.schedule.factor = factor;
        self
    }

    /// Randomises each delay. Default: [`Jitter::None`].
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.policy.schedule.jitter = jitter;
        self
    }

    /// Seeds the jitter RNG, so that every run of the policy draws the same random
    /// numbers. Meant for tests: in production, runs sharing a seed retry in lockstep,
    /// which is what jitter is there to prevent.
    pub fn seed(mut self, seed: u64) -> Self {
        self.policy.seed = Some(seed);
        self
    }

    /// Retries only the errors for which `predicate` returns `true` (the seed's
    /// `retry_exceptions`); any other error is returned at once. Default: every error
    /// is retried.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Error, ErrorKind};
    /// use std::time::Duration;
    /// use uno_retry::RetryPolicy;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), uno_retry::Error> {
    /// let policy: RetryPolicy<std::io::Error> = RetryPolicy::constant(Duration::from_secs(1))
    ///     .retry_if(|err: &Error| {
    ///         matches!(err.kind(), ErrorKind::ConnectionRefused | ErrorKind::TimedOut)
    ///     })
    ///     .build()?;
    /// let mut calls = 0;
    /// let result: Result<(), Error> = policy
    ///     .run(|| { calls += 1; async { Err(Error::from(ErrorKind::PermissionDenied)) } })
    ///     .await;
    /// assert_eq!((result.unwrap_err().kind(), calls), (ErrorKind::PermissionDenied, 1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn retry_if<P>(mut self, predicate: P) -> Self
    where
        P: Fn(&E) -> bool + Send + Sync + 'static,
    {
        self.policy.retry_if = Some(Arc::new(predicate));
        self
    }

    /// Calls `hook(attempt, &error, next_delay)` before every retry, where `attempt` is
    /// the number of the call that just failed (1 for the first call) and `next_delay`
    /// the wait before the next one. It is not called when the run gives up, nor for
    /// `Ok` values retried through [`Retry::retry_if_ok`](crate::Retry::retry_if_ok).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use uno_retry::RetryPolicy;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), uno_retry::Error> {
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// let policy = RetryPolicy::linear(Duration::from_secs(1))
    ///     .notify(move |attempt, err: &&str, delay| {
    ///         log.lock().unwrap().push((attempt, err.to_string(), delay.as_secs()));
    ///     })
    ///     .build()?;
    /// let _ = policy.run(|| async { Err::<(), _>("busy") }).await;
    /// assert_eq!(*seen.lock().unwrap(), [(1, "busy".into(), 1), (2, "busy".into(), 2)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn notify<H>(mut self, hook: H) -> Self
    where
        H: Fn(u32, &E, Duration) + Send + Sync + 'static,
    {
        self.policy.notify = Some(Arc::new(hook));
        self
    }

    /// Lets an error choose the next delay, as a server's `Retry-After` does: when
    /// `hint` returns `Some(delay)`, that delay is used instead of the strategy's (with
    /// no jitter, but still capped by `max_delay` and checked against `max_elapsed`).
    /// The strategy still advances, so later delays continue its sequence.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_retry::RetryPolicy;
    ///
    /// #[derive(Debug)]
    /// struct Throttled { retry_after: Option<Duration> }
    ///
    /// let policy = RetryPolicy::exponential(Duration::from_millis(100))
    ///     .delay_hint(|err: &Throttled| err.retry_after)
    ///     .build()?;
    /// # let _ = policy;
    /// # Ok::<(), uno_retry::Error>(())
    /// ```
    pub fn delay_hint<H>(mut self, hint: H) -> Self
    where
        H: Fn(&E) -> Option<Duration> + Send + Sync + 'static,
    {
        self.policy.delay_hint = Some(Arc::new(hint));
        self
    }

    /// Cancels an attempt that runs longer than `timeout` and treats it as a failed,
    /// retryable attempt (whatever [`retry_if`](Self::retry_if) says). Its error is
    /// [`Error::AttemptTimedOut`] converted into `E`, which is what the run returns if
    /// that was the last attempt. `std::io::Error` implements the conversion; for your
    /// own error type, add a `From<uno_retry::Error>` impl. Zero is rejected; a
    /// timeout too long for tokio's clock (such as `Duration::MAX`) never fires.
    ///
    /// The timeout is enforced on this side only: the attempt's future is dropped, and
    /// a request it had already sent may still complete on the server. Under a timeout,
    /// retry only operations that are safe to repeat.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io;
    /// use std::time::Duration;
    /// use uno_retry::RetryPolicy;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), uno_retry::Error> {
    /// let policy: RetryPolicy<std::io::Error> = RetryPolicy::constant(Duration::from_secs(1))
    ///     .attempt_timeout(Duration::from_secs(5))
    ///     .build()?;
    /// let result: Result<(), io::Error> = policy.run(std::future::pending).await;
    /// assert_eq!(result.unwrap_err().kind(), io::ErrorKind::TimedOut);
    /// # Ok(())
    /// # }
    /// ```
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self
    where
        E: From<Error>,
    {
        self.policy.attempt_timeout = Some(AttemptTimeout {
            timeout,
            into_error: E::from,
        });
        self
    }

    /// Shares `budget` between every run of this policy (and whoever else holds a clone
    /// of it): each run deposits into it, each retry withdraws, and a run whose retry
    /// finds the budget empty returns its last error at once.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.policy.budget = Some(budget);
        self
    }

    /// Names the policy: with the `metrics` feature, its counters carry the label
    /// `policy="<name>"` (`"unnamed"` without one), so two dependencies' retries can
    /// be told apart.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.policy.name = Some(name.into());
        self
    }

    /// Checks the options and returns the policy.
    ///
    /// # Errors
    ///
    /// - [`Error::ZeroMaxAttempts`] for `max_attempts(0)`;
    /// - [`Error::InvalidFactor`] for a factor below 1, NaN or infinite;
    /// - [`Error::MaxDelayBelowInitial`] when `max_delay` is below the initial delay;
    /// - [`Error::ZeroMaxElapsed`] and [`Error::ZeroAttemptTimeout`] for zero limits.
    pub fn build(self) -> Result<RetryPolicy<E>, Error> {
        let mut policy = self.policy;
        if policy.max_attempts.is_none() && policy.schedule.max_delay.is_none() {
            policy.schedule.max_delay = Some(UNLIMITED_MAX_DELAY.max(policy.schedule.initial));
        }
        let schedule = &policy.schedule;
        if policy.max_attempts == Some(0) {
            return Err(Error::ZeroMaxAttempts);
        }
        if schedule.initial.is_zero() && schedule.strategy != BackoffStrategy::Constant {
            return Err(Error::ZeroInitialDelay {
                strategy: schedule.strategy,
            });
        }
        if !(schedule.factor >= 1.0 && schedule.factor.is_finite()) {
            return Err(Error::InvalidFactor {
                factor: schedule.factor,
            });
        }
        if let Some(max_delay) = schedule.max_delay
            && max_delay < schedule.initial
        {
            return Err(Error::MaxDelayBelowInitial {
                max_delay,
                initial: schedule.initial,
            });
        }
        if policy.max_elapsed == Some(Duration::ZERO) {
            return Err(Error::ZeroMaxElapsed);
        }
        if policy
            .attempt_timeout()
            .is_some_and(|timeout| timeout.is_zero())
        {
            return Err(Error::ZeroAttemptTimeout);
        }
        Ok(policy)
    }
}

impl<E> Clone for RetryPolicyBuilder<E> {
    fn clone(&self) -> Self {
        Self {
            policy: self.policy.clone(),
        }
    }
}

impl<E> fmt::Debug for RetryPolicyBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicyBuilder")
            .field("policy", &self.policy)
            .finish()
    }
}
