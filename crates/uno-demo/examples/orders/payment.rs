//! The simulated payment service: slow, flaky, and slower still past a concurrency knee.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use uno::resource::AsyncResource;

/// Why a charge failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PaymentError {
    /// A transient failure (timeout, 503): worth retrying.
    #[error("payment service unavailable, try again")]
    Unavailable,
    /// The card was declined: retrying cannot help.
    #[error("card declined")]
    Declined,
    /// The client was used after it was closed.
    #[error("payment client is closed")]
    Closed,
}

impl PaymentError {
    /// Whether another attempt may succeed.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(self, PaymentError::Unavailable)
    }
}

/// How the simulated service behaves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Behaviour {
    /// Probability that one call fails transiently.
    pub(crate) fail_rate: f64,
    /// Mean latency of one call below the knee.
    pub(crate) latency: Duration,
    /// Concurrent calls the service handles before latency starts to climb.
    pub(crate) knee: usize,
}

/// The payment client: a managed resource (connect on initialize, disconnect on cleanup).
#[derive(Debug, Clone)]
pub(crate) struct PaymentClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    behaviour: Behaviour,
    rng: std::sync::Mutex<fastrand::Rng>,
    in_flight: AtomicUsize,
    calls: AtomicU64,
    open: std::sync::atomic::AtomicBool,
}

impl PaymentClient {
    /// A client for a service that behaves as `behaviour`, with seeded randomness.
    pub(crate) fn new(behaviour: Behaviour, seed: u64) -> Self {
        PaymentClient {
            inner: Arc::new(Inner {
                behaviour,
                rng: std::sync::Mutex::new(fastrand::Rng::with_seed(seed)),
                in_flight: AtomicUsize::new(0),
                calls: AtomicU64::new(0),
                open: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Calls made so far.
    pub(crate) fn calls(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// Charges `amount_cents` for `order`, returning a receipt number.
    pub(crate) async fn charge(&self, order: i64, amount_cents: i64) -> Result<i64, PaymentError> {
        if !self.inner.open.load(Ordering::Acquire) {
            return Err(PaymentError::Closed);
        }
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        let in_flight = self.inner.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        let _leave = Leave(&self.inner.in_flight);
        let behaviour = self.inner.behaviour;
        let (jitter, roll, decline_roll) = {
            let mut rng = self.inner.rng.lock().expect("rng lock");
            (rng.f64(), rng.f64(), rng.f64())
        };
        // Past the knee each extra call in flight adds a quarter of the base latency:
        // queueing inside the service.
        let overload = in_flight.saturating_sub(behaviour.knee) as f64 / 4.0;
        let latency = behaviour.latency.mul_f64((0.5 + jitter) * (1.0 + overload));
        tokio::time::sleep(latency).await;
        if roll < behaviour.fail_rate {
            return Err(PaymentError::Unavailable);
        }
        if decline_roll < behaviour.fail_rate / 20.0 {
            return Err(PaymentError::Declined);
        }
        Ok(order * 1_000_003 % 998_244_353 + amount_cents)
    }
}

struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl AsyncResource for PaymentClient {
    type Error = PaymentError;

    async fn initialize(&mut self) -> Result<(), PaymentError> {
        // A real client would open its connection pool here.
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.inner.open.store(true, Ordering::Release);
        Ok(())
    }

    async fn cleanup(&mut self) -> Result<(), PaymentError> {
        self.inner.open.store(false, Ordering::Release);
        Ok(())
    }
}
