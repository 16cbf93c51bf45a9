//! Netflix's Gradient2: compare short-term to long-term latency.

use super::algorithm::within;
use super::{LimitAlgorithm, Outcome, Sample, check_bounds};
use crate::BuildError;

/// Netflix's `Gradient2Limit`: the limit follows the ratio of long-term to
/// short-term latency.
///
/// Each sample's latency is the short-term view; an exponential average over
/// `long_window` samples is the long-term baseline. While the latest latency is within
/// `rtt_tolerance` times the baseline the gradient is 1 and the limit grows by
/// `queue_size`; beyond it the gradient (at least 0.5) shrinks the limit. Changes are
/// smoothed by `smoothing`, and the limit does not grow while less than half of it is
/// in use (the caller, not the backend, is the bottleneck). If the baseline drifts far
/// above the latest latency it is decayed, so the limit recovers after a slow spell.
///
/// Failures are not latency measurements (a fast error would look like a fast
/// backend), so they are ignored, as in the reference; drops count with the latency
/// they had.
///
/// Defaults: initial limit 20, bounds 1..=200, smoothing 0.2, tolerance 1.5, long
/// window 600 samples, queue size 4.
///
/// # Examples
///
/// ```
/// use uno_limit::{AdaptiveLimiter, Gradient2};
///
/// let gradient = Gradient2::builder().initial_limit(10).max_limit(50).build()?;
/// let limiter = AdaptiveLimiter::new(gradient);
/// assert_eq!(limiter.limit(), 10);
/// # Ok::<(), uno_limit::BuildError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Gradient2 {
    estimated_limit: f64,
    min_limit: usize,
    max_limit: usize,
    smoothing: f64,
    rtt_tolerance: f64,
    queue_size: usize,
    long_rtt: ExponentialAverage,
}

/// Builds a [`Gradient2`] algorithm; see [`Gradient2::builder`].
#[derive(Debug, Clone)]
pub struct Gradient2Builder {
    initial_limit: usize,
    min_limit: usize,
    max_limit: usize,
    smoothing: f64,
    rtt_tolerance: f64,
    long_window: usize,
    queue_size: usize,
}

/// An exponential moving average that starts as a plain mean over its first samples.
#[derive(Debug, Clone)]
struct ExponentialAverage {
    value: f64,
    count: usize,
    warmup: usize,
    factor: f64,
}

impl ExponentialAverage {
    fn new(window: usize, warmup: usize) -> Self {
        ExponentialAverage {
            value: 0.0,
            count: 0,
            warmup,
            factor: 2.0 / (window as f64 + 1.0),
        }
    }

    fn add(&mut self, sample: f64) -> f64 {
        if self.count < self.warmup {
            self.count += 1;
            self.value += (sample - self.value) / self.count as f64;
        } else {
            self.value = self.value * (1.0 - self.factor) + sample * self.factor;
        }
        self.value
    }
}

impl Gradient2 {
    /// Starts a builder with the defaults listed on [`Gradient2`].
    pub fn builder() -> Gradient2Builder {
        Gradient2Builder {
            initial_limit: 20,
            min_limit: 1,
            max_limit: 200,
            smoothing: 0.2,
            rtt_tolerance: 1.5,
            long_window: 600,
            queue_size: 4,
        }
    }
}

impl Default for Gradient2 {
    fn default() -> Self {
        match Gradient2::builder().build() {
            Ok(gradient) => gradient,
            Err(error) => unreachable!("the default Gradient2 settings are valid: {error}"),
        }
    }
}

impl LimitAlgorithm for Gradient2 {
    fn initial_limit(&self) -> usize {
        self.current()
    }

    fn update(&mut self, sample: &Sample) -> usize {
        if sample.outcome() == Outcome::Failure {
            return self.current();
        }
        let short_rtt = sample.latency().as_secs_f64().max(f64::MIN_POSITIVE);
        let mut long_rtt = self.long_rtt.add(short_rtt);

        // A baseline far above the latest latency is stale (a slow spell has passed):
        // let it decay so the limit can grow again.
        if long_rtt / short_rtt > 2.0 {
            self.long_rtt.value *= 0.95;
            long_rtt = self.long_rtt.value;
        }

        // The caller, not the backend, is the bottleneck: there is nothing to learn.
        if (sample.in_flight() as f64) < self.estimated_limit / 2.0 {
            return self.current();
        }

        let gradient = (self.rtt_tolerance * long_rtt / short_rtt).clamp(0.5, 1.0);
        let target = self.estimated_limit * gradient + self.queue_size as f64;
        let smoothed = self.estimated_limit * (1.0 - self.smoothing) + target * self.smoothing;
        self.estimated_limit = smoothed.clamp(self.min_limit as f64, self.max_limit as f64);
        self.current()
    }
}

impl Gradient2 {
    fn current(&self) -> usize {
        within(self.estimated_limit, self.min_limit, self.max_limit)
    }
}

impl Gradient2Builder {
    bound_setters!();

    /// How much of each new estimate is taken, in `(0, 1]` (default 0.2).
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// How much slower than the baseline a sample may be before the limit shrinks, at
    /// least 1.0 (default 1.5).
    pub fn rtt_tolerance(mut self, tolerance: f64) -> Self {
        self.rtt_tolerance = tolerance;
        self
    }

    /// How many samples the long-term baseline averages over, at least 1 (default 600).
    pub fn long_window(mut self, samples: usize) -> Self {
        self.long_window = samples;
        self
    }

    /// How much the limit may grow per sample while latency is steady (default 4).
    pub fn queue_size(mut self, size: usize) -> Self {
        self.queue_size = size;
        self
    }

    /// Checks the settings and builds the algorithm.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroLimit`] for a zero `min_limit`, [`BuildError::InvalidConfig`]
    /// when the bounds do not nest or a tuning value is out of range,
    /// [`BuildError::LimitTooLarge`] for a huge `max_limit`.
    pub fn build(self) -> Result<Gradient2, BuildError> {
        check_bounds(self.min_limit, self.initial_limit, self.max_limit)?;
        if !(self.smoothing > 0.0 && self.smoothing <= 1.0) {
            return Err(BuildError::InvalidConfig {
                reason: "smoothing must be in (0, 1]; 0 would never move the limit",
            });
        }
        if !(self.rtt_tolerance >= 1.0 && self.rtt_tolerance.is_finite()) {
            return Err(BuildError::InvalidConfig {
                reason: "rtt_tolerance must be a finite number >= 1.0",
            });
        }
        if self.long_window == 0 {
            return Err(BuildError::InvalidConfig {
                reason: "long_window must be at least 1 sample",
            });
        }
        Ok(Gradient2 {
            estimated_limit: self.initial_limit as f64,
            min_limit: self.min_limit,
            max_limit: self.max_limit,
            smoothing: self.smoothing,
            rtt_tolerance: self.rtt_tolerance,
            queue_size: self.queue_size,
            long_rtt: ExponentialAverage::new(self.long_window, 10),
        })
    }
}
