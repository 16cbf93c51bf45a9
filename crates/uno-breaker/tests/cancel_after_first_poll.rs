//! The `# Cancel safety` promise of `CircuitBreaker::call`, checked at the poll level: a
//! call polled once by hand (its operation pending) and dropped counts nothing and, as
//! a half-open probe, gives its probe slot back.

use std::future::pending;
use std::time::Duration;

use tokio_test::{assert_pending, task};
use uno_breaker::{BreakerError, CircuitBreaker, State};

#[tokio::test(start_paused = true)]
async fn a_call_dropped_after_its_first_poll_counts_nothing() {
    let breaker = CircuitBreaker::<&str>::builder()
        .consecutive_failures(2)
        .build()
        .unwrap();
    assert!(breaker.call(async { Err::<(), _>("down") }).await.is_err());
    // Dropped mid-operation: neither a failure nor a success. Had it counted as a
    // failure, the next one would open the breaker; had it counted as a success, the
    // first failure would be forgotten and two more would be needed.
    let mut dropped = task::spawn(breaker.call(pending::<Result<(), &str>>()));
    assert_pending!(dropped.poll());
    drop(dropped);
    assert_eq!(breaker.state(), State::Closed);
    assert!(breaker.call(async { Err::<(), _>("down") }).await.is_err());
    assert_eq!(
        breaker.state(),
        State::Open,
        "the two real failures opened it"
    );
}

#[tokio::test(start_paused = true)]
async fn a_probe_dropped_after_its_first_poll_gives_its_slot_back() {
    let breaker = CircuitBreaker::<&str>::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(5))
        .half_open_calls(1)
        .build()
        .unwrap();
    assert!(breaker.call(async { Err::<(), _>("down") }).await.is_err());
    tokio::time::advance(Duration::from_secs(5)).await;

    let mut probe = task::spawn(breaker.call(pending::<Result<(), &str>>()));
    assert_pending!(probe.poll());
    assert_eq!(breaker.state(), State::HalfOpen);
    assert!(
        matches!(
            breaker.call(async { Ok::<_, &str>(()) }).await,
            Err(BreakerError::HalfOpenBusy)
        ),
        "the one probe slot is taken while the probe runs"
    );
    drop(probe);

    assert_eq!(
        breaker.call(async { Ok::<_, &str>(7) }).await,
        Ok(7),
        "another call probes"
    );
    assert_eq!(breaker.state(), State::Closed);
}
