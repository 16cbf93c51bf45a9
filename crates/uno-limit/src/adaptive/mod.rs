//! Limits that move with observed latency and errors: [`AdaptiveLimiter`], the
//! [`LimitAlgorithm`]s [`Aimd`] and [`Gradient2`], and the [`AdaptivePermit`] through
//! which callers report how their work went.
//!
//! The file runs past 450 lines because of its public methods' documentation; its code
//! (about 320 lines) is the limiter and its permit, whose accounting (`release`,
//! `set_limit`) only makes sense read together and is checked by the loom models in
//! `tests/loom.rs`. The algorithms and what they learn from are in `aimd.rs`,
//! `gradient.rs` and `algorithm.rs`.

#[macro_use]
mod algorithm;
mod aimd;
mod gradient;

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

pub use self::aimd::{Aimd, AimdBuilder};
pub use self::algorithm::{LimitAlgorithm, Outcome, Sample};
pub use self::gradient::{Gradient2, Gradient2Builder};
use crate::metrics::Meter;
use crate::policy::{admit, try_error};
use crate::sync::{AtomicUsize, Mutex, MutexGuard};
use crate::{BuildError, FullPolicy, LimitError};

/// A concurrency limit that follows the backend: it grows while work goes well and
/// shrinks on errors, drops and rising latency, within the algorithm's bounds.
///
/// Get a permit, do the work, then report how it went with
/// [`AdaptivePermit::success`], [`failure`](AdaptivePermit::failure) or
/// [`dropped`](AdaptivePermit::dropped); a permit dropped without a report (for example
/// because its caller was cancelled) teaches the algorithm nothing. Netflix's
/// concurrency-limits library is the reference for both algorithms. Clones share the
/// same limit.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_limit::{AdaptiveLimiter, Aimd, LimitError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let aimd = Aimd::builder()
///     .initial_limit(10)
///     .min_limit(2)
///     .max_limit(100)
///     .latency_threshold(Duration::from_millis(200))
///     .build()?;
/// let limiter = AdaptiveLimiter::new(aimd);
///
/// let permit = limiter.acquire().await?;
/// // ... call the backend ...
/// permit.failure(); // an overload error: AIMD backs off
/// assert_eq!(limiter.limit(), 9);
/// # Ok(())
/// # }
/// ```
///
/// # Cancel safety
///
/// Every future returned here is cancel-safe: dropped while waiting, it leaves no
/// permit behind and gives up its place in the FIFO queue.
#[derive(Clone)]
pub struct AdaptiveLimiter {
    inner: Arc<AdaptiveInner>,
}

struct AdaptiveInner {
    semaphore: Arc<Semaphore>,
    on_full: FullPolicy,
    in_flight: AtomicUsize,
    /// A gauge shared with the waiting code every limiter uses; std's even under loom,
    /// as it takes no part in the accounting.
    waiting: std::sync::atomic::AtomicUsize,
    state: Mutex<AdaptiveState>,
    name: Option<Arc<str>>,
    meter: Meter,
}

struct AdaptiveState {
    algorithm: Box<dyn LimitAlgorithm>,
    limit: usize,
    /// Permits to take out of circulation as they come back, after the limit fell
    /// below what was handed out.
    debt: usize,
}

/// Room for one operation in an [`AdaptiveLimiter`]. Report the outcome with
/// [`success`](Self::success), [`failure`](Self::failure) or [`dropped`](Self::dropped);
/// dropping it without a report releases the room and teaches the limit nothing.
#[must_use = "report the outcome with success(), failure() or dropped()"]
pub struct AdaptivePermit {
    inner: Arc<AdaptiveInner>,
    permit: Option<OwnedSemaphorePermit>,
    started: Instant,
    in_flight: usize,
}

impl AdaptiveLimiter {
    /// Creates a limiter driven by `algorithm`, waiting in FIFO order when full.
    pub fn new(algorithm: impl LimitAlgorithm) -> Self {
        Self::build(algorithm, FullPolicy::Wait)
    }

    /// Creates a limiter driven by `algorithm` that acts on a full limit as `on_full`
    /// says, for [`run`](Self::run) and [`acquire`](Self::acquire).
    ///
    /// With [`FullPolicy::Reject`] this is an adaptive bulkhead: callers over the
    /// current limit are refused at once. A refusal is not reported to the algorithm
    /// (no operation ran); report the drops your callers see with
    /// [`AdaptivePermit::dropped`].
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidConfig`] for a zero [`FullPolicy::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_limit::{AdaptiveLimiter, Aimd, FullPolicy, LimitError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let aimd = Aimd::builder().initial_limit(1).build()?;
    /// let limiter = AdaptiveLimiter::with_policy(aimd, FullPolicy::Reject)?;
    /// let _busy = limiter.acquire().await?;
    /// assert_eq!(limiter.acquire().await.unwrap_err(), LimitError::Full { limit: 1 });
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_policy(
        algorithm: impl LimitAlgorithm,
        on_full: FullPolicy,
    ) -> Result<Self, BuildError> {
        Ok(Self::build(algorithm, on_full.validate()?))
    }

    /// Names the limiter: with the `metrics` feature, its metrics carry the label
    /// `limiter="<name>"` (`"unnamed"` without one). Name it before cloning it: a
    /// limiter that has clones keeps the name it had.
    #[must_use]
    pub fn named(mut self, name: impl Into<Arc<str>>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            let name = name.into();
            inner.meter = Meter::new(Some(&name));
            inner.name = Some(name);
            inner.meter.limit(
                inner
                    .state
                    .get_mut()
                    .unwrap_or_else(PoisonError::into_inner)
                    .limit,
            );
        }
        self
    }

    /// The name given with [`named`](Self::named), if any.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    fn build(algorithm: impl LimitAlgorithm, on_full: FullPolicy) -> Self {
        let limit = algorithm.initial_limit().clamp(1, Semaphore::MAX_PERMITS);
        AdaptiveLimiter {
            inner: Arc::new(AdaptiveInner {
                semaphore: Arc::new(Semaphore::new(limit)),
                on_full,
                in_flight: AtomicUsize::new(0),
                waiting: std::sync::atomic::AtomicUsize::new(0),
                state: Mutex::new(AdaptiveState {
                    algorithm: Box::new(algorithm),
                    limit,
                    debt: 0,
                }),
                name: None,
                meter: Meter::default(),
            }),
        }
    }

    /// Runs `future` under a permit and reports its result: `Ok` as a success, `Err`
    /// as a failure. If `future` panics or is dropped, nothing is reported.
    ///
    /// The outer `Result` is the limiter's answer, the inner one is `future`'s.
    ///
    /// # Errors
    ///
    /// [`LimitError::Closed`] if the limiter is or becomes closed, and
    /// [`LimitError::Full`] or [`LimitError::Timeout`] under those policies.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropped while waiting it holds no permit; dropped while running it
    /// releases its permit without reporting.
    ///
    /// # Panics
    ///
    /// Resumes a panic of the algorithm's [`update`](LimitAlgorithm::update), after the
    /// permit has been released and the limit kept where it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_limit::{AdaptiveLimiter, Gradient2, LimitError};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let limiter = AdaptiveLimiter::new(Gradient2::default());
    /// let answer = limiter.run(async { Ok::<_, std::io::Error>(42) }).await?;
    /// assert_eq!(answer.unwrap(), 42);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run<F, T, E>(&self, future: F) -> Result<Result<T, E>, LimitError>
    where
        F: Future<Output = Result<T, E>>,
    {
        let permit = self.acquire().await?;
        // `.await` moves `future` into a temporary created after `permit`, so a `run`
        // cancelled while running drops the work (and what it holds) before the permit.
        let result = future.await;
        match result {
            Ok(_) => permit.success(),
            Err(_) => permit.failure(),
        }
        Ok(result)
    }

    /// Gets a permit as the limiter's [`FullPolicy`] says (by default, waits in FIFO
    /// order).
    ///
    /// # Errors
    ///
    /// [`LimitError::Closed`] if the limiter is or becomes closed, and
    /// [`LimitError::Full`] or [`LimitError::Timeout`] under those policies.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. If it is used as the event in a `tokio::select!`
    /// statement and some other branch completes first, no permit is held and the
    /// caller's place in the queue is given up.
    pub async fn acquire(&self) -> Result<AdaptivePermit, LimitError> {
        self.acquire_with(self.inner.on_full).await
    }

    /// Gets a permit if one is free now.
    ///
    /// # Errors
    ///
    /// [`LimitError::Full`] when the current limit is reached, [`LimitError::Closed`]
    /// when the limiter is closed.
    pub fn try_acquire(&self) -> Result<AdaptivePermit, LimitError> {
        self.inner.meter.admitted(self.try_permit())
    }

    /// [`try_acquire`](Self::try_acquire) without counting the outcome, for callers
    /// that count it themselves (a refusal may still turn into a wait).
    pub(crate) fn try_permit(&self) -> Result<AdaptivePermit, LimitError> {
        let permit = self
            .inner
            .semaphore
            .clone()
            .try_acquire_owned()
            .map_err(|error| try_error(&error, self.limit()))?;
        Ok(self.started(permit))
    }

    /// Where this limiter's admissions and refusals are counted.
    // Used by the tower service only.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn meter(&self) -> &Meter {
        &self.inner.meter
    }

    /// Waits up to `timeout` for a permit.
    ///
    /// # Errors
    ///
    /// [`LimitError::Timeout`] when no permit became free in time,
    /// [`LimitError::Closed`] when the limiter is or becomes closed.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. If it is used as the event in a `tokio::select!`
    /// statement and some other branch completes first, no permit is held and the
    /// caller's place in the queue is given up.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<AdaptivePermit, LimitError> {
        if timeout.is_zero() {
            let refused_as_timeout = self.try_permit().map_err(|error| match error {
                LimitError::Full { .. } => LimitError::Timeout { timeout },
                other => other,
            });
            return self.inner.meter.admitted(refused_as_timeout);
        }
        self.acquire_with(FullPolicy::Timeout(timeout)).await
    }

    async fn acquire_with(&self, policy: FullPolicy) -> Result<AdaptivePermit, LimitError> {
        let inner = &*self.inner;
        let permit = admit(
            policy,
            || self.limit(),
            (&inner.waiting, Some(&inner.meter)),
            || inner.semaphore.clone().try_acquire_owned(),
            || inner.semaphore.clone().acquire_owned(),
        )
        .await;
        Ok(self.started(inner.meter.admitted(permit)?))
    }

    fn started(&self, permit: OwnedSemaphorePermit) -> AdaptivePermit {
        let in_flight = self.inner.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.inner.meter.in_flight(in_flight);
        AdaptivePermit {
            inner: self.inner.clone(),
            permit: Some(permit),
            started: Instant::now(),
            in_flight,
        }
    }

    /// What this limiter does when the current limit is reached.
    pub fn on_full(&self) -> FullPolicy {
        self.inner.on_full
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.inner.lock().limit
    }

    /// How many permits are held now. Right after the limit falls this may exceed
    /// [`limit`](Self::limit) until enough permits come back.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    /// How many callers are waiting for a permit now.
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// Closes the limiter: waiting callers and every later request fail with
    /// [`LimitError::Closed`]; running operations finish and may still report.
    pub fn close(&self) {
        crate::trace!("adaptive limiter closed");
        self.inner.semaphore.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.semaphore.is_closed()
    }
}

impl AdaptiveInner {
    fn lock(&self) -> MutexGuard<'_, AdaptiveState> {
        // Every critical section leaves the state consistent, so a poisoned lock (an
        // algorithm that panicked) is still safe to use.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns one permit, learning from `sample` first when there is one.
    ///
    /// The algorithm is user code and may panic. Its panic is caught, the limit stays
    /// where it was, the permit still pays off a pending reduction, and only then,
    /// with the lock released, does the panic resume: an unwinding permit must never
    /// go back to the semaphore while the limit is owed permits.
    fn release(&self, permit: OwnedSemaphorePermit, sample: Option<Sample>) {
        let in_flight = self
            .in_flight
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        self.meter.in_flight(in_flight);
        let mut state = self.lock();
        let mut panic = None;
        if let Some(sample) = sample {
            let algorithm = &mut state.algorithm;
            match catch_unwind(AssertUnwindSafe(|| algorithm.update(&sample))) {
                Ok(new_limit) => {
                    self.set_limit(&mut state, new_limit.clamp(1, Semaphore::MAX_PERMITS));
                }
                Err(payload) => panic = Some(payload),
            }
        }
        if state.debt > 0 {
            state.debt -= 1;
            permit.forget();
        } else {
            drop(permit);
        }
        drop(state);
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
    }

    fn set_limit(&self, state: &mut AdaptiveState, new_limit: usize) {
        let old_limit = state.limit;
        if new_limit == old_limit {
            return;
        }
        crate::trace!(old_limit, new_limit, "adaptive limit changed");
        state.limit = new_limit;
        self.meter.limit(new_limit);
        if new_limit > old_limit {
            let increase = new_limit - old_limit;
            let repaid = increase.min(state.debt);
            state.debt -= repaid;
            self.semaphore.add_permits(increase - repaid);
        } else {
            let decrease = old_limit - new_limit;
            let forgotten = self.semaphore.forget_permits(decrease);
            state.debt += decrease - forgotten;
        }
    }
}

impl AdaptivePermit {
    /// Reports that the operation succeeded, then releases the permit.
    ///
    /// # Panics
    ///
    /// Resumes a panic of the algorithm's [`update`](LimitAlgorithm::update), as do
    /// [`failure`](Self::failure) and [`dropped`](Self::dropped). The permit is released
    /// first (paying off a pending reduction of the limit), and the limit stays where
    /// it was, so the limiter stays consistent and usable.
    pub fn success(self) {
        self.finish(Outcome::Success);
    }

    /// Reports that the operation failed in a way that signals overload, then
    /// releases the permit. Errors that say nothing about load (a 404, a validation
    /// error) are better reported as [`success`](Self::success) or not at all.
    pub fn failure(self) {
        self.finish(Outcome::Failure);
    }

    /// Reports that the operation was dropped (timed out or shed), then releases the
    /// permit.
    pub fn dropped(self) {
        self.finish(Outcome::Dropped);
    }

    /// Releases the permit without reporting anything, like dropping it.
    pub fn ignore(self) {}

    /// How long this permit has been held.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn finish(mut self, outcome: Outcome) {
        if let Some(permit) = self.permit.take() {
            let sample = Sample::new(
                self.started,
                self.started.elapsed(),
                self.in_flight,
                outcome,
            );
            self.inner.release(permit, Some(sample));
        }
    }
}

impl Drop for AdaptivePermit {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.inner.release(permit, None);
        }
    }
}

impl fmt::Debug for AdaptiveLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveLimiter")
            .field("limit", &self.limit())
            .field("in_flight", &self.in_flight())
            .field("waiting", &self.waiting())
            .field("on_full", &self.inner.on_full)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for AdaptivePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptivePermit")
            .field("elapsed", &self.elapsed())
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

/// Checks the bounds every algorithm shares.
fn check_bounds(min: usize, initial: usize, max: usize) -> Result<(), BuildError> {
    if min == 0 {
        return Err(BuildError::ZeroLimit);
    }
    if min > max {
        return Err(BuildError::InvalidConfig {
            reason: "min_limit is above max_limit; make min_limit <= max_limit",
        });
    }
    if initial < min || initial > max {
        return Err(BuildError::InvalidConfig {
            reason: "initial_limit is outside min_limit..=max_limit; choose a start inside the bounds",
        });
    }
    if max > Semaphore::MAX_PERMITS {
        return Err(BuildError::LimitTooLarge {
            limit: max,
            max: Semaphore::MAX_PERMITS,
        });
    }
    Ok(())
}
