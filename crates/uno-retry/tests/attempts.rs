//! How many calls a run makes, and what it returns when it stops.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use uno_retry::RetryPolicy;

/// An operation that fails `failures` times, then succeeds with the attempt number.
async fn flaky(failures: u32, calls: &AtomicU32) -> Result<u32, String> {
    let attempt = calls.fetch_add(1, Ordering::SeqCst) + 1;
    if attempt <= failures {
        Err(format!("failure {attempt}"))
    } else {
        Ok(attempt)
    }
}

#[tokio::test(start_paused = true)]
async fn max_attempts_counts_the_first_call() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .max_attempts(3)
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let result = policy.run(|| flaky(10, &calls)).await;
    assert_eq!(
        result,
        Err("failure 3".to_owned()),
        "the last error is returned"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn default_is_three_attempts() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .build()
        .unwrap();
    assert_eq!(policy.max_attempts(), Some(3));
    let calls = AtomicU32::new(0);
    let _ = policy.run(|| flaky(10, &calls)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn one_attempt_never_retries_or_sleeps() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .max_attempts(1)
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let started = Instant::now();
    assert!(policy.run(|| flaky(1, &calls)).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn success_after_failures_returns_the_value_and_waited_the_delays() {
    let policy = RetryPolicy::exponential(Duration::from_millis(100))
        .max_attempts(5)
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let started = Instant::now();
    assert_eq!(policy.run(|| flaky(3, &calls)).await, Ok(4));
    assert_eq!(started.elapsed(), Duration::from_millis(100 + 200 + 400));
}

#[tokio::test(start_paused = true)]
async fn success_at_once_makes_one_call() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    assert_eq!(policy.run(|| flaky(0, &calls)).await, Ok(1));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn unlimited_attempts_retry_until_success() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .unlimited_attempts()
        .build()
        .unwrap();
    assert_eq!(policy.max_attempts(), None);
    let calls = AtomicU32::new(0);
    assert_eq!(policy.run(|| flaky(1_000, &calls)).await, Ok(1_001));
}

#[tokio::test(flavor = "current_thread")]
async fn zero_delay_retries_do_not_starve_other_tasks() {
    // A retry loop whose attempts are always ready at once must still yield, or this
    // single-threaded runtime could not run the task that ends it before the attempts
    // run out.
    let policy = RetryPolicy::constant(Duration::ZERO)
        .max_attempts(100_000)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicU32::new(0));
    let flag = Arc::clone(&stop);
    let other = tokio::spawn(async move { flag.store(1, Ordering::SeqCst) });
    let calls = AtomicU32::new(0);
    let result = policy
        .run(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            let stopped = stop.load(Ordering::SeqCst) == 1;
            async move { if stopped { Ok(()) } else { Err(()) } }
        })
        .await;
    assert_eq!(result, Ok(()), "the other task never ran while retrying");
    other.await.unwrap();
    assert!(calls.load(Ordering::SeqCst) > 1);
}

#[tokio::test(start_paused = true)]
async fn zero_delays_make_no_pause() {
    let policy = RetryPolicy::constant(Duration::ZERO)
        .max_attempts(3)
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let started = Instant::now();
    assert_eq!(policy.run(|| flaky(2, &calls)).await, Ok(3));
    assert_eq!(started.elapsed(), Duration::ZERO);
}
