//! [`LimiterBuilder`]: a [`Limiter`] with options, checked when built.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{Inner, Limiter};
use crate::error::check_limit;
use crate::metrics::Meter;
use crate::{BuildError, FullPolicy, RateLimiterBuilder};
#[cfg(doc)]
use crate::{LimitError, RateLimiter};

/// Builds a [`Limiter`] with options; see [`Limiter::builder`].
#[derive(Debug, Clone, Default)]
pub struct LimiterBuilder {
    limit: Option<usize>,
    on_full: FullPolicy,
    rate: Option<RateLimiterBuilder>,
    name: Option<Arc<str>>,
}

impl LimiterBuilder {
    /// Names the limiter: with the `metrics` feature, its metrics carry the label
    /// `limiter="<name>"` (`"unnamed"` without one).
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The most operations that may run at once (required, at least 1).
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// What to do when every permit is taken; [`FullPolicy::Wait`] by default.
    pub fn on_full(mut self, policy: FullPolicy) -> Self {
        self.on_full = policy;
        self
    }

    /// Also keep to a rate: at most `count` operations *start* per `period` (by GCRA,
    /// as [`RateLimiter`] does), on top of the concurrency limit.
    ///
    /// An operation first gets its concurrency permit, then waits for its rate slot,
    /// so a slot is only spent on work that starts. The [`FullPolicy`] covers both:
    /// `Reject` fails with [`LimitError::Limited`] when the rate is reached, and a
    /// `Timeout` bounds the two waits together.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokio::time::Instant;
    /// use uno_limit::{LimitError, Limiter};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // At most 4 at once, and at most 10 starts a second, one at a time.
    /// let api = Limiter::builder().limit(4).rate(10, Duration::from_secs(1)).burst(1).build()?;
    /// let started = Instant::now();
    /// for _ in 0..3 {
    ///     api.run(async {}).await?;
    /// }
    /// assert_eq!(started.elapsed(), Duration::from_millis(200));
    /// # Ok(())
    /// # }
    /// ```
    pub fn rate(mut self, count: u32, period: Duration) -> Self {
        self.rate = Some(self.rate.unwrap_or_default().rate(count, period));
        self
    }

    /// The rate's burst (see [`RateLimiterBuilder::burst`]); needs [`rate`](Self::rate).
    pub fn burst(mut self, burst: u32) -> Self {
        self.rate = Some(self.rate.unwrap_or_default().burst(burst));
        self
    }

    /// Checks the settings and builds the [`Limiter`].
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroLimit`] for a limit of 0, [`BuildError::LimitTooLarge`] above
    /// tokio's semaphore maximum, [`BuildError::InvalidConfig`] when no limit was set,
    /// the policy's timeout is zero, a burst was set without a rate, or the rate is
    /// refused as [`RateLimiterBuilder::build`] refuses it.
    pub fn build(self) -> Result<Limiter, BuildError> {
        let Some(limit) = self.limit else {
            return Err(BuildError::InvalidConfig {
                reason: "no limit was set; call .limit(n) with n >= 1 (for a rate alone, use RateLimiter)",
            });
        };
        let limit = check_limit(limit)?;
        let on_full = self.on_full.validate()?;
        let rate = self.rate.map(RateLimiterBuilder::build).transpose()?;
        let meter = Meter::new(self.name.as_ref());
        meter.limit(limit);
        Ok(Limiter {
            inner: Arc::new(Inner {
                semaphore: Arc::new(Semaphore::new(limit)),
                limit,
                on_full,
                waiting: AtomicUsize::new(0),
                rate,
                name: self.name,
                meter,
            }),
        })
    }
}
