//! What a breaker reports on the `metrics` facade with the `metrics` feature; without
//! it every function here is empty and compiles away. The crate docs' "Features"
//! list the names.

use crate::builder::Config;
use crate::state::{Rejection, State};

#[cfg(feature = "metrics")]
fn breaker_label(config: &Config) -> metrics::SharedString {
    match &config.name {
        Some(name) => metrics::SharedString::from(std::sync::Arc::clone(name)),
        None => metrics::SharedString::const_str("unnamed"),
    }
}

/// The `state` and `from`/`to` labels, and the gauge's value.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn state_label(state: State) -> (&'static str, f64) {
    match state {
        State::Closed => ("closed", 0.0),
        State::Open => ("open", 1.0),
        State::HalfOpen => ("half_open", 2.0),
    }
}

/// The breaker starts closed.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn created(config: &Config) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("uno_breaker_state", "breaker" => breaker_label(config)).set(0.0);
}

/// The breaker went from `from` to `to`.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn changed(config: &Config, from: State, to: State) {
    #[cfg(feature = "metrics")]
    {
        let breaker = breaker_label(config);
        let ((from, _), (to, value)) = (state_label(from), state_label(to));
        metrics::gauge!("uno_breaker_state", "breaker" => breaker.clone()).set(value);
        metrics::counter!(
            "uno_breaker_transitions_total",
            "breaker" => breaker,
            "from" => from,
            "to" => to
        )
        .increment(1);
    }
}

/// A call was refused without running.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn rejected(config: &Config, rejection: Rejection) {
    #[cfg(feature = "metrics")]
    {
        let state = match rejection {
            Rejection::Open { .. } => "open",
            Rejection::HalfOpenBusy => "half_open",
        };
        metrics::counter!("uno_breaker_rejected_total", "breaker" => breaker_label(config), "state" => state)
            .increment(1);
    }
}

/// An admitted call finished.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn finished(config: &Config, failed: bool) {
    #[cfg(feature = "metrics")]
    {
        let outcome = if failed { "failure" } else { "success" };
        metrics::counter!("uno_breaker_calls_total", "breaker" => breaker_label(config), "outcome" => outcome)
            .increment(1);
    }
}
