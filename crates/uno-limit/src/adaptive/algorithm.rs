//! What an [`AdaptiveLimiter`](super::AdaptiveLimiter) learns from: each operation's
//! [`Sample`] (when it started, how long it took, how many ran beside it, its
//! [`Outcome`]), and the [`LimitAlgorithm`] that turns samples into a limit.

use std::time::Duration;

use tokio::time::Instant;

#[cfg(doc)]
use super::{AdaptiveLimiter, Aimd, Gradient2};

/// How one operation run under an [`AdaptiveLimiter`] ended, as its caller reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The operation succeeded; its latency is a clean measurement.
    Success,
    /// The operation failed with an error that says the backend is struggling (an
    /// overload error, a 503).
    Failure,
    /// The operation was dropped: it timed out or the backend shed it.
    Dropped,
}

/// One measurement handed to a [`LimitAlgorithm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    started: Instant,
    latency: Duration,
    in_flight: usize,
    outcome: Outcome,
}

impl Sample {
    /// Creates a sample, for testing or driving an algorithm by hand.
    pub fn new(started: Instant, latency: Duration, in_flight: usize, outcome: Outcome) -> Self {
        Sample {
            started,
            latency,
            in_flight,
            outcome,
        }
    }

    /// When the operation got its permit (tokio's clock, so paused time applies).
    pub fn started(&self) -> Instant {
        self.started
    }

    /// How long the operation held its permit.
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// How many permits were held, this one included, when the operation started.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// How the operation ended.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }
}

/// An algorithm that turns [`Sample`]s into a concurrency limit.
///
/// [`Aimd`] and [`Gradient2`] are provided; implement this trait for others (Vegas,
/// for example). Calls are serialised by the limiter, so `update` may keep state.
pub trait LimitAlgorithm: Send + 'static {
    /// The limit to start with.
    fn initial_limit(&self) -> usize;

    /// Takes one sample and returns the new limit. The limiter clamps the result to at
    /// least 1.
    ///
    /// # Panics
    ///
    /// If it panics, the limiter keeps its current limit (the permit being reported
    /// still counts against it), and the panic resumes in the call that reported the
    /// outcome (`AdaptivePermit::success` and its siblings, or `AdaptiveLimiter::run`).
    fn update(&mut self, sample: &Sample) -> usize;
}

/// A limit kept as a float, as the algorithms compute it, made a whole limit within
/// `min..=max`. The float-to-int cast saturates, so it cannot wrap. Above 2^53 an f64
/// cannot hold every integer and the bounds themselves round when converted, so the
/// clamp on integers keeps the limit exactly within `min..=max`.
pub(super) fn within(limit: f64, min: usize, max: usize) -> usize {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let limit = limit as usize;
    limit.clamp(min, max)
}

/// The setters of the bounds every algorithm's builder has (`initial_limit`,
/// `min_limit`, `max_limit`, with the defaults `Aimd` and `Gradient2` share), for a
/// builder with fields of those names.
macro_rules! bound_setters {
    () => {
        /// The limit to start with (default 20).
        pub fn initial_limit(mut self, limit: usize) -> Self {
            self.initial_limit = limit;
            self
        }

        /// The lowest the limit may go (default 1).
        pub fn min_limit(mut self, limit: usize) -> Self {
            self.min_limit = limit;
            self
        }

        /// The highest the limit may go (default 200).
        pub fn max_limit(mut self, limit: usize) -> Self {
            self.max_limit = limit;
            self
        }
    };
}
