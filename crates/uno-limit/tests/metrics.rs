//! The `metrics` feature: the in-flight, waiting and limit gauges follow the limiter's
//! own counts (cancellation included), and admissions and refusals are counted by
//! reason, for `Limiter` and `AdaptiveLimiter`.
#![cfg(feature = "metrics")]

use std::time::Duration;

use uno_limit::{AdaptiveLimiter, Aimd, FullPolicy, LimitError, Limiter};
use uno_testkit::metrics::recorded_paused;

#[test]
fn a_limiter_reports_what_is_in_flight_waiting_admitted_and_refused() {
    let (metrics, (), _runtime) = recorded_paused(async {
        let limiter = Limiter::builder().limit(2).name("api").build().unwrap();
        assert_eq!(limiter.name(), Some("api"));
        let first = limiter.acquire().await.unwrap();
        let second = limiter.try_acquire().unwrap();
        // Full: a refusal to wait, and a wait that times out.
        assert_eq!(
            limiter.try_acquire().unwrap_err(),
            LimitError::Full { limit: 2 }
        );
        let timeout = Duration::from_millis(5);
        assert_eq!(
            limiter.acquire_timeout(timeout).await.unwrap_err(),
            LimitError::Timeout { timeout }
        );
        // A waiter, cancelled: the waiting gauge goes back to 0.
        let waiting = tokio::time::timeout(timeout, limiter.acquire()).await;
        assert!(waiting.is_err());
        drop(second);
        // `run` holds a permit while the work runs, and gives it back.
        assert_eq!(limiter.run(async { 7 }).await.unwrap(), 7);
        drop(first);
    });
    assert_eq!(metrics.counter("uno_limit_acquired_total{limiter=api}"), 3);
    assert_eq!(
        metrics.counter("uno_limit_rejected_total{limiter=api,reason=full}"),
        1
    );
    assert_eq!(
        metrics.counter("uno_limit_rejected_total{limiter=api,reason=timeout}"),
        1
    );
    assert_eq!(metrics.gauge("uno_limit_in_flight{limiter=api}"), Some(0.0));
    assert_eq!(metrics.gauge("uno_limit_waiting{limiter=api}"), Some(0.0));
    assert_eq!(metrics.gauge("uno_limit_limit{limiter=api}"), Some(2.0));
}

#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "the waiters are bare tasks so that one can be aborted and one left waiting"
)]
fn the_gauges_show_a_full_limiter_with_a_queue() {
    let (metrics, _held, _runtime) = recorded_paused(async {
        let limiter = Limiter::builder().limit(1).build().unwrap();
        let held = limiter.acquire().await.unwrap();
        let queued = limiter.clone();
        let waiter = tokio::spawn(async move { queued.acquire().await.map(drop) });
        tokio::task::yield_now().await;
        assert_eq!(limiter.waiting(), 1);
        waiter.abort();
        let _ = waiter.await;
        let again = limiter.clone();
        let still_waiting = tokio::spawn(async move { again.acquire().await.map(drop) });
        tokio::task::yield_now().await;
        (held, still_waiting)
    });
    assert_eq!(
        metrics.gauge("uno_limit_in_flight{limiter=unnamed}"),
        Some(1.0)
    );
    assert_eq!(
        metrics.gauge("uno_limit_waiting{limiter=unnamed}"),
        Some(1.0)
    );
}

#[test]
fn an_adaptive_limiter_reports_its_limit_as_it_moves() {
    let (metrics, _held, _runtime) = recorded_paused(async {
        let aimd = Aimd::builder().initial_limit(4).build().unwrap();
        let limiter = AdaptiveLimiter::with_policy(aimd, FullPolicy::Reject)
            .unwrap()
            .named("payments");
        assert_eq!(limiter.name(), Some("payments"));
        let permit = limiter.acquire().await.unwrap();
        permit.failure();
        let after_failure = limiter.limit();
        assert!(after_failure < 4);
        let held = limiter.acquire().await.unwrap();
        assert_eq!(limiter.in_flight(), 1);
        held
    });
    let limit = metrics.gauge("uno_limit_limit{limiter=payments}").unwrap();
    assert!(limit < 4.0, "{metrics:#?}");
    assert_eq!(
        metrics.gauge("uno_limit_in_flight{limiter=payments}"),
        Some(1.0)
    );
    assert_eq!(
        metrics.counter("uno_limit_acquired_total{limiter=payments}"),
        2
    );
}
