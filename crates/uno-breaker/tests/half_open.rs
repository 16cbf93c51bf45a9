//! A half-open breaker: a bounded number of probes, even under a crowd of callers, whose
//! outcomes close the breaker or open it again; outcomes of calls from an earlier state
//! are ignored.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uno_breaker::{BreakerError, CircuitBreaker, State};

const OPEN_FOR: Duration = Duration::from_millis(1);

/// A breaker that opens at the first failure, opened, then left until half-open (on the
/// paused clock this wait is exact; on a real clock `sleep` waits at least as long).
async fn half_open_breaker(probes: u32) -> CircuitBreaker<&'static str> {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(OPEN_FOR)
        .half_open_calls(probes)
        .build()
        .unwrap();
    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    assert_eq!(breaker.state(), State::Open);
    tokio::time::sleep(OPEN_FOR).await;
    assert_eq!(breaker.state(), State::HalfOpen);
    breaker
}

async fn admits_exactly_n_probes_among_1000_callers(probes: u32) {
    const CALLERS: u32 = 1_000;
    let breaker = half_open_breaker(probes).await;
    let gate = Arc::new(Semaphore::new(0));
    let started = Arc::new(AtomicU32::new(0));
    let rejected = Arc::new(AtomicU32::new(0));
    let mut callers = JoinSet::new();
    for _ in 0..CALLERS {
        let (breaker, gate) = (breaker.clone(), Arc::clone(&gate));
        let (started, rejected) = (Arc::clone(&started), Arc::clone(&rejected));
        callers.spawn(async move {
            let outcome = breaker
                .call(async {
                    started.fetch_add(1, Ordering::SeqCst);
                    let _permit = gate.acquire().await.unwrap();
                    Ok::<_, &str>(())
                })
                .await;
            if outcome == Err(BreakerError::HalfOpenBusy) {
                rejected.fetch_add(1, Ordering::SeqCst);
            }
            outcome
        });
    }
    // Every caller has been admitted or rejected once the two counts make 1,000; the
    // admitted ones are then waiting at the gate.
    while started.load(Ordering::SeqCst) + rejected.load(Ordering::SeqCst) < CALLERS {
        tokio::task::yield_now().await;
    }
    assert_eq!(started.load(Ordering::SeqCst), probes);
    assert_eq!(rejected.load(Ordering::SeqCst), CALLERS - probes);
    assert_eq!(breaker.state(), State::HalfOpen);
    gate.add_permits(probes as usize);
    let mut succeeded = 0;
    while let Some(outcome) = callers.join_next().await {
        succeeded += u32::from(outcome.unwrap().is_ok());
    }
    assert_eq!(succeeded, probes);
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_exactly_n_probes_among_1000_callers_on_one_thread() {
    admits_exactly_n_probes_among_1000_callers(1).await;
    admits_exactly_n_probes_among_1000_callers(7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn half_open_admits_exactly_n_probes_among_1000_callers_on_many_threads() {
    admits_exactly_n_probes_among_1000_callers(1).await;
    admits_exactly_n_probes_among_1000_callers(7).await;
}

#[tokio::test(start_paused = true)]
async fn a_successful_probe_closes_the_breaker() {
    let breaker = half_open_breaker(1).await;
    assert_eq!(breaker.call(async { Ok(7) }).await, Ok(7));
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_opens_the_breaker_again() {
    let breaker = half_open_breaker(1).await;
    let _ = breaker.call(async { Err::<(), _>("still down") }).await;
    assert_eq!(breaker.state(), State::Open);
    let outcome = breaker.call(async { Ok(()) }).await;
    assert_eq!(
        outcome,
        Err(BreakerError::Open {
            retry_after: OPEN_FOR
        })
    );
}

#[tokio::test(start_paused = true)]
async fn it_closes_after_n_successful_probes_and_reopens_at_the_first_failure() {
    let breaker = half_open_breaker(3).await;
    for _ in 0..2 {
        assert_eq!(breaker.call(async { Ok(()) }).await, Ok(()));
        assert_eq!(breaker.state(), State::HalfOpen);
    }
    assert_eq!(breaker.call(async { Ok(()) }).await, Ok(()));
    assert_eq!(breaker.state(), State::Closed);

    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    tokio::time::sleep(OPEN_FOR).await;
    assert_eq!(breaker.call(async { Ok(()) }).await, Ok(()));
    let _ = breaker.call(async { Err::<(), _>("down again") }).await;
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_call_admitted_before_the_breaker_opened_does_not_decide_the_probe() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(OPEN_FOR)
        .build()
        .unwrap();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let mut slow = Box::pin(breaker.call(async {
        released.await.unwrap();
        Ok::<_, &str>("late")
    }));
    assert!(
        (&mut slow).now_or_never().is_none(),
        "admitted while closed"
    );
    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    tokio::time::sleep(OPEN_FOR).await;
    assert_eq!(breaker.state(), State::HalfOpen);
    release.send(()).unwrap();
    assert_eq!(slow.await, Ok("late"));
    assert_eq!(
        breaker.state(),
        State::HalfOpen,
        "the late success was not a probe"
    );
    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    assert_eq!(breaker.state(), State::Open);
}
