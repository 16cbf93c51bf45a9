//! What [`Shutdown::run`](crate::Shutdown::run) reports on the `metrics` facade with
//! the `metrics` feature; without it the functions here are empty and compile away.
//!
//! | name | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `uno_shutdown_phase_seconds` | histogram | `phase` | how long each phase of an exit took: `work` (from the shutdown's start until the registered work finished or was aborted) and `drains` (then until the batchers and cleanups finished or the grace period ran out) |
//! | `uno_shutdown_aborted_total` | counter | | tasks aborted when the grace period ran out |
//! | `uno_shutdown_unfinished_drains_total` | counter | | drains (batchers, cleanups) still unfinished when the grace period ran out |

use tokio::time::Instant;

/// A phase of the exit that began at `began` ended now.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn phase_ended(phase: &'static str, began: Instant) {
    #[cfg(feature = "metrics")]
    metrics::histogram!("uno_shutdown_phase_seconds", "phase" => phase)
        .record(began.elapsed().as_secs_f64());
}

/// The exit ended with `aborted` tasks aborted and `unfinished` drains unfinished.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn exit_ended(aborted: usize, unfinished: usize) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("uno_shutdown_aborted_total").increment(aborted as u64);
        metrics::counter!("uno_shutdown_unfinished_drains_total").increment(unfinished as u64);
    }
}
