//! The generic cell rate algorithm on nanosecond timestamps.

use std::time::Duration;

use crate::BuildError;

/// The longest span a burst may cover: a century, far inside `u64` nanoseconds
/// (584 years), so timestamps never overflow while a process lives.
const MAX_SPAN_NANOS: u64 = 100 * 365 * 24 * 60 * 60 * 1_000_000_000;

/// A rate as GCRA sees it: one call per `interval`, with `tolerance` of slack that
/// lets a burst through after an idle spell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gcra {
    /// Nanoseconds between two calls at the steady rate (at least 1).
    interval: u64,
    /// `interval * (burst - 1)`: how far ahead of now the schedule may run.
    tolerance: u64,
}

impl Gcra {
    /// Checks a rate of `count` calls per `period` with bursts of `burst`.
    pub(crate) fn new(count: u32, period: Duration, burst: u32) -> Result<Self, BuildError> {
        let invalid = |reason| Err(BuildError::InvalidConfig { reason });
        if count == 0 {
            return invalid(
                "a rate of 0 calls per period admits nothing; use a count of at least 1",
            );
        }
        if period.is_zero() {
            return invalid("a rate period of zero means no limit; use a period above zero");
        }
        if burst == 0 {
            return invalid("a burst of 0 admits nothing; use a burst of at least 1");
        }
        let interval = period.as_nanos() / u128::from(count);
        if interval == 0 {
            return invalid(
                "the rate is above one call per nanosecond, finer than the clock; lower the count or lengthen the period",
            );
        }
        let span = interval.saturating_mul(u128::from(burst));
        if span > u128::from(MAX_SPAN_NANOS) {
            return invalid(
                "the rate period times the burst spans more than a century; use a shorter period or a smaller burst",
            );
        }
        // Both fit: interval <= span <= MAX_SPAN_NANOS < u64::MAX.
        let interval = u64::try_from(interval).unwrap_or(MAX_SPAN_NANOS);
        Ok(Gcra {
            interval,
            tolerance: interval * u64::from(burst - 1),
        })
    }

    /// Admits a call at `now` on the schedule `tat` (the theoretical arrival time of
    /// the next call): the new schedule, or the nanoseconds until a call conforms.
    #[inline]
    pub(crate) fn admit(self, tat: u64, now: u64) -> Result<u64, u64> {
        let earliest = tat.saturating_sub(self.tolerance);
        if earliest > now {
            Err(earliest - now)
        } else {
            Ok(tat.max(now).saturating_add(self.interval))
        }
    }

    /// Nanoseconds until a call would conform at `now` on the schedule `tat` (0 when
    /// one conforms now).
    pub(crate) fn wait(self, tat: u64, now: u64) -> u64 {
        self.admit(tat, now).err().unwrap_or(0)
    }

    /// Nanoseconds that `calls` calls take at the steady rate.
    pub(crate) fn span(self, calls: usize) -> u64 {
        self.interval
            .saturating_mul(u64::try_from(calls).unwrap_or(u64::MAX))
    }

    /// Whether a schedule `tat` is as good as a fresh one at `now`: a key in that state
    /// can be forgotten without changing what it admits next.
    pub(crate) fn is_idle(tat: u64, now: u64) -> bool {
        tat <= now
    }

    pub(crate) fn interval(self) -> Duration {
        Duration::from_nanos(self.interval)
    }

    pub(crate) fn burst(self) -> u32 {
        // tolerance / interval == burst - 1, and the burst came in as a u32.
        u32::try_from(self.tolerance / self.interval + 1).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let gcra = Gcra::new(10, Duration::from_secs(1), 3).unwrap();
        let ms = 1_000_000;
        let mut tat = 0;
        for _ in 0..3 {
            tat = gcra.admit(tat, 0).unwrap();
        }
        assert_eq!(gcra.admit(tat, 0), Err(100 * ms));
        assert_eq!(gcra.admit(tat, 99 * ms), Err(ms));
        tat = gcra.admit(tat, 100 * ms).unwrap();
        assert_eq!(gcra.admit(tat, 100 * ms), Err(100 * ms));
        assert_eq!(gcra.burst(), 3);
        assert_eq!(gcra.interval(), Duration::from_millis(100));
    }

    #[test]
    fn extreme_settings_are_refused_or_exact() {
        assert!(Gcra::new(u32::MAX, Duration::from_secs(1), 1).is_err());
        assert!(Gcra::new(1, Duration::MAX, 1).is_err());
        assert!(Gcra::new(1, Duration::from_secs(3600), u32::MAX).is_err());
        assert!(Gcra::new(1, Duration::from_nanos(1), 1).is_ok());
        let fine = Gcra::new(1, Duration::from_nanos(1), u32::MAX).unwrap();
        assert_eq!(fine.burst(), u32::MAX);
        // The far future saturates instead of wrapping.
        assert_eq!(
            fine.admit(u64::MAX, 0),
            Err(u64::MAX - u64::from(u32::MAX - 1))
        );
    }
}
