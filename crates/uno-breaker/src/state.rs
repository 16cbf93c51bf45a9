//! The breaker's state machine: [`State`], and `Core`, which decides admissions and
//! records outcomes. It knows nothing of futures, locks or hooks: every method takes
//! the current time and returns the state change it made, if any, so the caller can run
//! the hook after releasing its lock.
//!
//! Invariants:
//! - `generation` changes with every change of state, and a ticket records its outcome
//!   only if it was admitted in the current generation, so a slow call admitted before
//!   the breaker opened cannot close it, and a late probe cannot count twice.
//! - While half-open, `in_flight + successes <= half_open_calls`: at most that many
//!   probes run at once, and the breaker closes after that many successes.
//! - Counts restart (consecutive failures, the window) on every change of state.

use std::time::Duration;

use tokio::time::Instant;

use crate::builder::Config;
use crate::window::Window;

/// The state of a [`CircuitBreaker`](crate::CircuitBreaker).
///
/// # Examples
///
/// ```
/// use uno_breaker::{CircuitBreaker, State};
///
/// let breaker: CircuitBreaker<std::io::Error> = CircuitBreaker::builder().build()?;
/// assert_eq!(breaker.state(), State::Closed);
/// # Ok::<(), uno_breaker::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls run, and their outcomes are counted against the trip rules.
    Closed,
    /// Calls are rejected with [`BreakerError::Open`](crate::BreakerError::Open) without
    /// running, until the open duration has passed.
    Open,
    /// A bounded number of probe calls run; their outcomes close the breaker or open it
    /// again. Other calls are rejected with
    /// [`BreakerError::HalfOpenBusy`](crate::BreakerError::HalfOpenBusy).
    HalfOpen,
}

/// A change of state: `(from, to)`.
pub(crate) type Change = Option<(State, State)>;

/// Why a call was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    Open { retry_after: Duration },
    HalfOpenBusy,
}

/// What an admitted call holds: the generation it was admitted in, and whether it is a
/// half-open probe (which holds a slot until it reports or is cancelled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Admission {
    generation: u64,
    probe: bool,
}

impl Admission {
    /// Whether this call holds a half-open probe slot.
    pub(crate) fn is_probe(self) -> bool {
        self.probe
    }
}

#[derive(Debug)]
pub(crate) struct Core {
    phase: Phase,
    generation: u64,
    /// Openings since the breaker last closed, minus one: how much the open duration
    /// has grown.
    reopenings: u32,
    consecutive_failures: u32,
    window: Option<Window>,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    /// Open until `until`; `None` is forever.
    Open {
        until: Option<Instant>,
    },
    HalfOpen {
        in_flight: u32,
        successes: u32,
    },
}

impl Core {
    pub(crate) fn new(config: &Config, now: Instant) -> Self {
        Self {
            phase: Phase::Closed,
            generation: 0,
            reopenings: 0,
            consecutive_failures: 0,
            window: config
                .failure_rate
                .map(|rate| Window::new(rate.window, now)),
        }
    }

    /// The state at `now`, after letting an elapsed open duration turn into half-open.
    pub(crate) fn state(&mut self, now: Instant) -> (State, Change) {
        let change = self.refresh(now);
        let state = match self.phase {
            Phase::Closed => State::Closed,
            Phase::Open { .. } => State::Open,
            Phase::HalfOpen { .. } => State::HalfOpen,
        };
        (state, change)
    }

    /// Admits a call at `now`, or says why not.
    pub(crate) fn admit(
        &mut self,
        config: &Config,
        now: Instant,
    ) -> (Result<Admission, Rejection>, Change) {
        let change = self.refresh(now);
        let generation = self.generation;
        let admission = match &mut self.phase {
            Phase::Closed => Ok(Admission {
                generation,
                probe: false,
            }),
            Phase::Open { until } => Err(open_rejection(*until, now)),
            Phase::HalfOpen {
                in_flight,
                successes,
            } => {
                if has_probe_slot(config, *in_flight, *successes) {
                    *in_flight += 1;
                    Ok(Admission {
                        generation,
                        probe: true,
                    })
                } else {
                    Err(Rejection::HalfOpenBusy)
                }
            }
        };
        (admission, change)
    }

    /// Why a call would be refused at `now`, if it would, without admitting it: no
    /// probe slot is taken. An elapsed open duration turns into half-open, as in
    /// [`state`](Self::state).
    // Used by the tower service only.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn peek(&mut self, config: &Config, now: Instant) -> (Option<Rejection>, Change) {
        let change = self.refresh(now);
        let rejection = match self.phase {
            Phase::Closed => None,
            Phase::Open { until } => Some(open_rejection(until, now)),
            Phase::HalfOpen {
                in_flight,
                successes,
            } => (!has_probe_slot(config, in_flight, successes)).then_some(Rejection::HalfOpenBusy),
        };
        (rejection, change)
    }

    /// Records the outcome of an admitted call that finished at `now`.
    pub(crate) fn record(
        &mut self,
        config: &Config,
        admission: Admission,
        failed: bool,
        now: Instant,
    ) -> Change {
        if admission.generation != self.generation {
            // Admitted in an earlier state: its outcome says nothing about this one.
            return None;
        }
        match &mut self.phase {
            Phase::Closed => {
                self.consecutive_failures = match failed {
                    true => self.consecutive_failures.saturating_add(1),
                    false => 0,
                };
                let by_count = config
                    .consecutive_failures
                    .is_some_and(|n| self.consecutive_failures >= n);
                let by_rate = match (&mut self.window, config.failure_rate) {
                    (Some(window), Some(rate)) => {
                        let totals = window.record(now, failed);
                        totals.calls >= u64::from(rate.min_calls)
                            && totals.failures > 0
                            // A division, not `ratio * calls`, so that 3 of 10 meets 0.3.
                            && totals.failures as f64 / totals.calls as f64 >= rate.ratio
                    }
                    _ => false,
                };
                match by_count || by_rate {
                    true => self.open(config, now, State::Closed),
                    false => None,
                }
            }
            Phase::HalfOpen {
                in_flight,
                successes,
            } if admission.probe => {
                *in_flight -= 1;
                if failed {
                    return self.open(config, now, State::HalfOpen);
                }
                *successes += 1;
                if *successes < config.half_open_calls {
                    return None;
                }
                self.reopenings = 0;
                self.enter(Phase::Closed);
                Some((State::HalfOpen, State::Closed))
            }
            Phase::HalfOpen { .. } | Phase::Open { .. } => None,
        }
    }

    /// Forgets an admitted call whose future was dropped before it finished: a probe
    /// gives its slot back; anything else was never counted.
    pub(crate) fn cancel(&mut self, admission: Admission) {
        if admission.generation != self.generation || !admission.probe {
            return;
        }
        if let Phase::HalfOpen { in_flight, .. } = &mut self.phase {
            *in_flight -= 1;
        }
    }

    /// Turns an elapsed open duration into half-open.
    fn refresh(&mut self, now: Instant) -> Change {
        match self.phase {
            Phase::Open { until: Some(until) } if now >= until => {
                self.enter(Phase::HalfOpen {
                    in_flight: 0,
                    successes: 0,
                });
                Some((State::Open, State::HalfOpen))
            }
            _ => None,
        }
    }

    fn open(&mut self, config: &Config, now: Instant, from: State) -> Change {
        let duration = config.open.after(self.reopenings);
        self.reopenings = self.reopenings.saturating_add(1);
        // An instant the clock cannot represent is "forever".
        let until = now.checked_add(duration);
        self.enter(Phase::Open { until });
        Some((from, State::Open))
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.generation = self.generation.wrapping_add(1);
        self.consecutive_failures = 0;
        if let Some(window) = &mut self.window {
            window.clear();
        }
    }
}

/// The refusal of a breaker open until `until` (`None`: forever), at `now`.
fn open_rejection(until: Option<Instant>, now: Instant) -> Rejection {
    Rejection::Open {
        retry_after: until.map_or(Duration::MAX, |until| until.saturating_duration_since(now)),
    }
}

/// Whether a half-open breaker with these probes can admit one more.
fn has_probe_slot(config: &Config, in_flight: u32, successes: u32) -> bool {
    // Both stay within `half_open_calls`, so the sum fits a u64.
    u64::from(in_flight) + u64::from(successes) < u64::from(config.half_open_calls)
}
