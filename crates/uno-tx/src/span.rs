//! The `transaction` span of the `tracing` feature, and a no-op stand-in without it.

use std::future::Future;

/// One span per transaction (per `run`, across its attempts), with the backend and
/// the number of the attempt in progress.
///
/// The span is held and recorded on directly rather than found through
/// `Span::current()`, which depends on the subscriber tracking the current span.
#[derive(Debug, Clone)]
pub(crate) struct TransactionSpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl TransactionSpan {
    pub(crate) fn new(backend: &'static str) -> Self {
        #[cfg(not(feature = "tracing"))]
        let _ = backend;
        TransactionSpan {
            #[cfg(feature = "tracing")]
            span: tracing::debug_span!("transaction", backend, attempt = 1_u32),
        }
    }

    /// Records that attempt number `attempt` (1 for the first) is starting.
    #[cfg(feature = "retry")]
    pub(crate) fn record_attempt(&self, attempt: u32) {
        #[cfg(feature = "tracing")]
        self.span.record("attempt", attempt);
        #[cfg(not(feature = "tracing"))]
        let _ = attempt;
    }

    /// Runs `future` inside the span.
    pub(crate) fn instrument<F: Future>(
        &self,
        future: F,
    ) -> impl Future<Output = F::Output> + use<F> {
        #[cfg(feature = "tracing")]
        let future = tracing::Instrument::instrument(future, self.span.clone());
        future
    }
}
