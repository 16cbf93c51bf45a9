//! `RetryPolicy`: the validated, shareable description of how to retry.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::budget::RetryBudget;
use crate::builder::RetryPolicyBuilder;
use crate::delays::Delays;
use crate::error::Error;
use crate::future::{NoValuePredicate, Retry};
use crate::strategy::{BackoffStrategy, Jitter, Schedule};

pub(crate) type RetryIf<E> = Arc<dyn Fn(&E) -> bool + Send + Sync>;
pub(crate) type Notify<E> = Arc<dyn Fn(u32, &E, Duration) + Send + Sync>;
pub(crate) type DelayHint<E> = Arc<dyn Fn(&E) -> Option<Duration> + Send + Sync>;

/// How to retry an operation that fails with errors of type `E`: how often, how long to
/// wait in between, which errors to retry and when to give up.
///
/// Build one with a strategy constructor ([`constant`](Self::constant),
/// [`linear`](Self::linear), [`exponential`](Self::exponential),
/// [`fibonacci`](Self::fibonacci), [`decorrelated_jitter`](Self::decorrelated_jitter) or
/// [`builder`](Self::builder) with a [`BackoffStrategy`]), set options on the
/// [`RetryPolicyBuilder`], and [`build`](RetryPolicyBuilder::build) it, which rejects
/// settings that could never work. Then call [`run`](Self::run) (or
/// [`RetryExt::retry`](crate::RetryExt::retry)) as often as you like: a policy holds no
/// per-run state, is cheap to clone (its hooks are shared) and is `Send + Sync`, so one
/// policy can serve a whole service.
///
/// `max_attempts` counts every call, the first included, as resilience4j and the seed's
/// `@retry(max_attempts=3)` do: `max_attempts(3)` means one call and at most two
/// retries. (backon's `with_max_times(3)` counts retries only, so it makes four calls.)
/// The default is 3; retrying without end needs
/// [`unlimited_attempts`](RetryPolicyBuilder::unlimited_attempts).
///
/// # Examples
///
/// ```
/// use std::io;
/// use std::time::Duration;
/// use uno_retry::RetryPolicy;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy: RetryPolicy<std::io::Error> = RetryPolicy::exponential(Duration::from_millis(100))
///     .max_attempts(3)
///     .max_delay(Duration::from_secs(10))
///     .retry_if(|err: &io::Error| err.kind() == io::ErrorKind::ConnectionRefused)
///     .build()?;
///
/// let mut calls = 0;
/// let answer = policy
///     .run(|| {
///         calls += 1;
///         let attempt = calls;
///         async move {
///             match attempt {
///                 1 => Err(io::Error::from(io::ErrorKind::ConnectionRefused)),
///                 _ => Ok(42),
///             }
///         }
///     })
///     .await?;
/// assert_eq!((answer, calls), (42, 2));
/// # Ok(())
/// # }
/// ```
pub struct RetryPolicy<E> {
    pub(crate) schedule: Schedule,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) attempt_timeout: Option<AttemptTimeout<E>>,
    pub(crate) seed: Option<u64>,
    pub(crate) retry_if: Option<RetryIf<E>>,
    pub(crate) notify: Option<Notify<E>>,
    pub(crate) delay_hint: Option<DelayHint<E>>,
    pub(crate) budget: Option<RetryBudget>,
    /// What the `metrics` feature labels this policy's counters with.
    pub(crate) name: Option<Arc<str>>,
}

/// A per-attempt timeout and how to turn it into the operation's error type.
pub(crate) struct AttemptTimeout<E> {
    pub(crate) timeout: Duration,
    pub(crate) into_error: fn(Error) -> E,
}

impl<E> Clone for AttemptTimeout<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for AttemptTimeout<E> {}

impl<E> RetryPolicy<E> {
    /// Starts a policy with the given strategy and first delay (the seed's
    /// `backoff_strategy=BackoffStrategy.X`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_retry::{BackoffStrategy, RetryPolicy};
    ///
    /// let policy: RetryPolicy<std::io::Error> = RetryPolicy::builder(BackoffStrategy::Linear, Duration::from_secs(1))
    ///     .build()?;
    /// assert_eq!(policy.delays().collect::<Vec<_>>(), [Duration::from_secs(1), Duration::from_secs(2)]);
    /// # Ok::<(), uno_retry::Error>(())
    /// ```
    pub fn builder(strategy: BackoffStrategy, initial: Duration) -> RetryPolicyBuilder<E> {
        RetryPolicyBuilder::new(strategy, initial)
    }

    /// Starts a policy that waits `delay` before every retry.
    pub fn constant(delay: Duration) -> RetryPolicyBuilder<E> {
        Self::builder(BackoffStrategy::Constant, delay)
    }

    /// Starts a policy that waits `initial`, `2 * initial`, `3 * initial`, ...
    pub fn linear(initial: Duration) -> RetryPolicyBuilder<E> {
        Self::builder(BackoffStrategy::Linear, initial)
    }

    /// Starts a policy that waits `initial`, then multiplies the delay by the
    /// [`factor`](RetryPolicyBuilder::factor) (2 unless set) for every further retry.
    pub fn exponential(initial: Duration) -> RetryPolicyBuilder<E> {
        Self::builder(BackoffStrategy::Exponential, initial)
    }

    /// Starts a policy whose delays follow the Fibonacci numbers: `initial`, `initial`,
    /// `2 * initial`, `3 * initial`, `5 * initial`, ...
    pub fn fibonacci(initial: Duration) -> RetryPolicyBuilder<E> {
        Self::builder(BackoffStrategy::Fibonacci, initial)
    }

    /// Starts a policy with AWS's decorrelated jitter: each delay is drawn uniformly
    /// from `[base, previous * 3]` and capped by `max_delay`, which you will want to set.
    pub fn decorrelated_jitter(base: Duration) -> RetryPolicyBuilder<E> {
        Self::builder(BackoffStrategy::DecorrelatedJitter, base)
    }

    /// Returns a builder holding this policy's settings and hooks, to derive a variant.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_retry::RetryPolicy;
    ///
    /// let patient: RetryPolicy<std::io::Error> = RetryPolicy::constant(Duration::from_secs(1)).build()?;
    /// let hasty = patient.to_builder().max_attempts(1).build()?;
    /// assert_eq!(hasty.max_attempts(), Some(1));
    /// # Ok::<(), uno_retry::Error>(())
    /// ```
    pub fn to_builder(&self) -> RetryPolicyBuilder<E> {
        RetryPolicyBuilder::from_policy(self.clone())
    }

    /// Runs `operation`, retrying as this policy says, and resolves to its first
    /// success or to the error that ended the retries (the operation's own error).
    ///
    /// `operation` is called once per attempt and returns a fresh future each time, so
    /// it may borrow from its environment (`|| client.get(&url)`). A retry happens when
    /// the attempt failed with an error that [`retry_if`](RetryPolicyBuilder::retry_if)
    /// accepts (every error, unless set) or timed out, attempts remain, the wait stays
    /// within `max_elapsed`, and the budget (if any) allows it. Otherwise the outcome
    /// is returned as it is. Add [`Retry::retry_if_ok`] to retry some `Ok` values too.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_retry::RetryPolicy;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), uno_retry::Error> {
    /// let policy = RetryPolicy::constant(Duration::from_secs(1)).max_attempts(4).build()?;
    /// let mut calls = 0;
    /// let result: Result<(), &str> = policy.run(|| { calls += 1; async { Err("down") } }).await;
    /// assert_eq!((result, calls), (Err("down"), 4));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the running attempt or the pending sleep; no
    /// further attempt is made. Whether the dropped attempt had an effect is up to the
    /// operation.
    ///
    /// # Panics
    ///
    /// A panic in the operation or in a hook propagates to the caller. Waiting between
    /// attempts uses tokio's timer, so polling the future outside a tokio runtime with
    /// time enabled panics once a non-zero delay or an `attempt_timeout` is needed.
    pub fn run<F, Fut, T>(&self, operation: F) -> Retry<'_, F, Fut, E, NoValuePredicate>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        Retry::new(self, operation)
    }

    /// The delays this policy waits between attempts, as a run would see them (without
    /// error hints, `max_elapsed` or the budget).
    pub fn delays(&self) -> Delays {
        Delays::new(self.schedule, self.seed, self.max_attempts)
    }

    /// The strategy the delays follow.
    pub fn strategy(&self) -> BackoffStrategy {
        self.schedule.strategy
    }

    /// The strategy's first delay (the decorrelated-jitter base).
    pub fn initial_delay(&self) -> Duration {
        self.schedule.initial
    }

    /// The exponential factor (used by [`BackoffStrategy::Exponential`] only).
    pub fn factor(&self) -> f64 {
        self.schedule.factor
    }

    /// The jitter applied to every delay.
    pub fn jitter(&self) -> Jitter {
        self.schedule.jitter
    }

    /// The most calls a run makes, the first included; `None` when unlimited.
    pub fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    /// The cap on every delay, if any.
    pub fn max_delay(&self) -> Option<Duration> {
        self.schedule.max_delay
    }

    /// The longest a run keeps retrying, measured on tokio's clock, if limited.
    pub fn max_elapsed(&self) -> Option<Duration> {
        self.max_elapsed
    }

    /// How long one attempt may run before it is cancelled as timed out, if limited.
    pub fn attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout.map(|timeout| timeout.timeout)
    }

    /// The seed of the jitter RNG, if the policy is deterministic.
    pub fn seed(&self) -> Option<u64> {
        self.seed
    }

    /// The retry budget runs of this policy share, if any.
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.budget.as_ref()
    }
}

impl<E> RetryPolicy<E> {
    /// The name given with [`RetryPolicyBuilder::name`], if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl<E> Clone for RetryPolicy<E> {
    fn clone(&self) -> Self {
        Self {
            schedule: self.schedule,
            max_attempts: self.max_attempts,
            max_elapsed: self.max_elapsed,
            attempt_timeout: self.attempt_timeout,
            seed: self.seed,
            retry_if: self.retry_if.clone(),
            notify: self.notify.clone(),
            delay_hint: self.delay_hint.clone(),
            budget: self.budget.clone(),
            name: self.name.clone(),
        }
    }
}

impl<E> fmt::Debug for RetryPolicy<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("strategy", &self.schedule.strategy)
            .field("initial_delay", &self.schedule.initial)
            .field("factor", &self.schedule.factor)
            .field("jitter", &self.schedule.jitter)
            .field("max_attempts", &self.max_attempts)
            .field("max_delay", &self.schedule.max_delay)
            .field("max_elapsed", &self.max_elapsed)
            .field("attempt_timeout", &self.attempt_timeout())
            .field("seed", &self.seed)
            .field("retry_if", &self.retry_if.as_ref().map(|_| "<fn>"))
            .field("notify", &self.notify.as_ref().map(|_| "<fn>"))
            .field("delay_hint", &self.delay_hint.as_ref().map(|_| "<fn>"))
            .field("budget", &self.budget)
            .field("name", &self.name)
            .finish()
    }
}
