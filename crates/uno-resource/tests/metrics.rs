//! The `metrics` feature: a pool's size, idle and waiting gauges follow acquires,
//! waits (cancelled ones included) and returns, and exhaustion is counted.
#![cfg(feature = "metrics")]

use std::convert::Infallible;
use std::time::Duration;

use uno_resource::{AsyncResource, Error, ResourcePool};
use uno_testkit::metrics::recorded_paused;

struct Connection;

impl AsyncResource for Connection {
    type Error = Infallible;
    async fn initialize(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
    async fn cleanup(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

#[test]
fn the_gauges_follow_acquires_waits_and_returns() {
    let (metrics, held, _runtime) = recorded_paused(async {
        let pool = ResourcePool::builder(|| Connection)
            .name("db")
            .max_size(2)
            .acquire_timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        assert_eq!(pool.name(), Some("db"));
        let first = pool.acquire().await.unwrap();
        let second = pool.acquire().await.unwrap();
        drop(second);
        let second = pool.acquire().await.unwrap();
        // Exhausted: a waiter that times out is counted, and leaves the queue.
        assert!(matches!(
            pool.acquire().await,
            Err(Error::AcquireTimeout(_))
        ));
        // A waiter cancelled mid-wait leaves the gauge as it found it.
        let cancelled = tokio::time::timeout(Duration::from_millis(10), pool.acquire()).await;
        assert!(cancelled.is_err());
        drop(second);
        (pool, first)
    });
    assert_eq!(metrics.gauge("uno_pool_size{pool=db}"), Some(2.0));
    assert_eq!(metrics.gauge("uno_pool_idle{pool=db}"), Some(1.0));
    assert_eq!(metrics.gauge("uno_pool_waiting{pool=db}"), Some(0.0));
    assert_eq!(
        metrics.counter("uno_pool_acquire_timeouts_total{pool=db}"),
        1
    );
    drop(held);
}

#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "the waiter is a bare task so that it is still waiting when the metrics are read"
)]
fn a_waiting_caller_shows_in_the_gauge() {
    let (metrics, held, _runtime) = recorded_paused(async {
        let pool = ResourcePool::builder(|| Connection)
            .max_size(1)
            .build()
            .unwrap();
        let only = pool.acquire().await.unwrap();
        let other = pool.clone();
        let waiter = tokio::spawn(async move { other.acquire().await.map(drop) });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        (pool, only, waiter)
    });
    assert_eq!(metrics.gauge("uno_pool_waiting{pool=unnamed}"), Some(1.0));
    assert_eq!(metrics.gauge("uno_pool_idle{pool=unnamed}"), Some(0.0));
    drop(held);
}
