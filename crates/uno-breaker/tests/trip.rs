//! When a closed breaker opens: exactly at the consecutive-failure threshold, exactly at
//! the failure rate once enough calls were seen within the window, and only for the
//! errors `record_if` counts.

use std::io::{Error, ErrorKind};
use std::time::Duration;

use uno_breaker::{BreakerError, CircuitBreaker, State};

async fn fail(breaker: &CircuitBreaker<&'static str>) {
    let outcome = breaker.call(async { Err::<(), _>("down") }).await;
    assert_eq!(outcome, Err(BreakerError::Inner("down")));
}

async fn succeed(breaker: &CircuitBreaker<&'static str>) {
    assert_eq!(breaker.call(async { Ok(()) }).await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn trips_exactly_at_the_consecutive_failure_threshold() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(3)
        .build()
        .unwrap();
    for _ in 0..2 {
        fail(&breaker).await;
        assert_eq!(breaker.state(), State::Closed);
    }
    fail(&breaker).await;
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_success_starts_the_consecutive_count_again() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(2)
        .build()
        .unwrap();
    fail(&breaker).await;
    succeed(&breaker).await;
    fail(&breaker).await;
    assert_eq!(breaker.state(), State::Closed);
    fail(&breaker).await;
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn the_default_rule_is_five_consecutive_failures() {
    let breaker = CircuitBreaker::builder().build().unwrap();
    for _ in 0..4 {
        fail(&breaker).await;
    }
    assert_eq!(breaker.state(), State::Closed);
    fail(&breaker).await;
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn failure_rate_trips_exactly_at_the_ratio_once_min_calls_were_seen() {
    let breaker = CircuitBreaker::builder()
        .failure_rate(0.3, 10, Duration::from_secs(60))
        .build()
        .unwrap();
    // Five failures in a row do not open it: fewer than 10 calls were seen.
    for _ in 0..3 {
        fail(&breaker).await;
    }
    for _ in 0..6 {
        succeed(&breaker).await;
    }
    assert_eq!(
        breaker.state(),
        State::Closed,
        "9 calls are below min_calls"
    );
    // The tenth call makes 3 failures of 10: exactly 0.3.
    succeed(&breaker).await;
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn failure_rate_below_the_ratio_stays_closed() {
    let breaker = CircuitBreaker::builder()
        .failure_rate(0.5, 4, Duration::from_secs(60))
        .build()
        .unwrap();
    for _ in 0..3 {
        succeed(&breaker).await;
    }
    for _ in 0..3 {
        fail(&breaker).await;
    }
    assert_eq!(breaker.state(), State::Open, "3 of 6 is 0.5");
    let breaker = CircuitBreaker::builder()
        .failure_rate(0.5, 4, Duration::from_secs(60))
        .build()
        .unwrap();
    for _ in 0..4 {
        succeed(&breaker).await;
    }
    for _ in 0..3 {
        fail(&breaker).await;
    }
    assert_eq!(breaker.state(), State::Closed, "3 of 7 is below 0.5");
}

#[tokio::test(start_paused = true)]
async fn failure_rate_forgets_calls_older_than_the_window() {
    let breaker = CircuitBreaker::builder()
        .failure_rate(0.5, 4, Duration::from_secs(10))
        .build()
        .unwrap();
    for _ in 0..3 {
        fail(&breaker).await;
    }
    // The window is 10 buckets of 1 s: after 10 s those failures no longer count.
    tokio::time::sleep(Duration::from_secs(10)).await;
    for _ in 0..3 {
        succeed(&breaker).await;
    }
    fail(&breaker).await;
    assert_eq!(
        breaker.state(),
        State::Closed,
        "1 failure of 4 in the window"
    );
}

#[tokio::test(start_paused = true)]
async fn with_both_rules_whichever_holds_first_trips() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(2)
        .failure_rate(0.9, 100, Duration::from_secs(60))
        .build()
        .unwrap();
    fail(&breaker).await;
    fail(&breaker).await;
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn record_if_decides_which_errors_count() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(2)
        .record_if(|err: &Error| err.kind() != ErrorKind::NotFound)
        .build()
        .unwrap();
    let refused = || async { Err::<(), _>(Error::from(ErrorKind::ConnectionRefused)) };
    let not_found = || async { Err::<(), _>(Error::from(ErrorKind::NotFound)) };
    let _ = breaker.call(refused()).await;
    // An error that does not count is still returned, and counts as a success.
    let outcome = breaker.call(not_found()).await;
    assert_eq!(
        outcome.unwrap_err().inner().unwrap().kind(),
        ErrorKind::NotFound
    );
    let _ = breaker.call(refused()).await;
    assert_eq!(breaker.state(), State::Closed);
    let _ = breaker.call(refused()).await;
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn clones_share_one_state() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(2)
        .build()
        .unwrap();
    let clone = breaker.clone();
    fail(&breaker).await;
    fail(&clone).await;
    assert_eq!(breaker.state(), State::Open);
    assert!(format!("{clone:?}").contains("Open"));
}
