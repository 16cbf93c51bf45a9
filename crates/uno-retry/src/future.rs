//! The `Retry` future and the `.retry(&policy)` extension.
//!
//! The file runs past 450 lines because the `Retry` future is one state machine
//! (attempt, classify, sleep, budget, deadline, per-attempt timeout) that reads best
//! whole.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::error::Error;
use crate::metrics::{self, GiveUp};
use crate::policy::RetryPolicy;
use crate::strategy::DelayState;

pin_project! {
    /// A future that runs an operation until it succeeds or its [`RetryPolicy`] gives
    /// up; it resolves to the operation's own `Result`.
    ///
    /// Created by [`RetryPolicy::run`] and [`RetryExt::retry`]. Borrowing the policy
    /// keeps the success path free of clones; to move a run into a spawned task, move
    /// a clone of the policy in with it.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the running attempt or the pending sleep, and no
    /// further attempt is made.
    ///
    /// # Panics
    ///
    /// Panics if polled again after it completed, and when it needs tokio's timer (a
    /// non-zero delay or an `attempt_timeout`) outside a tokio runtime with time
    /// enabled. Panics in the operation or in a hook propagate.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Retry<'a, F, Fut, E, V = NoValuePredicate> {
        policy: &'a RetryPolicy<E>,
        operation: F,
        value_predicate: V,
        #[pin]
        run: Run<Fut>,
    }
}

pin_project! {
    /// The progress of one run: what [`Retry`] and the tower service's future (which
    /// owns its policy and makes its attempts from a service) share. The policy, the
    /// operation and the judgement of `Ok` values are handed to every poll, so the
    /// same loop serves a borrowed and an owned policy.
    pub(crate) struct Run<Fut> {
        // Calls made so far.
        attempt: u32,
        // Set at the first poll when the policy has `max_elapsed`.
        started: Option<Instant>,
        // Created at the first retry, so the success path draws no random seed.
        delays: Option<DelayState>,
        // The one timer of the run, for backoff sleeps and attempt timeouts alike.
        // Boxed and created on first use: the success path allocates nothing, and the
        // future stays small.
        timer: Option<Pin<Box<Sleep>>>,
        #[pin]
        state: State<Fut>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<Fut> {
        Idle,
        Running {
            #[pin]
            attempt: Fut,
        },
        Sleeping,
        Done,
    }
}

/// Decides whether an `Ok` value should be retried, as a 503 response might be; see
/// [`Retry::retry_if_ok`].
///
/// Implemented for every `FnMut(&T) -> bool` and for [`NoValuePredicate`].
pub trait ValuePredicate<T> {
    /// Returns `true` when `value` should be retried rather than returned.
    fn should_retry(&mut self, value: &T) -> bool;
}

/// The [`ValuePredicate`] of a plain run: every `Ok` value is returned.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoValuePredicate;

impl<T> ValuePredicate<T> for NoValuePredicate {
    fn should_retry(&mut self, _value: &T) -> bool {
        false
    }
}

impl<T, P> ValuePredicate<T> for P
where
    P: FnMut(&T) -> bool,
{
    fn should_retry(&mut self, value: &T) -> bool {
        self(value)
    }
}

/// Adds [`retry`](Self::retry) to every `FnMut() -> impl Future<Output = Result<..>>`,
/// the Rust spelling of the seed's `@retry` decorator.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_retry::{RetryExt, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), uno_retry::Error> {
/// let policy = RetryPolicy::constant(Duration::from_millis(10)).build()?;
/// let value = (|| async { Ok::<_, std::io::Error>(7) }).retry(&policy).await;
/// assert_eq!(value.unwrap(), 7);
/// # Ok(())
/// # }
/// ```
pub trait RetryExt<Fut>: FnMut() -> Fut + Sized {
    /// Runs `self` under `policy`; the same as [`RetryPolicy::run`].
    fn retry<T, E>(self, policy: &RetryPolicy<E>) -> Retry<'_, Self, Fut, E>
    where
        Fut: Future<Output = Result<T, E>>;
}

impl<F, Fut> RetryExt<Fut> for F
where
    F: FnMut() -> Fut,
{
    fn retry<T, E>(self, policy: &RetryPolicy<E>) -> Retry<'_, Self, Fut, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        Retry::new(policy, self)
    }
}

impl<'a, F, Fut, E> Retry<'a, F, Fut, E> {
    pub(crate) fn new(policy: &'a RetryPolicy<E>, operation: F) -> Self {
        Self {
            policy,
            operation,
            value_predicate: NoValuePredicate,
            run: Run::new(),
        }
    }

    /// Also retries `Ok` values for which `predicate` returns `true`, such as an HTTP
    /// 503 response, under the same limits as errors. When the run gives up, the last
    /// value is returned as `Ok`. The policy's `notify` hook is not called for these
    /// retries (it takes an error); observe them in `predicate` if needed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_retry::RetryPolicy;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), uno_retry::Error> {
    /// let policy = RetryPolicy::constant(Duration::from_secs(1)).max_attempts(5).build()?;
    /// let mut statuses = vec![200, 503, 503];
    /// let status = policy
    ///     .run(|| {
    ///         let status = statuses.pop().unwrap();
    ///         async move { Ok::<u16, std::io::Error>(status) }
    ///     })
    ///     .retry_if_ok(|status: &u16| *status == 503)
    ///     .await;
    /// assert_eq!(status.unwrap(), 200);
    /// # Ok(())
    /// # }
    /// ```
    pub fn retry_if_ok<T, P>(self, predicate: P) -> Retry<'a, F, Fut, E, P>
    where
        P: FnMut(&T) -> bool,
    {
        Retry {
            policy: self.policy,
            operation: self.operation,
            value_predicate: predicate,
            run: self.run,
        }
    }
}

impl<F, Fut, T, E, V> Future for Retry<'_, F, Fut, E, V>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    V: ValuePredicate<T>,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let value_predicate = this.value_predicate;
        this.run.poll_run(cx, this.policy, this.operation, |value| {
            value_predicate.should_retry(value).then_some(None)
        })
    }
}

impl<Fut> Run<Fut> {
    pub(crate) fn new() -> Self {
        Self {
            attempt: 0,
            started: None,
            delays: None,
            timer: None,
            state: State::Idle,
        }
    }

    /// Calls made so far.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// What the run is doing, for `Debug`.
    pub(crate) fn state_name(&self) -> &'static str {
        match self.state {
            State::Idle => "idle",
            State::Running { .. } => "running",
            State::Sleeping => "sleeping",
            State::Done => "done",
        }
    }
}

impl<Fut, T, E> Run<Fut>
where
    Fut: Future<Output = Result<T, E>>,
{
    /// Drives the run under `policy`: calls `operation` for every attempt, judges each
    /// outcome, sleeps between attempts, and resolves to the outcome that ended it.
    ///
    /// Errors are judged by the policy (`retry_if`, `delay_hint`, `notify`); an `Ok`
    /// value by `retry_ok`, which returns `None` to keep it and `Some(hint)` to retry
    /// it, after the hinted delay if there is one (capped as an error's hint is).
    pub(crate) fn poll_run(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        policy: &RetryPolicy<E>,
        mut operation: impl FnMut() -> Fut,
        mut retry_ok: impl FnMut(&T) -> Option<Option<Duration>>,
    ) -> Poll<Result<T, E>> {
        let mut this = self.project();
        loop {
            // Each arm either moves to the next state and loops, or yields the
            // outcome of an attempt, which the code below the match judges.
            let (result, timed_out) = match this.state.as_mut().project() {
                StateProj::Idle => {
                    if *this.attempt == 0 {
                        if policy.max_elapsed.is_some() {
                            *this.started = Some(Instant::now());
                        }
                        if let Some(budget) = &policy.budget {
                            budget.deposit();
                        }
                    }
                    *this.attempt = this.attempt.saturating_add(1);
                    metrics::attempt(policy);
                    let attempt = operation();
                    if let Some(timeout) = policy.attempt_timeout {
                        // The caller's deadline caps the attempt (read only here and
                        // before a sleep, never on a success without a timeout).
                        let limit = uno_deadline::remaining()
                            .map_or(timeout.timeout, |left| left.min(timeout.timeout));
                        arm(this.timer, limit);
                    }
                    this.state.set(State::Running { attempt });
                    continue;
                }
                StateProj::Running { attempt } => match attempt.poll(cx) {
                    Poll::Ready(result) => (result, false),
                    Poll::Pending => {
                        let Some(timeout) = policy.attempt_timeout else {
                            return Poll::Pending;
                        };
                        ready!(poll_timer(this.timer, cx));
                        // The attempt outlived its timeout: drop it, and fail it with
                        // the timeout converted into the operation's error type.
                        this.state.set(State::Idle);
                        let error = (timeout.into_error)(Error::AttemptTimedOut {
                            timeout: timeout.timeout,
                        });
                        (Err(error), true)
                    }
                },
                StateProj::Sleeping => {
                    ready!(poll_timer(this.timer, cx));
                    this.state.set(State::Idle);
                    continue;
                }
                StateProj::Done => panic!("`Retry` polled after completion"),
            };

            let next = {
                let mut run = RunState {
                    policy,
                    attempt: *this.attempt,
                    started: *this.started,
                    delays: this.delays,
                };
                match &result {
                    Ok(value) => retry_ok(value).and_then(|hint| run.next_delay(hint)),
                    Err(error)
                        if timed_out || policy.retry_if.as_ref().is_none_or(|p| p(error)) =>
                    {
                        let hint = policy.delay_hint.as_ref().and_then(|hint| hint(error));
                        let delay = run.next_delay(hint);
                        if let (Some(delay), Some(notify)) = (delay, &policy.notify) {
                            notify(*this.attempt, error, delay);
                        }
                        delay
                    }
                    Err(_) => {
                        give_up(policy, *this.attempt, GiveUp::NotRetryable);
                        None
                    }
                }
            };

            let Some(delay) = next else {
                this.state.set(State::Done);
                return Poll::Ready(result);
            };
            metrics::retry(policy);
            #[cfg(feature = "tracing")]
            tracing::debug!(
                attempt = *this.attempt,
                delay_ms = delay.as_secs_f64() * 1e3,
                outcome = if result.is_ok() {
                    "retryable value"
                } else {
                    "error"
                },
                "uno-retry: attempt failed, retrying"
            );
            drop(result);
            if delay.is_zero() {
                // Retrying at once must not starve the runtime when every attempt is
                // ready immediately: spend one unit of tokio's cooperative budget per
                // retry, which yields once the task has used up its share.
                this.state.set(State::Idle);
                ready!(tokio::task::coop::poll_proceed(cx)).made_progress();
            } else {
                arm(this.timer, delay);
                this.state.set(State::Sleeping);
            }
        }
    }
}

/// Sets the run's timer to fire `duration` from now, creating it on first use.
fn arm(timer: &mut Option<Pin<Box<Sleep>>>, duration: Duration) {
    let now = Instant::now();
    // A deadline past the clock's range (a saturated delay) becomes "in about 30
    // years", as `tokio::time::sleep` does.
    let deadline = now
        .checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30));
    match timer {
        Some(sleep) => sleep.as_mut().reset(deadline),
        None => *timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
    }
}

/// Polls the run's timer, which the state machine armed before getting here.
fn poll_timer(timer: &mut Option<Pin<Box<Sleep>>>, cx: &mut Context<'_>) -> Poll<()> {
    timer
        .as_mut()
        .expect("the timer is armed before it is awaited")
        .as_mut()
        .poll(cx)
}

/// The parts of a run that decide the next delay, borrowed from the pinned future.
struct RunState<'r, E> {
    policy: &'r RetryPolicy<E>,
    attempt: u32,
    started: Option<Instant>,
    delays: &'r mut Option<DelayState>,
}

impl<E> RunState<'_, E> {
    /// The wait before the next attempt, or `None` when the run must give up. The
    /// checks run from cheapest to the one with a side effect (the budget withdrawal),
    /// so a run that stops for another reason spends nothing.
    fn next_delay(&mut self, hint: Option<Duration>) -> Option<Duration> {
        let policy = self.policy;
        if policy.max_attempts.is_some_and(|max| self.attempt >= max) {
            give_up(policy, self.attempt, GiveUp::MaxAttempts);
            return None;
        }
        let schedule = &policy.schedule;
        let state = self
            .delays
            .get_or_insert_with(|| schedule.start(policy.seed));
        let mut delay = schedule.next_delay(state);
        if let Some(hint) = hint {
            delay = schedule.cap(hint);
        }
        if let (Some(max_elapsed), Some(started)) = (policy.max_elapsed, self.started)
            && started.elapsed().saturating_add(delay) > max_elapsed
        {
            give_up(policy, self.attempt, GiveUp::MaxElapsed);
            return None;
        }
        // Never sleep into the caller's deadline: an attempt that would start at or
        // after it could not finish, so return the last outcome now.
        if let Some(deadline) = uno_deadline::current()
            && Instant::now()
                .checked_add(delay)
                .is_none_or(|next| next >= deadline)
        {
            give_up(policy, self.attempt, GiveUp::Deadline);
            return None;
        }
        if let Some(budget) = &policy.budget
            && !budget.try_withdraw()
        {
            give_up(policy, self.attempt, GiveUp::Budget);
            return None;
        }
        Some(delay)
    }
}

#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn give_up<E>(policy: &RetryPolicy<E>, attempt: u32, reason: GiveUp) {
    metrics::give_up(policy, reason);
    #[cfg(feature = "tracing")]
    tracing::debug!(attempt, reason = reason.message(), "uno-retry: giving up");
}

impl<F, Fut, E, V> fmt::Debug for Retry<'_, F, Fut, E, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("policy", self.policy)
            .field("attempt", &self.run.attempt())
            .field("state", &self.run.state_name())
            .finish_non_exhaustive()
    }
}
