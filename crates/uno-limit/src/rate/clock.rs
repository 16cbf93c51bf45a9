//! Where a rate limiter reads the time.

use std::time::Duration;

/// The clock a [`RateLimiter`](crate::RateLimiter) or
/// [`KeyedRateLimiter`](crate::KeyedRateLimiter) reads the time from.
///
/// The default, [`Tokio`](Self::Tokio), follows `tokio::time::pause()` and
/// `advance()`, so tests of rate-limited code run exactly and instantly, like every
/// other uno pattern. Reading it costs what `std::time::Instant::now()` costs (about
/// 24 ns on our benchmark machine), which is most of an uncontended `try_acquire`.
///
/// With the `quanta` feature, [`Quanta`](Self::Quanta) reads the CPU's time-stamp
/// counter through the `quanta` crate (about 10 ns there, the clock `governor` uses by
/// default). It does not follow tokio's paused time: use it where a rate check sits
/// on a hot path, and keep the default in code whose tests pause time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RateClock {
    /// tokio's clock (`tokio::time::Instant`): exact under paused time.
    #[default]
    Tokio,
    /// The time-stamp counter, through `quanta` (feature `quanta`): faster, but blind
    /// to tokio's paused time.
    #[cfg(feature = "quanta")]
    #[cfg_attr(docsrs, doc(cfg(feature = "quanta")))]
    Quanta,
}

/// A started clock: nanoseconds since the limiter was built.
#[derive(Debug, Clone)]
pub(crate) enum Clock {
    Tokio(tokio::time::Instant),
    #[cfg(feature = "quanta")]
    /// The clock and its raw counter reading at start.
    Quanta(quanta::Clock, u64),
}

impl Clock {
    pub(crate) fn new(kind: RateClock) -> Self {
        match kind {
            RateClock::Tokio => Clock::Tokio(tokio::time::Instant::now()),
            #[cfg(feature = "quanta")]
            RateClock::Quanta => {
                let clock = quanta::Clock::new();
                let start = clock.raw();
                Clock::Quanta(clock, start)
            }
        }
    }

    /// Nanoseconds since the clock started (saturating after 584 years).
    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self {
            Clock::Tokio(start) => {
                nanos(tokio::time::Instant::now().saturating_duration_since(*start))
            }
            #[cfg(feature = "quanta")]
            Clock::Quanta(clock, start) => clock.delta_as_nanos(*start, clock.raw()),
        }
    }

    pub(crate) fn kind(&self) -> RateClock {
        match self {
            Clock::Tokio(_) => RateClock::Tokio,
            #[cfg(feature = "quanta")]
            Clock::Quanta(..) => RateClock::Quanta,
        }
    }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX`.
#[inline]
fn nanos(duration: Duration) -> u64 {
    duration
        .as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(duration.subsec_nanos()))
}
