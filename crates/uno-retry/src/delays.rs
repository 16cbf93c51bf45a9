//! The public iterator over a policy's delay sequence.

use std::time::Duration;

use crate::strategy::{DelayState, Schedule};

/// The delays a policy waits between attempts, in order: the first item is the wait
/// after the first failed call.
///
/// It yields `max_attempts - 1` delays, or never ends for a policy with
/// [`unlimited_attempts`](crate::RetryPolicyBuilder::unlimited_attempts). It follows the
/// strategy, jitter and `max_delay` exactly as a run does, but knows nothing of
/// errors: [`delay_hint`](crate::RetryPolicyBuilder::delay_hint), `max_elapsed` and the
/// retry budget only apply while running. A seeded policy yields the same sequence
/// every time; an unseeded one draws fresh jitter for each iterator.
///
/// With the `backoff` feature, `Delays` also implements the `backoff` crate's
/// `Backoff` trait, for code written against that crate.
///
/// Created by [`RetryPolicy::delays`](crate::RetryPolicy::delays).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_retry::RetryPolicy;
///
/// let policy: RetryPolicy<std::io::Error> = RetryPolicy::exponential(Duration::from_millis(100))
///     .max_attempts(5)
///     .max_delay(Duration::from_millis(500))
///     .build()?;
/// let delays: Vec<_> = policy.delays().map(|d| d.as_millis()).collect();
/// assert_eq!(delays, [100, 200, 400, 500]);
/// # Ok::<(), uno_retry::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Delays {
    schedule: Schedule,
    seed: Option<u64>,
    state: DelayState,
    /// Delays left to yield; `None` for a policy without an attempt limit.
    remaining: Option<u32>,
    limit: Option<u32>,
}

impl Delays {
    pub(crate) fn new(schedule: Schedule, seed: Option<u64>, max_attempts: Option<u32>) -> Self {
        let limit = max_attempts.map(|attempts| attempts.saturating_sub(1));
        Self {
            schedule,
            seed,
            state: schedule.start(seed),
            remaining: limit,
            limit,
        }
    }

    /// Starts the sequence over, as a new run of the policy would.
    pub fn reset(&mut self) {
        self.state = self.schedule.start(self.seed);
        self.remaining = self.limit;
    }
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if let Some(remaining) = &mut self.remaining {
            if *remaining == 0 {
                return None;
            }
            *remaining -= 1;
        }
        Some(self.schedule.next_delay(&mut self.state))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.remaining {
            Some(remaining) => {
                let remaining = usize::try_from(remaining).unwrap_or(usize::MAX);
                (remaining, Some(remaining))
            }
            None => (usize::MAX, None),
        }
    }
}

impl std::iter::FusedIterator for Delays {}

#[cfg(feature = "backoff")]
impl backoff::backoff::Backoff for Delays {
    fn reset(&mut self) {
        Delays::reset(self);
    }

    fn next_backoff(&mut self) -> Option<Duration> {
        self.next()
    }
}
