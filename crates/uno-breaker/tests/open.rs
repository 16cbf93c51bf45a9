//! An open breaker: rejects without running the operation, says when to come back, and
//! stays open for a fixed, growing or unbounded duration.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use uno_breaker::{BreakerError, CircuitBreaker, State};

async fn trip(breaker: &CircuitBreaker<&'static str>) {
    while breaker.state() == State::Closed {
        let _ = breaker.call(async { Err::<(), _>("down") }).await;
    }
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn rejects_while_open_without_calling_the_operation() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(10))
        .build()
        .unwrap();
    trip(&breaker).await;
    let calls = AtomicU32::new(0);
    let operation = || async {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok::<_, &str>(())
    };
    let outcome = breaker.call(operation()).await;
    assert_eq!(
        outcome,
        Err(BreakerError::Open {
            retry_after: Duration::from_secs(10)
        })
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let outcome = breaker.call(operation()).await;
    assert_eq!(
        outcome.unwrap_err().retry_after(),
        Some(Duration::from_secs(6))
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the operation never ran");
}

#[tokio::test(start_paused = true)]
async fn turns_half_open_exactly_when_the_open_duration_ends() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(10))
        .build()
        .unwrap();
    trip(&breaker).await;
    // `advance`, not `sleep`: tokio's timers round up to whole milliseconds.
    tokio::time::advance(Duration::from_secs(10) - Duration::from_nanos(1)).await;
    assert_eq!(breaker.state(), State::Open);
    tokio::time::advance(Duration::from_nanos(1)).await;
    assert_eq!(breaker.state(), State::HalfOpen);
}

/// The rejection's `retry_after` right after the breaker opened.
async fn open_duration(breaker: &CircuitBreaker<&'static str>) -> Duration {
    let outcome = breaker.call(async { Ok(()) }).await;
    outcome.unwrap_err().retry_after().unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_open_duration_grows_with_each_failed_probe_and_resets_on_close() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for_growing(Duration::from_secs(1), 3.0, Duration::from_secs(20))
        .build()
        .unwrap();
    trip(&breaker).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let open_for = open_duration(&breaker).await;
        seen.push(open_for.as_secs());
        tokio::time::sleep(open_for).await;
        // The probe fails: the breaker opens again, for longer.
        let _ = breaker.call(async { Err::<(), _>("still down") }).await;
    }
    assert_eq!(seen, [1, 3, 9, 20]);
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(breaker.call(async { Ok(()) }).await, Ok(()));
    assert_eq!(breaker.state(), State::Closed);
    trip(&breaker).await;
    assert_eq!(open_duration(&breaker).await, Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn an_open_duration_too_long_for_the_clock_is_forever() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::MAX)
        .build()
        .unwrap();
    trip(&breaker).await;
    assert_eq!(open_duration(&breaker).await, Duration::MAX);
    tokio::time::sleep(Duration::from_secs(100 * 365 * 24 * 3600)).await;
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(open_duration(&breaker).await, Duration::MAX);
}
