//! What a [`Limiter`](crate::Limiter) and an [`AdaptiveLimiter`](crate::AdaptiveLimiter)
//! report on the `metrics` facade with the `metrics` feature. Without it a [`Meter`]
//! is empty and every method compiles away. The crate docs' "Features" list the names.
//!
//! Gauges are set from the limiter's own counts at each change (a permit taken or
//! given back, a caller starting or ending a wait, the adaptive limit moving), so
//! they never drift; under concurrent changes the last one set wins.

#[cfg(feature = "metrics")]
use std::sync::Arc;

use crate::LimitError;

/// A limiter's handle on the metrics facade: its `limiter` label.
#[derive(Clone, Default)]
pub(crate) struct Meter {
    #[cfg(feature = "metrics")]
    name: Option<Arc<str>>,
}

impl Meter {
    /// A meter labelling everything with `name` (`unnamed` without one).
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(name: Option<&std::sync::Arc<str>>) -> Self {
        Meter {
            #[cfg(feature = "metrics")]
            name: name.cloned(),
        }
    }

    #[cfg(feature = "metrics")]
    fn label(&self) -> metrics::SharedString {
        match &self.name {
            Some(name) => metrics::SharedString::from(Arc::clone(name)),
            None => metrics::SharedString::const_str("unnamed"),
        }
    }

    /// `n` permits are held now.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn in_flight(&self, n: usize) {
        #[cfg(feature = "metrics")]
        metrics::gauge!("uno_limit_in_flight", "limiter" => self.label()).set(n as f64);
    }

    /// `n` callers are waiting now.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn waiting(&self, n: usize) {
        #[cfg(feature = "metrics")]
        metrics::gauge!("uno_limit_waiting", "limiter" => self.label()).set(n as f64);
    }

    /// The limit is `n` now.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn limit(&self, n: usize) {
        #[cfg(feature = "metrics")]
        metrics::gauge!("uno_limit_limit", "limiter" => self.label()).set(n as f64);
    }

    /// A caller was admitted.
    pub(crate) fn acquired(&self) {
        #[cfg(feature = "metrics")]
        metrics::counter!("uno_limit_acquired_total", "limiter" => self.label()).increment(1);
    }

    /// A caller was refused with `error`.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn rejected(&self, error: &LimitError) {
        #[cfg(feature = "metrics")]
        {
            let reason = match error {
                LimitError::Closed => "closed",
                LimitError::Full { .. } => "full",
                LimitError::Timeout { .. } => "timeout",
                LimitError::Limited { .. } => "limited",
                LimitError::DeadlinePassed => "deadline",
                _ => "other",
            };
            metrics::counter!("uno_limit_rejected_total", "limiter" => self.label(), "reason" => reason)
                .increment(1);
        }
    }

    /// Reports `result`: an admission, or a refusal.
    pub(crate) fn admitted<P>(&self, result: Result<P, LimitError>) -> Result<P, LimitError> {
        match &result {
            Ok(_) => self.acquired(),
            Err(error) => self.rejected(error),
        }
        result
    }
}
