//! The sliding time window of the failure-rate rule: call and failure counts of the
//! last `window`, kept in a fixed ring of buckets so that recording a call never
//! allocates and costs the same however many calls the window holds.
//!
//! Invariants: a bucket with `calls == 0` is empty whatever its `index`; a non-empty
//! bucket's `index` is the absolute number of the time slice it counts, and it counts
//! only while that slice is one of the last `BUCKETS` slices.

use tokio::time::Instant;

/// How many slices the window is cut into: a call stops counting between
/// `(BUCKETS - 1) / BUCKETS` of the window and the whole window after it was recorded.
const BUCKETS: usize = 10;

#[derive(Debug, Clone)]
pub(crate) struct Window {
    epoch: Instant,
    /// The length of one slice in nanoseconds, at least 1.
    slice_nanos: u128,
    buckets: [Bucket; BUCKETS],
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    index: u128,
    calls: u64,
    failures: u64,
}

/// What a window holds after recording a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
}

impl Window {
    pub(crate) fn new(window: std::time::Duration, epoch: Instant) -> Self {
        Self {
            epoch,
            slice_nanos: window.as_nanos().div_ceil(BUCKETS as u128).max(1),
            buckets: [Bucket::default(); BUCKETS],
        }
    }

    /// Records one call that finished at `now`, and returns the counts of the window.
    pub(crate) fn record(&mut self, now: Instant, failed: bool) -> Totals {
        let current = now.saturating_duration_since(self.epoch).as_nanos() / self.slice_nanos;
        // `current % BUCKETS` is below BUCKETS, so it fits a usize.
        let slot = (current % BUCKETS as u128) as usize;
        let bucket = &mut self.buckets[slot];
        if bucket.calls == 0 || bucket.index != current {
            *bucket = Bucket {
                index: current,
                calls: 0,
                failures: 0,
            };
        }
        bucket.calls = bucket.calls.saturating_add(1);
        if failed {
            bucket.failures = bucket.failures.saturating_add(1);
        }
        let mut totals = Totals {
            calls: 0,
            failures: 0,
        };
        for bucket in &self.buckets {
            let live = bucket.calls > 0 && current.saturating_sub(bucket.index) < BUCKETS as u128;
            if live {
                totals.calls = totals.calls.saturating_add(bucket.calls);
                totals.failures = totals.failures.saturating_add(bucket.failures);
            }
        }
        totals
    }

    /// Forgets every call.
    pub(crate) fn clear(&mut self) {
        self.buckets = [Bucket::default(); BUCKETS];
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn calls_older_than_the_window_stop_counting() {
        let epoch = Instant::now();
        let mut window = Window::new(Duration::from_secs(10), epoch);
        window.record(epoch, true);
        let totals = window.record(epoch + Duration::from_secs(9), false);
        assert_eq!(
            totals,
            Totals {
                calls: 2,
                failures: 1
            }
        );
        // The first call's slice (0..1 s) has left the window 10 s after it began.
        let totals = window.record(epoch + Duration::from_secs(10), false);
        assert_eq!(
            totals,
            Totals {
                calls: 2,
                failures: 0
            }
        );
    }

    #[test]
    fn a_window_too_long_for_the_clock_never_forgets() {
        let epoch = Instant::now();
        let mut window = Window::new(Duration::MAX, epoch);
        window.record(epoch, true);
        let later = epoch + Duration::from_secs(100 * 365 * 24 * 3600);
        assert_eq!(
            window.record(later, true),
            Totals {
                calls: 2,
                failures: 2
            }
        );
    }

    #[test]
    fn a_window_of_a_few_nanoseconds_still_counts_the_current_call() {
        let epoch = Instant::now();
        let mut window = Window::new(Duration::from_nanos(1), epoch);
        window.record(epoch, true);
        let totals = window.record(epoch + Duration::from_secs(1), true);
        assert_eq!(
            totals,
            Totals {
                calls: 1,
                failures: 1
            }
        );
    }
}
