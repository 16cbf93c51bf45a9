//! A panic inside the operation counts as a failure and reaches the caller unchanged.

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;
use uno_breaker::{CircuitBreaker, State};

async fn explode() -> Result<(), &'static str> {
    panic!("the dependency's client panicked")
}

#[tokio::test(start_paused = true)]
async fn a_panic_counts_as_a_failure_and_is_resumed_in_the_caller() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(2)
        .open_for(Duration::from_secs(1))
        .build()
        .unwrap();
    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    let panic = AssertUnwindSafe(breaker.call(explode()))
        .catch_unwind()
        .await
        .unwrap_err();
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"the dependency's client panicked")
    );
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_probe_opens_the_breaker_again() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(1))
        .build()
        .unwrap();
    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(breaker.state(), State::HalfOpen);
    let outcome = AssertUnwindSafe(breaker.call(explode()))
        .catch_unwind()
        .await;
    assert!(outcome.is_err());
    assert_eq!(breaker.state(), State::Open);
}
