//! Behaviour of `AdaptiveLimiter`: reports move the limit, a lower limit takes
//! effect as permits come back, bounds, cancellation and closing.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

use std::time::Duration;

use tokio::time::Instant;
use uno_limit::{
    AdaptiveLimiter, Aimd, BuildError, Gradient2, LimitAlgorithm, LimitError, Outcome, Sample,
};

fn aimd(initial: usize, min: usize, max: usize) -> Aimd {
    Aimd::builder()
        .initial_limit(initial)
        .min_limit(min)
        .max_limit(max)
        .latency_threshold(Duration::from_millis(100))
        .build()
        .unwrap()
}

#[tokio::test]
async fn bad_bounds_are_refused() {
    assert_eq!(
        Aimd::builder().min_limit(0).build().unwrap_err(),
        BuildError::ZeroLimit
    );
    for bad in [
        Aimd::builder().min_limit(10).max_limit(5).build(),
        Aimd::builder().initial_limit(500).build(),
        Aimd::builder().backoff_ratio(1.0).build(),
        Aimd::builder().backoff_ratio(0.1).build(),
        Aimd::builder().latency_threshold(Duration::ZERO).build(),
    ] {
        assert!(matches!(bad.unwrap_err(), BuildError::InvalidConfig { .. }));
    }
    for bad in [
        Gradient2::builder().smoothing(0.0).build(),
        Gradient2::builder().rtt_tolerance(0.9).build(),
        Gradient2::builder().long_window(0).build(),
        Gradient2::builder().initial_limit(0).build(),
    ] {
        assert!(bad.is_err());
    }
}

#[tokio::test(start_paused = true)]
async fn failures_and_drops_shrink_the_limit_and_successes_grow_it() {
    let limiter = AdaptiveLimiter::new(aimd(10, 2, 12));
    limiter.acquire().await.unwrap().failure();
    assert_eq!(limiter.limit(), 9);
    tokio::time::advance(Duration::from_millis(1)).await;
    limiter.acquire().await.unwrap().dropped();
    assert_eq!(limiter.limit(), 8);
    tokio::time::advance(Duration::from_millis(1)).await;
    // A slow success is overload too.
    let slow = limiter.acquire().await.unwrap();
    tokio::time::advance(Duration::from_millis(150)).await;
    slow.success();
    assert_eq!(limiter.limit(), 7);
    // Busy successes grow it again, up to the max.
    for _ in 0..200 {
        let permits: Vec<_> = (0..limiter.limit())
            .map(|_| limiter.try_acquire().unwrap())
            .collect();
        permits
            .into_iter()
            .for_each(uno_limit::AdaptivePermit::success);
    }
    assert_eq!(limiter.limit(), 12);
}

#[tokio::test(start_paused = true)]
async fn the_limit_never_leaves_its_bounds() {
    let limiter = AdaptiveLimiter::new(aimd(3, 2, 4));
    for _ in 0..20 {
        limiter.acquire().await.unwrap().failure();
        tokio::time::advance(Duration::from_millis(1)).await;
    }
    assert_eq!(limiter.limit(), 2);
}

#[tokio::test(start_paused = true)]
async fn one_burst_of_slow_answers_backs_off_once() {
    let limiter = AdaptiveLimiter::new(aimd(10, 1, 20));
    let burst: Vec<_> = (0..10).map(|_| limiter.try_acquire().unwrap()).collect();
    for permit in burst {
        permit.failure();
    }
    assert_eq!(limiter.limit(), 9, "the burst saw one overload, not ten");
}

#[tokio::test(start_paused = true)]
async fn a_lower_limit_takes_effect_as_permits_come_back() {
    let limiter = AdaptiveLimiter::new(aimd(4, 1, 10));
    let mut held: Vec<_> = (0..4).map(|_| limiter.try_acquire().unwrap()).collect();
    assert!(limiter.try_acquire().is_err());
    held.pop().unwrap().failure(); // limit 4 -> 3, the permit pays the debt
    assert_eq!(limiter.limit(), 3);
    assert_eq!(limiter.in_flight(), 3);
    assert_eq!(
        limiter.try_acquire().unwrap_err(),
        LimitError::Full { limit: 3 }
    );
    held.pop().unwrap().ignore();
    assert_eq!(limiter.in_flight(), 2);
    let again = limiter.try_acquire().unwrap();
    assert!(
        limiter.try_acquire().is_err(),
        "at most 3 run under a limit of 3"
    );
    drop((held, again));
    let all: Vec<_> = (0..3).map(|_| limiter.try_acquire().unwrap()).collect();
    assert!(limiter.try_acquire().is_err());
    drop(all);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_permit_teaches_nothing() {
    let limiter = AdaptiveLimiter::new(aimd(10, 1, 20));
    let permit = limiter.acquire().await.unwrap();
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(permit.elapsed(), Duration::from_secs(10));
    drop(permit);
    assert_eq!(limiter.limit(), 10);
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn run_reports_ok_as_success_and_err_as_failure() {
    let limiter = AdaptiveLimiter::new(aimd(10, 1, 20));
    let failed = limiter
        .run(async { Err::<(), _>("overloaded") })
        .await
        .unwrap();
    assert_eq!(failed, Err("overloaded"));
    assert_eq!(limiter.limit(), 9);
    let ok = limiter.run(async { Ok::<_, ()>(5) }).await.unwrap();
    assert_eq!(ok, Ok(5));
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_leaves_no_permit_behind() {
    let limiter = AdaptiveLimiter::new(aimd(1, 1, 1));
    let held = limiter.acquire().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(1), limiter.acquire())
            .await
            .is_err()
    );
    assert_eq!(limiter.waiting(), 0);
    let timeout = Duration::from_millis(10);
    assert_eq!(
        limiter.acquire_timeout(timeout).await.unwrap_err(),
        LimitError::Timeout { timeout }
    );
    held.success();
    assert!(limiter.try_acquire().is_ok());
}

#[tokio::test]
async fn close_fails_waiters_and_new_calls() {
    let limiter = AdaptiveLimiter::new(aimd(1, 1, 1));
    let held = limiter.acquire().await.unwrap();
    let waiter = tokio::spawn({
        let limiter = limiter.clone();
        async move { limiter.acquire().await.map(drop) }
    });
    while limiter.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    limiter.close();
    assert!(limiter.is_closed());
    assert_eq!(waiter.await.unwrap(), Err(LimitError::Closed));
    assert_eq!(
        limiter.run(async { Ok::<(), ()>(()) }).await.unwrap_err(),
        LimitError::Closed
    );
    held.success(); // running work may still report
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn gradient2_shrinks_when_latency_rises_and_ignores_an_idle_caller() {
    let mut gradient = Gradient2::builder()
        .initial_limit(20)
        .smoothing(1.0)
        .build()
        .unwrap();
    let now = Instant::now();
    let fast = Sample::new(now, Duration::from_millis(10), 20, Outcome::Success);
    for _ in 0..20 {
        gradient.update(&fast);
    }
    let grown = gradient.update(&fast);
    assert!(grown > 20, "steady latency under full use grows the limit");
    let slow = Sample::new(now, Duration::from_millis(100), grown, Outcome::Success);
    assert!(
        gradient.update(&slow) < grown,
        "a latency jump shrinks the limit"
    );
    let limit = gradient.initial_limit();
    let idle = Sample::new(now, Duration::from_millis(10), 1, Outcome::Success);
    assert_eq!(
        gradient.update(&idle),
        limit,
        "an app-limited caller teaches nothing"
    );
    let failure = Sample::new(now, Duration::from_millis(1), limit, Outcome::Failure);
    assert_eq!(
        gradient.update(&failure),
        limit,
        "failures are not latency measurements"
    );
}

#[test]
fn run_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let limiter = AdaptiveLimiter::new(Aimd::default());
    let run = limiter.run(async { Ok::<_, ()>(1) });
    assert_send(&run);
    assert_send(&limiter.acquire());
}

#[tokio::test(start_paused = true)]
async fn reject_and_timeout_policies_apply_to_acquire_and_run() {
    let bulkhead =
        AdaptiveLimiter::with_policy(aimd(1, 1, 4), uno_limit::FullPolicy::Reject).unwrap();
    let held = bulkhead.acquire().await.unwrap();
    assert_eq!(
        bulkhead.acquire().await.unwrap_err(),
        LimitError::Full { limit: 1 }
    );
    assert_eq!(
        bulkhead.run(async { Ok::<(), ()>(()) }).await.unwrap_err(),
        LimitError::Full { limit: 1 }
    );
    assert_eq!(
        bulkhead.limit(),
        1,
        "a refusal is not reported to the algorithm"
    );
    drop(held);

    let timeout = Duration::from_secs(1);
    let patient =
        AdaptiveLimiter::with_policy(aimd(1, 1, 4), uno_limit::FullPolicy::Timeout(timeout))
            .unwrap();
    let _held = patient.acquire().await.unwrap();
    assert_eq!(
        patient.acquire().await.unwrap_err(),
        LimitError::Timeout { timeout }
    );
    assert!(matches!(
        AdaptiveLimiter::with_policy(
            Aimd::default(),
            uno_limit::FullPolicy::Timeout(Duration::ZERO)
        )
        .unwrap_err(),
        BuildError::InvalidConfig { .. }
    ));
}
