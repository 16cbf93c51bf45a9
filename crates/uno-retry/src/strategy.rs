//! Backoff strategies, jitter, and the delay arithmetic they share.

use std::time::Duration;

/// The curve the delays between attempts follow (the seed's `BackoffStrategy`).
///
/// With `initial` the strategy's first delay and `n` the number of the retry (1 for
/// the wait after the first failed call), the delay before jitter and cap is:
///
/// | strategy | delay before retry `n` |
/// | --- | --- |
/// | [`Constant`](Self::Constant) | `initial` |
/// | [`Linear`](Self::Linear) | `initial * n` |
/// | [`Exponential`](Self::Exponential) | `initial * factor^(n - 1)` |
/// | [`Fibonacci`](Self::Fibonacci) | `initial * fib(n)` with `fib = 1, 1, 2, 3, 5, ..` |
/// | [`DecorrelatedJitter`](Self::DecorrelatedJitter) | `min(max_delay, U(initial, previous * 3))` |
///
/// Every product saturates at [`Duration::MAX`] instead of overflowing, so a policy
/// may run for any number of attempts.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_retry::{BackoffStrategy, RetryPolicy};
///
/// let policy: RetryPolicy<std::io::Error> = RetryPolicy::builder(BackoffStrategy::Fibonacci, Duration::from_millis(10))
///     .max_attempts(6)
///     .build()?;
/// let delays: Vec<_> = policy.delays().map(|d| d.as_millis()).collect();
/// assert_eq!(delays, [10, 10, 20, 30, 50]);
/// # Ok::<(), uno_retry::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackoffStrategy {
    /// The same delay before every retry.
    Constant,
    /// A delay that grows by `initial` with every retry.
    Linear,
    /// A delay that is multiplied by the factor (2 unless set) with every retry.
    Exponential,
    /// A delay that follows the Fibonacci numbers: gentler than exponential, faster
    /// than linear.
    Fibonacci,
    /// AWS's "decorrelated jitter": each delay is drawn uniformly between `initial` and
    /// three times the previous delay, then capped by `max_delay`. It is already
    /// random, so it is normally used with [`Jitter::None`].
    DecorrelatedJitter,
}

/// Randomness added to each delay so that many clients that failed together do not
/// retry together.
///
/// Jitter is applied to the strategy's delay after it has been capped by `max_delay`,
/// and the result is capped again, so no delay ever exceeds `max_delay`. The random
/// numbers come from a [`fastrand`] generator that
/// [`seed`](crate::RetryPolicyBuilder::seed) makes deterministic. Draws are whole
/// milliseconds (tokio's timer resolution) whenever the interval holds one, so a
/// run sleeps exactly the delays [`RetryPolicy::delays`](crate::RetryPolicy::delays)
/// reports; narrower intervals are drawn in nanoseconds.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_retry::{Jitter, RetryPolicy};
///
/// let policy: RetryPolicy<std::io::Error> = RetryPolicy::exponential(Duration::from_millis(100))
///     .jitter(Jitter::Equal)
///     .max_attempts(4)
///     .build()?;
/// for (retry, delay) in policy.delays().enumerate() {
///     let full = Duration::from_millis(100) * 2u32.pow(retry as u32);
///     assert!(delay >= full / 2 && delay <= full);
/// }
/// # Ok::<(), uno_retry::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// The delay is used as computed.
    #[default]
    None,
    /// "Full jitter": a uniform draw from `[0, delay]`.
    Full,
    /// "Equal jitter": half the delay plus a uniform draw from `[0, delay / 2]`.
    Equal,
}

/// Everything needed to compute the delay sequence; `Copy`, so a [`Delays`] iterator
/// can own one without borrowing the policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Schedule {
    pub(crate) strategy: BackoffStrategy,
    pub(crate) initial: Duration,
    pub(crate) factor: f64,
    pub(crate) max_delay: Option<Duration>,
    pub(crate) jitter: Jitter,
}

/// The mutable part of a delay sequence: where it is and its random numbers.
#[derive(Debug, Clone)]
pub(crate) struct DelayState {
    /// How many delays have been produced so far.
    retries: u32,
    /// The next two Fibonacci delays.
    fibonacci: (Duration, Duration),
    /// The previous decorrelated-jitter delay.
    previous: Duration,
    rng: fastrand::Rng,
}

impl Schedule {
    /// Starts a delay sequence; with a seed, every sequence draws the same numbers.
    pub(crate) fn start(&self, seed: Option<u64>) -> DelayState {
        let rng = match seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        DelayState {
            retries: 0,
            fibonacci: (self.initial, self.initial),
            previous: self.initial,
            rng,
        }
    }

    /// The delay before the next retry, jittered and capped.
    pub(crate) fn next_delay(&self, state: &mut DelayState) -> Duration {
        state.retries = state.retries.saturating_add(1);
        let retry = state.retries;
        let base = match self.strategy {
            BackoffStrategy::Constant => self.initial,
            BackoffStrategy::Linear => self.initial.saturating_mul(retry),
            BackoffStrategy::Exponential => exponential(self.initial, self.factor, retry - 1),
            BackoffStrategy::Fibonacci => {
                let (current, next) = state.fibonacci;
                state.fibonacci = (next, current.saturating_add(next));
                current
            }
            BackoffStrategy::DecorrelatedJitter => {
                let upper = state.previous.saturating_mul(3).max(self.initial);
                let delay = self.cap(uniform(&mut state.rng, self.initial, upper));
                state.previous = delay;
                delay
            }
        };
        let base = self.cap(base);
        let jittered = match self.jitter {
            Jitter::None => base,
            Jitter::Full => uniform(&mut state.rng, Duration::ZERO, base),
            Jitter::Equal => {
                let half = from_nanos(base.as_nanos() / 2);
                uniform(&mut state.rng, half, base)
            }
        };
        self.cap(jittered)
    }

    /// Applies `max_delay`, if any.
    pub(crate) fn cap(&self, delay: Duration) -> Duration {
        match self.max_delay {
            Some(max_delay) => delay.min(max_delay),
            None => delay,
        }
    }
}

/// `initial * factor^exponent`, rounded to the nanosecond and saturating.
fn exponential(initial: Duration, factor: f64, exponent: u32) -> Duration {
    // Exponents beyond i32::MAX only matter for factor 1 (which stays 1) or overflow
    // anyway, so clamping keeps the result exact where it can be.
    let exponent = i32::try_from(exponent).unwrap_or(i32::MAX);
    // A u128 of nanoseconds converts to f64 with rounding; initial delays below 2^53 ns
    // (104 days) convert exactly, so integer factors give exact products.
    #[allow(clippy::cast_precision_loss)]
    let nanos = initial.as_nanos() as f64 * factor.powi(exponent);
    from_nanos_f64(nanos)
}

/// Converts a float number of nanoseconds to a `Duration`, saturating at the ends.
fn from_nanos_f64(nanos: f64) -> Duration {
    #[allow(clippy::cast_precision_loss)]
    let max = Duration::MAX.as_nanos() as f64;
    if nanos.is_nan() || nanos <= 0.0 {
        return Duration::ZERO;
    }
    if nanos >= max {
        return Duration::MAX;
    }
    // In range and non-negative, so the cast neither wraps nor loses the sign.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    from_nanos(nanos.round() as u128)
}

/// Converts nanoseconds to a `Duration`, saturating at [`Duration::MAX`].
pub(crate) fn from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    match u64::try_from(nanos / NANOS_PER_SEC) {
        // The remainder is below one billion, so it fits in a u32.
        #[allow(clippy::cast_possible_truncation)]
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

/// A uniform draw from `[low, high]` (`low <= high`).
///
/// tokio's timer sleeps in whole milliseconds, rounding up, so the draw is made in
/// whole milliseconds whenever the interval holds one: then a run sleeps exactly the
/// delay it drew, and tests on a paused clock can assert it. Narrower intervals are
/// drawn in nanoseconds.
fn uniform(rng: &mut fastrand::Rng, low: Duration, high: Duration) -> Duration {
    const NANOS_PER_MILLI: u128 = 1_000_000;
    let (low, high) = (low.as_nanos(), high.as_nanos());
    let low_millis = low.div_ceil(NANOS_PER_MILLI);
    let high_millis = high / NANOS_PER_MILLI;
    if low_millis <= high_millis {
        return from_nanos(rng.u128(low_millis..=high_millis) * NANOS_PER_MILLI);
    }
    from_nanos(rng.u128(low..=high))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(strategy: BackoffStrategy, factor: f64) -> Schedule {
        Schedule {
            strategy,
            initial: Duration::from_secs(1),
            factor,
            max_delay: None,
            jitter: Jitter::None,
        }
    }

    #[test]
    fn huge_retry_counts_saturate_instead_of_overflowing() {
        for strategy in [
            BackoffStrategy::Constant,
            BackoffStrategy::Linear,
            BackoffStrategy::Exponential,
            BackoffStrategy::Fibonacci,
            BackoffStrategy::DecorrelatedJitter,
        ] {
            let schedule = schedule(strategy, 2.0);
            let mut state = schedule.start(Some(7));
            state.retries = u32::MAX - 2;
            state.fibonacci = (Duration::MAX, Duration::MAX);
            state.previous = Duration::MAX;
            for _ in 0..5 {
                let delay = schedule.next_delay(&mut state);
                assert!(
                    delay >= Duration::from_secs(1),
                    "{strategy:?} gave {delay:?}"
                );
            }
            assert_eq!(state.retries, u32::MAX);
        }
    }

    #[test]
    fn exponential_saturates_and_stays_exact_for_integer_factors() {
        assert_eq!(
            exponential(Duration::from_millis(100), 2.0, 3),
            Duration::from_millis(800)
        );
        assert_eq!(
            exponential(Duration::from_millis(100), 1.5, 2),
            Duration::from_millis(225)
        );
        assert_eq!(
            exponential(Duration::from_secs(1), 2.0, 10_000),
            Duration::MAX
        );
        assert_eq!(
            exponential(Duration::from_secs(1), 1.0, u32::MAX),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn draws_are_whole_milliseconds_when_the_interval_holds_one() {
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..1_000 {
            let low = Duration::from_micros(1_500);
            let high = Duration::from_micros(9_900);
            let drawn = uniform(&mut rng, low, high);
            assert!(drawn >= low && drawn <= high, "{drawn:?}");
            assert_eq!(drawn.subsec_nanos() % 1_000_000, 0, "{drawn:?}");

            let narrow = uniform(
                &mut rng,
                Duration::from_nanos(1_200),
                Duration::from_nanos(1_700),
            );
            assert!((1_200..=1_700).contains(&narrow.as_nanos()), "{narrow:?}");
        }
        let huge = uniform(&mut rng, Duration::MAX, Duration::MAX);
        assert_eq!(huge, Duration::MAX);
    }

    #[test]
    fn nanosecond_conversions_saturate() {
        assert_eq!(from_nanos(u128::MAX), Duration::MAX);
        assert_eq!(from_nanos(Duration::MAX.as_nanos()), Duration::MAX);
        assert_eq!(from_nanos_f64(f64::INFINITY), Duration::MAX);
        assert_eq!(from_nanos_f64(f64::NAN), Duration::ZERO);
        assert_eq!(from_nanos_f64(1_500_000_000.0), Duration::from_millis(1500));
    }
}
