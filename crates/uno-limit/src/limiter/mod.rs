//! The fixed concurrency limit: [`Limiter`] and its [`Permit`]; the builder is in
//! `builder.rs`.
//!
//! The file runs past 450 lines because half of it is the public methods' documentation
//! and examples; its code (about 260 lines) is one idea, the fixed limit.

mod builder;

pub use self::builder::LimiterBuilder;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::future::Limited;
use crate::metrics::Meter;
use crate::policy::{admit, try_error};
use crate::{BuildError, FullPolicy, LimitError, RateLimiter};

/// Bounds how many operations run at once.
///
/// A `Limiter` holds `limit` permits. Work runs while it holds one; when all are taken,
/// the limiter's [`FullPolicy`] decides: wait (the default, in FIFO order), wait up to a
/// timeout, or reject at once. Cloning is cheap and every clone shares the same
/// permits, so one limiter can guard a dependency across many tasks.
///
/// It is the seed's `@concurrent_limited(max_concurrent=5)`: [`run`](Self::run) limits
/// one future, [`wrap`](Self::wrap) turns a function into a limited one.
///
/// # Examples
///
/// ```
/// use uno_limit::{LimitError, Limiter};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let limiter = Limiter::new(5)?;
/// let doubled = limiter.run(async { 21 * 2 }).await?;
/// assert_eq!(doubled, 42);
/// # Ok(())
/// # }
/// ```
///
/// # Cancel safety
///
/// Every future returned here is cancel-safe: dropped while waiting, it leaves no
/// permit behind and gives up its place in the queue; dropped while running, it
/// releases its permit.
#[derive(Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

struct Inner {
    semaphore: Arc<Semaphore>,
    limit: usize,
    on_full: FullPolicy,
    waiting: AtomicUsize,
    /// A rate that admitted work must also keep to, taken after the permit.
    rate: Option<RateLimiter>,
    name: Option<Arc<str>>,
    meter: Meter,
}

impl Inner {
    /// Sets the in-flight gauge (nothing without the `metrics` feature).
    fn report_in_flight(&self) {
        #[cfg(feature = "metrics")]
        self.meter
            .in_flight(self.limit - self.semaphore.available_permits());
    }
}

/// Reports the in-flight count when dropped: declared before a permit, it drops
/// after it, on every path (cancellation included).
#[cfg(feature = "metrics")]
struct InFlightReport<I: std::ops::Deref<Target = Inner>>(I);

#[cfg(feature = "metrics")]
impl<I: std::ops::Deref<Target = Inner>> Drop for InFlightReport<I> {
    fn drop(&mut self) {
        self.0.report_in_flight();
    }
}

/// Room for one operation in a [`Limiter`]; dropping it gives the room back.
///
/// A `Permit` owns its share of the limiter, so it can move into a spawned task.
#[must_use = "the permit is released as soon as it is dropped"]
pub struct Permit {
    _permit: OwnedSemaphorePermit,
    // Dropped after the permit, so the gauge counts it as given back.
    #[cfg(feature = "metrics")]
    _report: InFlightReport<Arc<Inner>>,
}

impl Permit {
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    fn new(permit: OwnedSemaphorePermit, inner: &Arc<Inner>) -> Self {
        inner.report_in_flight();
        Permit {
            _permit: permit,
            #[cfg(feature = "metrics")]
            _report: InFlightReport(Arc::clone(inner)),
        }
    }
}

impl Limiter {
    /// Creates a limiter that lets at most `limit` operations run at once and makes
    /// callers wait, in FIFO order, when it is full.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroLimit`] when `limit` is 0 (such a limiter would never admit
    /// anything), [`BuildError::LimitTooLarge`] above tokio's semaphore maximum.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_limit::{BuildError, Limiter};
    ///
    /// assert!(Limiter::new(5).is_ok());
    /// assert_eq!(Limiter::new(0).unwrap_err(), BuildError::ZeroLimit);
    /// ```
    pub fn new(limit: usize) -> Result<Self, BuildError> {
        Self::builder().limit(limit).build()
    }

    /// Starts a [`LimiterBuilder`] to choose the limit and what happens when full.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_limit::{FullPolicy, LimitError, Limiter};
    ///
    /// let bulkhead = Limiter::builder().limit(10).on_full(FullPolicy::Reject).build()?;
    /// assert_eq!(bulkhead.on_full(), FullPolicy::Reject);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder() -> LimiterBuilder {
        LimiterBuilder::default()
    }

    /// Runs `future` while holding a permit, after getting one as the
    /// [`FullPolicy`] says.
    ///
    /// The permit is released when `future` finishes, panics or is dropped. The
    /// returned future is `Send` whenever `future` is.
    ///
    /// # Errors
    ///
    /// [`LimitError::Closed`] if the limiter is closed (also while waiting), and
    /// [`LimitError::Full`] or [`LimitError::Timeout`] under those policies; `future`
    /// is then dropped without being polled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropped while waiting it holds no permit and leaves the queue;
    /// dropped while running it releases its permit.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_limit::{LimitError, Limiter};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let limiter = Limiter::new(2)?;
    /// let body = limiter.run(async { "fetched" }).await?;
    /// assert_eq!(body, "fetched");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run<F: Future>(&self, future: F) -> Result<F::Output, LimitError> {
        let inner = &*self.inner;
        let deadline = self.rate_deadline(inner.on_full);
        // Reports the in-flight count however `run` ends (cancellation included).
        #[cfg(feature = "metrics")]
        let _report = InFlightReport(inner);
        // The permit and the rate slot are one admission, counted once. (Written
        // without a nested async block, which made this hot path measurably slower.)
        let permit = admit(
            inner.on_full,
            || inner.limit,
            (&inner.waiting, Some(&inner.meter)),
            || inner.semaphore.try_acquire(),
            || inner.semaphore.acquire(),
        )
        .await
        .inspect_err(|error| inner.meter.rejected(error))?;
        if let Some(rate) = &inner.rate {
            admit_rate(rate, inner.on_full, deadline)
                .await
                .inspect_err(|error| inner.meter.rejected(error))?;
        }
        inner.meter.acquired();
        inner.report_in_flight();
        // `.await` moves `future` into a temporary created after `permit`, so a `run`
        // cancelled while running drops the work (and what it holds) before the permit.
        let output = future.await;
        drop(permit);
        Ok(output)
    }

    /// Runs a fallible `future` as [`run`](Self::run) does, folding a refusal into the
    /// future's own error type: `Result<T, E>` instead of `Result<Result<T, E>,
    /// LimitError>`, for any `E: From<LimitError>` (such as `std::io::Error`, or an
    /// application error with a `#[from] LimitError` variant).
    ///
    /// # Errors
    ///
    /// The future's own error, or the refusal converted into `E`.
    ///
    /// # Cancel safety
    ///
    /// As [`run`](Self::run).
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_limit::Limiter;
    ///
    /// async fn fetch() -> std::io::Result<&'static str> {
    ///     Ok("body")
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let limiter = Limiter::new(4).map_err(std::io::Error::from)?;
    /// let body = limiter.try_run(fetch()).await?; // one `?`, not two
    /// assert_eq!(body, "body");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn try_run<F, T, E>(&self, future: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: From<LimitError>,
    {
        self.run(future).await?
    }

    /// Turns `f` into a function whose every call runs under this limiter: the
    /// decorator form of [`run`](Self::run).
    ///
    /// The returned function is cheap to clone (clones share the limiter) and returns
    /// a [`Limited`] future, which is `Send` whenever `f`'s future is. A function of
    /// several arguments takes them as one tuple.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_limit::{LimitError, Limiter};
    ///
    /// async fn process_item(item: u32) -> u32 {
    ///     item * 2
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let limiter = Limiter::new(5)?;
    /// let process = limiter.wrap(process_item);
    /// let outputs = futures_util::future::join_all((0..10).map(|item| process(item))).await;
    /// assert_eq!(outputs[3], Ok(6));
    /// # Ok(())
    /// # }
    /// ```
    pub fn wrap<A, F, Fut>(&self, f: F) -> impl Fn(A) -> Limited<Fut> + Clone + use<A, F, Fut>
    where
        F: Fn(A) -> Fut + Clone,
        Fut: Future,
    {
        let limiter = self.clone();
        move |argument| Limited::new(limiter.clone(), f(argument))
    }

    /// Gets a permit as the limiter's [`FullPolicy`] says.
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
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_limit::{LimitError, Limiter};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let limiter = Limiter::new(1)?;
    /// let permit = limiter.acquire().await?;
    /// assert_eq!(limiter.in_flight(), 1);
    /// drop(permit);
    /// assert_eq!(limiter.in_flight(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn acquire(&self) -> Result<Permit, LimitError> {
        self.acquire_with(self.inner.on_full).await
    }

    /// Gets a permit if one is free now, whatever the [`FullPolicy`].
    ///
    /// # Errors
    ///
    /// [`LimitError::Full`] when every permit is taken, [`LimitError::Closed`] when the
    /// limiter is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_limit::{LimitError, Limiter};
    ///
    /// let limiter = Limiter::new(1)?;
    /// let _held = limiter.try_acquire()?;
    /// assert_eq!(limiter.try_acquire().unwrap_err(), LimitError::Full { limit: 1 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_acquire(&self) -> Result<Permit, LimitError> {
        self.inner.meter.admitted(self.try_permit())
    }

    /// [`try_acquire`](Self::try_acquire) without counting the outcome, for callers
    /// that count it themselves (a refusal may still turn into a wait).
    pub(crate) fn try_permit(&self) -> Result<Permit, LimitError> {
        let inner = &self.inner;
        let permit = inner
            .semaphore
            .clone()
            .try_acquire_owned()
            .map(|permit| Permit::new(permit, inner))
            .map_err(|error| try_error(&error, inner.limit))?;
        if let Some(rate) = &inner.rate {
            rate.try_acquire()?;
        }
        Ok(permit)
    }

    /// Where this limiter's admissions and refusals are counted.
    // Used by the tower service only.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn meter(&self) -> &Meter {
        &self.inner.meter
    }

    /// Waits up to `timeout` for a permit, whatever the [`FullPolicy`].
    ///
    /// A zero `timeout` takes a free permit if there is one and otherwise fails at once.
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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_limit::{LimitError, Limiter};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let limiter = Limiter::new(1)?;
    /// let _held = limiter.acquire().await?;
    /// let timeout = Duration::from_secs(1);
    /// assert_eq!(limiter.acquire_timeout(timeout).await.unwrap_err(), LimitError::Timeout { timeout });
    /// # Ok(())
    /// # }
    /// ```
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Permit, LimitError> {
        if timeout.is_zero() {
            let refused_as_timeout = self.try_permit().map_err(|error| match error {
                LimitError::Full { .. } | LimitError::Limited { .. } => {
                    LimitError::Timeout { timeout }
                }
                other => other,
            });
            return self.inner.meter.admitted(refused_as_timeout);
        }
        self.acquire_with(FullPolicy::Timeout(timeout)).await
    }

    pub(crate) async fn acquire_with(&self, policy: FullPolicy) -> Result<Permit, LimitError> {
        let inner = &*self.inner;
        let deadline = self.rate_deadline(policy);
        // The permit and the rate slot are one admission, counted once.
        let permit = admit(
            policy,
            || inner.limit,
            (&inner.waiting, Some(&inner.meter)),
            || inner.semaphore.clone().try_acquire_owned(),
            || inner.semaphore.clone().acquire_owned(),
        )
        .await
        .inspect_err(|error| inner.meter.rejected(error))?;
        let permit = Permit::new(permit, &self.inner);
        if let Some(rate) = &inner.rate {
            admit_rate(rate, policy, deadline)
                .await
                .inspect_err(|error| inner.meter.rejected(error))?;
        }
        inner.meter.acquired();
        Ok(permit)
    }

    /// When a [`FullPolicy::Timeout`] wait that must also cover the rate ends (`None`
    /// without a rate, for other policies, or past tokio's clock).
    fn rate_deadline(&self, policy: FullPolicy) -> Option<tokio::time::Instant> {
        match (&self.inner.rate, policy) {
            (Some(_), FullPolicy::Timeout(timeout)) => {
                tokio::time::Instant::now().checked_add(timeout)
            }
            _ => None,
        }
    }

    /// The rate this limiter also keeps to, if it was built with
    /// [`LimiterBuilder::rate`].
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.inner.rate.as_ref()
    }

    /// How many permits are held now (operations running under this limiter).
    pub fn in_flight(&self) -> usize {
        self.inner.limit - self.inner.semaphore.available_permits()
    }

    /// How many callers are waiting for a permit now.
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// The most operations this limiter lets run at once.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// What this limiter does when it is full.
    pub fn on_full(&self) -> FullPolicy {
        self.inner.on_full
    }

    /// Closes the limiter: waiting callers and every later request fail with
    /// [`LimitError::Closed`]; operations already running finish and release their
    /// permits as usual. Closing twice does nothing more.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_limit::{LimitError, Limiter};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let limiter = Limiter::new(4)?;
    /// limiter.close();
    /// assert_eq!(limiter.run(async {}).await, Err(LimitError::Closed));
    /// # Ok(())
    /// # }
    /// ```
    pub fn close(&self) {
        crate::trace!("limiter closed");
        self.inner.semaphore.close();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.semaphore.is_closed()
    }

    /// The name given with [`LimiterBuilder::name`], if any.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("limit", &self.inner.limit)
            .field("in_flight", &self.in_flight())
            .field("waiting", &self.waiting())
            .field("on_full", &self.inner.on_full)
            .field("rate", &self.inner.rate)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Takes a slot of `rate` as `policy` says, by `deadline` under a timeout.
async fn admit_rate(
    rate: &RateLimiter,
    policy: FullPolicy,
    deadline: Option<tokio::time::Instant>,
) -> Result<(), LimitError> {
    match (policy, deadline) {
        (FullPolicy::Reject, _) => rate.try_acquire(),
        (FullPolicy::Timeout(timeout), Some(deadline)) => {
            tokio::time::timeout_at(deadline, rate.acquire())
                .await
                .unwrap_or(Err(LimitError::Timeout { timeout }))
        }
        _ => rate.acquire().await,
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}
