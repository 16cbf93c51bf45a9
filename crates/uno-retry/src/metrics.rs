//! What a run reports on the `metrics` facade with the `metrics` feature; without it
//! every function here is empty and compiles away.
//!
//! | name | kind | labels | counts |
//! | --- | --- | --- | --- |
//! | `uno_retry_attempts_total` | counter | `policy` | calls of the operation, the first included |
//! | `uno_retry_retries_total` | counter | `policy` | retries scheduled (a delay was chosen) |
//! | `uno_retry_give_ups_total` | counter | `policy`, `reason` | runs that ended on an outcome worth retrying, or on an error `retry_if` refused |
//!
//! `policy` is the name given with [`RetryPolicyBuilder::name`](crate::RetryPolicyBuilder::name),
//! or `unnamed`. `reason` is one of [`GiveUp`]'s labels.

use crate::policy::RetryPolicy;

/// Why a run stopped without a kept outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GiveUp {
    MaxAttempts,
    MaxElapsed,
    Deadline,
    Budget,
    NotRetryable,
}

impl GiveUp {
    /// The `reason` label.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn label(self) -> &'static str {
        match self {
            GiveUp::MaxAttempts => "max_attempts",
            GiveUp::MaxElapsed => "max_elapsed",
            GiveUp::Deadline => "deadline",
            GiveUp::Budget => "budget",
            GiveUp::NotRetryable => "not_retryable",
        }
    }

    /// What the `tracing` event says.
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn message(self) -> &'static str {
        match self {
            GiveUp::MaxAttempts => "max_attempts reached",
            GiveUp::MaxElapsed => "max_elapsed would be exceeded",
            GiveUp::Deadline => "the caller's deadline would pass",
            GiveUp::Budget => "retry budget spent",
            GiveUp::NotRetryable => "the error is not retryable",
        }
    }
}

#[cfg(feature = "metrics")]
fn policy_label<E>(policy: &RetryPolicy<E>) -> metrics::SharedString {
    match &policy.name {
        Some(name) => metrics::SharedString::from(std::sync::Arc::clone(name)),
        None => metrics::SharedString::const_str("unnamed"),
    }
}

/// An attempt is about to call the operation.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn attempt<E>(policy: &RetryPolicy<E>) {
    #[cfg(feature = "metrics")]
    metrics::counter!("uno_retry_attempts_total", "policy" => policy_label(policy)).increment(1);
}

/// A retry was scheduled.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn retry<E>(policy: &RetryPolicy<E>) {
    #[cfg(feature = "metrics")]
    metrics::counter!("uno_retry_retries_total", "policy" => policy_label(policy)).increment(1);
}

/// The run gave up.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn give_up<E>(policy: &RetryPolicy<E>, reason: GiveUp) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "uno_retry_give_ups_total",
        "policy" => policy_label(policy),
        "reason" => reason.label()
    )
    .increment(1);
}
