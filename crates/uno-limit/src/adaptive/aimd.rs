//! Additive increase, multiplicative decrease.

use std::time::Duration;

use tokio::time::Instant;

use super::algorithm::within;
use super::{LimitAlgorithm, Outcome, Sample, check_bounds};
use crate::BuildError;

/// Additive increase, multiplicative decrease, as TCP's congestion control and
/// Netflix's `AIMDLimit` do.
///
/// After a success that took no longer than the latency threshold, while at least
/// half the limit is in use, the limit grows by `1 / limit`: about one per round trip
/// of a full limit, TCP's congestion avoidance. After a failure, a drop, or a
/// latency above the threshold, it is multiplied by the backoff ratio. It always stays
/// within `min_limit..=max_limit`.
///
/// As in TCP, the limit backs off at most once per round trip: an overloaded sample
/// from an operation that started before the last backoff is ignored, because the
/// backoff already answered the load it saw. Without this rule, one burst of slow
/// answers (every operation in flight at once) would multiply the limit by the ratio
/// once per operation and collapse it to the minimum.
///
/// Defaults: initial limit 20, bounds 1..=200, backoff ratio 0.9, latency threshold
/// 5 s (Netflix's defaults).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tokio::time::Instant;
/// use uno_limit::{Aimd, LimitAlgorithm, Outcome, Sample};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut aimd = Aimd::builder().initial_limit(10).build()?;
/// let busy = Sample::new(Instant::now(), Duration::from_millis(5), 8, Outcome::Success);
/// for _ in 0..11 {
///     aimd.update(&busy); // + 1/limit each: about one more per round trip
/// }
/// assert_eq!(aimd.limit(), 11);
/// let overloaded = Sample::new(Instant::now(), Duration::from_millis(5), 8, Outcome::Failure);
/// assert_eq!(aimd.update(&overloaded), 9); // 11 * 0.9, rounded down
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Aimd {
    /// Fractional, so that the per-sample increase of `1 / limit` adds up.
    limit: f64,
    min_limit: usize,
    max_limit: usize,
    backoff_ratio: f64,
    latency_threshold: Duration,
    last_backoff: Option<Instant>,
}

/// Builds an [`Aimd`] algorithm; see [`Aimd::builder`].
#[derive(Debug, Clone)]
pub struct AimdBuilder {
    initial_limit: usize,
    min_limit: usize,
    max_limit: usize,
    backoff_ratio: f64,
    latency_threshold: Duration,
}

impl Aimd {
    /// Starts a builder with the defaults listed on [`Aimd`].
    pub fn builder() -> AimdBuilder {
        AimdBuilder {
            initial_limit: 20,
            min_limit: 1,
            max_limit: 200,
            backoff_ratio: 0.9,
            latency_threshold: Duration::from_secs(5),
        }
    }
}

impl Default for Aimd {
    fn default() -> Self {
        Aimd {
            limit: 20.0,
            min_limit: 1,
            max_limit: 200,
            backoff_ratio: 0.9,
            latency_threshold: Duration::from_secs(5),
            last_backoff: None,
        }
    }
}

impl LimitAlgorithm for Aimd {
    fn initial_limit(&self) -> usize {
        self.current()
    }

    fn update(&mut self, sample: &Sample) -> usize {
        let overloaded =
            sample.outcome() != Outcome::Success || sample.latency() > self.latency_threshold;
        if overloaded {
            if self
                .last_backoff
                .is_some_and(|last_backoff| sample.started() <= last_backoff)
            {
                return self.current();
            }
            self.last_backoff = Some(Instant::now());
            // Rounding down is the point: 0.9 of a small limit must still shrink it.
            let backed_off = (self.limit * self.backoff_ratio).floor();
            self.limit = backed_off.max(self.min_limit as f64);
        } else if sample.in_flight() as f64 * 2.0 >= self.limit {
            self.limit = (self.limit + 1.0 / self.limit).min(self.max_limit as f64);
        }
        self.current()
    }
}

impl Aimd {
    /// The current limit.
    pub fn limit(&self) -> usize {
        self.current()
    }

    fn current(&self) -> usize {
        within(self.limit, self.min_limit, self.max_limit)
    }
}

impl AimdBuilder {
    bound_setters!();

    /// What the limit is multiplied by on overload, in `0.5..1.0` (default 0.9).
    pub fn backoff_ratio(mut self, ratio: f64) -> Self {
        self.backoff_ratio = ratio;
        self
    }

    /// A success slower than this counts as overload (default 5 s).
    pub fn latency_threshold(mut self, threshold: Duration) -> Self {
        self.latency_threshold = threshold;
        self
    }

    /// Checks the settings and builds the algorithm.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroLimit`] for a zero `min_limit`, [`BuildError::InvalidConfig`]
    /// when the bounds do not nest, the backoff ratio is outside `0.5..1.0` or the
    /// latency threshold is zero, [`BuildError::LimitTooLarge`] for a huge `max_limit`.
    pub fn build(self) -> Result<Aimd, BuildError> {
        check_bounds(self.min_limit, self.initial_limit, self.max_limit)?;
        if !(0.5..1.0).contains(&self.backoff_ratio) {
            return Err(BuildError::InvalidConfig {
                reason: "backoff_ratio must be in 0.5..1.0 so that overload shrinks the limit without collapsing it",
            });
        }
        if self.latency_threshold.is_zero() {
            return Err(BuildError::InvalidConfig {
                reason: "a zero latency_threshold would count every call as overload; use the latency you consider too slow",
            });
        }
        Ok(Aimd {
            limit: self.initial_limit as f64,
            min_limit: self.min_limit,
            max_limit: self.max_limit,
            backoff_ratio: self.backoff_ratio,
            latency_threshold: self.latency_threshold,
            last_backoff: None,
        })
    }
}
