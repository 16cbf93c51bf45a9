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

/// Attacks on the counting: each admission counts once, whatever path it took.
#[test]
fn each_admission_and_refusal_counts_once_whatever_the_path() {
    let (metrics, (), _runtime) = recorded_paused(async {
        // A limiter that also keeps a rate: the permit and the rate slot are one
        // admission, not two.
        let limiter = Limiter::builder()
            .limit(2)
            .rate(10, Duration::from_secs(1))
            .name("rated")
            .build()
            .unwrap();
        drop(limiter.try_acquire().unwrap());
        drop(limiter.acquire().await.unwrap());
        assert_eq!(limiter.run(async { 1 }).await.unwrap(), 1);

        // A zero timeout refuses at once, and says so as a timeout.
        let zero = Limiter::builder().limit(1).name("zero").build().unwrap();
        let _held = zero.acquire().await.unwrap();
        assert!(matches!(
            zero.acquire_timeout(Duration::ZERO).await,
            Err(LimitError::Timeout { .. })
        ));
    });
    assert_eq!(
        metrics.counter("uno_limit_acquired_total{limiter=rated}"),
        3
    );
    assert_eq!(metrics.counter("uno_limit_acquired_total{limiter=zero}"), 1);
    assert_eq!(
        metrics.counter("uno_limit_rejected_total{limiter=zero,reason=timeout}"),
        1
    );
    assert_eq!(
        metrics.counter("uno_limit_rejected_total{limiter=zero,reason=full}"),
        0
    );
}

/// Through the tower layer, a request that waits for its permit is one admission,
/// not a refusal followed by an admission.
#[cfg(feature = "tower")]
#[test]
fn a_layer_request_that_waits_is_admitted_once_and_never_refused() {
    use tower::{Service, ServiceExt, service_fn};
    use uno_limit::tower::LimitLayer;

    let (metrics, (), _runtime) = recorded_paused(async {
        let limiter = Limiter::builder().limit(1).name("layer").build().unwrap();
        let layer = LimitLayer::new(limiter.clone());
        // Each call takes a second, so the first still holds the permit when the
        // second asks for it.
        let inner = service_fn(|n: u32| async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, std::convert::Infallible>(n)
        });
        let mut first = tower::Layer::layer(&layer, inner);
        let mut second = first.clone();
        let held = first.ready().await.unwrap().call(1);
        // The second waits in poll_ready until the first answers.
        let waiting = async { second.ready().await.unwrap().call(2).await.unwrap() };
        let (one, two) = tokio::join!(held, waiting);
        assert_eq!((one.unwrap(), two), (1, 2));

        let adaptive = AdaptiveLimiter::new(Aimd::builder().initial_limit(1).build().unwrap())
            .named("adaptive-layer");
        let mut first = tower::Layer::layer(&LimitLayer::adaptive(adaptive.clone()), inner);
        let mut second = first.clone();
        let held = first.ready().await.unwrap().call(1);
        let waiting = async { second.ready().await.unwrap().call(2).await.unwrap() };
        let (one, two) = tokio::join!(held, waiting);
        assert_eq!((one.unwrap(), two), (1, 2));
    });
    assert_eq!(
        metrics.counter("uno_limit_acquired_total{limiter=layer}"),
        2
    );
    assert_eq!(
        metrics.counter("uno_limit_rejected_total{limiter=layer,reason=full}"),
        0
    );
    assert_eq!(
        metrics.counter("uno_limit_acquired_total{limiter=adaptive-layer}"),
        2
    );
    assert_eq!(
        metrics.counter("uno_limit_rejected_total{limiter=adaptive-layer,reason=full}"),
        0
    );
}
