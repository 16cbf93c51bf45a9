//! The `metrics` feature: after known runs, the counters hold exactly the attempts,
//! retries and give-ups (with their reasons) of each named policy.
#![cfg(feature = "metrics")]

use std::io::{Error, ErrorKind};
use std::time::Duration;

use uno_retry::RetryPolicy;
use uno_testkit::metrics::recorded_paused;

/// Runs `policy` over an operation that fails `failures` times, then succeeds.
async fn run(policy: &RetryPolicy<Error>, failures: u32) -> Result<u32, Error> {
    let mut calls = 0;
    policy
        .run(|| {
            calls += 1;
            let call = calls;
            async move {
                match call <= failures {
                    true => Err(Error::from(ErrorKind::ConnectionReset)),
                    false => Ok(call),
                }
            }
        })
        .await
}

#[test]
fn attempts_retries_and_give_ups_are_counted_per_policy() {
    let (metrics, (), _runtime) = recorded_paused(async {
        let payments = RetryPolicy::constant(Duration::from_millis(10))
            .max_attempts(3)
            .name("payments")
            .build()
            .unwrap();
        // Two failures, then an answer: 3 attempts, 2 retries.
        assert_eq!(run(&payments, 2).await.unwrap(), 3);
        // Never answers: 3 attempts, 2 retries, a give-up at max_attempts.
        assert!(run(&payments, u32::MAX).await.is_err());

        // Unnamed, and the error is not retryable: 1 attempt, a give-up.
        let picky: RetryPolicy<Error> = RetryPolicy::constant(Duration::from_millis(10))
            .retry_if(|error: &Error| error.kind() == ErrorKind::TimedOut)
            .build()
            .unwrap();
        assert!(run(&picky, 1).await.is_err());
    });
    assert_eq!(
        metrics.counter("uno_retry_attempts_total{policy=payments}"),
        6
    );
    assert_eq!(
        metrics.counter("uno_retry_retries_total{policy=payments}"),
        4
    );
    assert_eq!(
        metrics.counter("uno_retry_give_ups_total{policy=payments,reason=max_attempts}"),
        1
    );
    assert_eq!(
        metrics.counter("uno_retry_attempts_total{policy=unnamed}"),
        1
    );
    assert_eq!(
        metrics.counter("uno_retry_retries_total{policy=unnamed}"),
        0
    );
    assert_eq!(
        metrics.counter("uno_retry_give_ups_total{policy=unnamed,reason=not_retryable}"),
        1
    );
    assert_eq!(metrics.counters.len(), 5, "{metrics:#?}");
}

#[test]
fn a_deadline_give_up_is_told_apart() {
    let (metrics, (), _runtime) = recorded_paused(async {
        let policy = RetryPolicy::constant(Duration::from_secs(1))
            .max_attempts(10)
            .name("search")
            .build()
            .unwrap();
        let result = uno_deadline::within(Duration::from_millis(1500), run(&policy, u32::MAX));
        assert!(result.await.unwrap().is_err());
    });
    // Attempts at 0 s and 1 s; the next would start past the deadline.
    assert_eq!(
        metrics.counter("uno_retry_attempts_total{policy=search}"),
        2
    );
    assert_eq!(
        metrics.counter("uno_retry_give_ups_total{policy=search,reason=deadline}"),
        1
    );
}

/// Through `RetryLayer`, a first answer that is kept is an attempt too (the layer
/// polls it outside the run).
#[cfg(feature = "tower")]
#[test]
fn a_retry_layer_counts_the_attempts_it_makes() {
    use tower::{Layer, ServiceExt, service_fn};
    use uno_retry::tower::RetryLayer;

    let (metrics, (), _runtime) = recorded_paused(async {
        let policy = RetryPolicy::constant(Duration::from_millis(10))
            .name("layer")
            .build()
            .unwrap();
        let layer = RetryLayer::new(policy);
        let ok = layer.layer(service_fn(|n: u32| async move { Ok::<_, Error>(n) }));
        assert_eq!(ok.oneshot(1).await.unwrap(), 1);
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let flaky = layer.layer(service_fn(move |n: u32| {
            let call = calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                match call {
                    0 => Err(Error::from(ErrorKind::ConnectionReset)),
                    _ => Ok(n),
                }
            }
        }));
        assert_eq!(flaky.oneshot(2).await.unwrap(), 2);
    });
    assert_eq!(metrics.counter("uno_retry_attempts_total{policy=layer}"), 3);
    assert_eq!(metrics.counter("uno_retry_retries_total{policy=layer}"), 1);
}
