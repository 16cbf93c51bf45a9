//! A call whose future is dropped counts as nothing, and a dropped half-open probe gives
//! its slot back.

use std::time::Duration;

use futures_util::FutureExt;
use uno_breaker::{BreakerError, CircuitBreaker, State};

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_is_neither_a_failure_nor_a_success() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(2)
        .build()
        .unwrap();
    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    for _ in 0..5 {
        let call = breaker.call(std::future::pending::<Result<(), &str>>());
        assert!(
            tokio::time::timeout(Duration::from_secs(1), call)
                .await
                .is_err()
        );
    }
    assert_eq!(
        breaker.state(),
        State::Closed,
        "the timeouts were not failures"
    );
    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    assert_eq!(
        breaker.state(),
        State::Open,
        "nor successes: the count went on from 1"
    );
}

async fn a_cancelled_probe_gives_its_slot_back() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_millis(1))
        .build()
        .unwrap();
    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    let mut probe = Box::pin(breaker.call(std::future::pending::<Result<(), &str>>()));
    assert!(
        (&mut probe).now_or_never().is_none(),
        "the probe is running"
    );
    let outcome = breaker.call(async { Ok(()) }).await;
    assert_eq!(outcome, Err(BreakerError::HalfOpenBusy));
    drop(probe);
    assert_eq!(
        breaker.state(),
        State::HalfOpen,
        "a cancelled probe is no failure"
    );
    assert_eq!(breaker.call(async { Ok(()) }).await, Ok(()));
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_probe_gives_its_slot_back_on_one_thread() {
    a_cancelled_probe_gives_its_slot_back().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_probe_gives_its_slot_back_on_many_threads() {
    a_cancelled_probe_gives_its_slot_back().await;
}

#[tokio::test(start_paused = true)]
async fn a_rejected_call_drops_the_operation_unpolled() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .build()
        .unwrap();
    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    let token = std::sync::Arc::new(());
    let held = std::sync::Arc::clone(&token);
    let outcome = breaker
        .call(async move {
            let _held = held;
            Ok(())
        })
        .await;
    assert!(outcome.unwrap_err().is_rejected());
    assert_eq!(
        std::sync::Arc::strong_count(&token),
        1,
        "the operation was dropped"
    );
}
