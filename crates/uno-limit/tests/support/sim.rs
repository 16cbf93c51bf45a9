//! A simulated backend whose latency rises once its concurrency passes a knee, and a
//! closed-loop load that drives an [`AdaptiveLimiter`] against it. Shared by the
//! convergence tests and the `adaptive_plot` example (which includes this file), so
//! the committed plot comes from the code the tests check.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use uno_limit::AdaptiveLimiter;

/// The simulated world.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Simulation {
    /// Up to this many concurrent calls the backend answers in `base_latency`.
    pub(crate) knee: usize,
    /// The latency of an unloaded backend.
    pub(crate) base_latency: Duration,
    /// Callers that each send one request after another.
    pub(crate) clients: usize,
    /// How long the load runs (virtual time).
    pub(crate) duration: Duration,
    /// How often the limit is recorded.
    pub(crate) sample_every: Duration,
}

impl Default for Simulation {
    fn default() -> Self {
        Simulation {
            knee: 20,
            base_latency: Duration::from_millis(10),
            clients: 100,
            duration: Duration::from_secs(20),
            sample_every: Duration::from_millis(100),
        }
    }
}

/// The backend: past `knee` concurrent calls it queues, so latency grows in
/// proportion to the load (`base * in_flight / knee`), as a server with `knee`
/// workers does.
struct Backend {
    knee: usize,
    base_latency: Duration,
    in_flight: AtomicUsize,
}

impl Backend {
    async fn call(&self) {
        let in_flight = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let load = (in_flight as f64 / self.knee as f64).max(1.0);
        tokio::time::sleep(self.base_latency.mul_f64(load)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs the load and returns the limit over time: `(virtual seconds, limit)`.
///
/// Must run on a runtime with paused time (virtual time makes it deterministic and
/// instant).
pub(crate) async fn run(limiter: AdaptiveLimiter, simulation: Simulation) -> Vec<(f64, usize)> {
    let backend = Arc::new(Backend {
        knee: simulation.knee,
        base_latency: simulation.base_latency,
        in_flight: AtomicUsize::new(0),
    });
    let start = Instant::now();
    let end = start + simulation.duration;
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..simulation.clients {
        let limiter = limiter.clone();
        let backend = backend.clone();
        clients.spawn(async move {
            while Instant::now() < end {
                let permit = limiter.acquire().await.expect("the limiter stays open");
                backend.call().await;
                permit.success();
            }
        });
    }
    let mut history = vec![(0.0, limiter.limit())];
    let mut ticks =
        tokio::time::interval_at(start + simulation.sample_every, simulation.sample_every);
    while Instant::now() < end {
        ticks.tick().await;
        history.push((start.elapsed().as_secs_f64(), limiter.limit()));
    }
    while let Some(client) = clients.join_next().await {
        client.expect("a client panicked");
    }
    history
}

/// The mean limit over the second half of the run, when it has settled.
#[allow(dead_code)] // The plot example does not use it.
pub(crate) fn settled_limit(history: &[(f64, usize)]) -> f64 {
    let tail = &history[history.len() / 2..];
    tail.iter().map(|&(_, limit)| limit as f64).sum::<f64>() / tail.len() as f64
}
