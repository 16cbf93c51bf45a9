//! The documented orders: retry (uno-retry) outside the breaker, not retrying its
//! rejections unless asked; a concurrency limiter (uno-limit) outside the breaker, so
//! that the limiter's refusals and queueing never count against the dependency.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::Instant;
use uno_breaker::{BreakerError, CircuitBreaker, State};
use uno_limit::{FullPolicy, LimitError, Limiter};
use uno_retry::RetryPolicy;

#[tokio::test(start_paused = true)]
async fn retry_outside_the_breaker_stops_at_a_rejection() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(2)
        .open_for(Duration::from_secs(30))
        .build()
        .unwrap();
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .max_attempts(5)
        .retry_if(|err: &BreakerError<&str>| !err.is_rejected())
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let started = Instant::now();
    let outcome: Result<(), _> = policy
        .run(|| {
            breaker.call(async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("down")
            })
        })
        .await;
    // Two failures open the breaker; the third attempt, a second later, is rejected
    // and not retried.
    assert_eq!(
        outcome,
        Err(BreakerError::Open {
            retry_after: Duration::from_secs(29)
        })
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn retry_asked_to_wait_out_an_open_breaker_probes_after_retry_after() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(2)
        .open_for(Duration::from_secs(30))
        .build()
        .unwrap();
    // Every error is retried, and a rejection waits as long as the breaker says.
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .max_attempts(4)
        .delay_hint(BreakerError::retry_after)
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let started = Instant::now();
    let outcome = policy
        .run(|| {
            breaker.call(async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err("down"),
                    _ => Ok("back"),
                }
            })
        })
        .await;
    assert_eq!(outcome, Ok("back"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the rejected attempt ran nothing"
    );
    // Failure, 1 s, failure (opens for 30 s), 1 s, rejection, 29 s, probe.
    assert_eq!(started.elapsed(), Duration::from_secs(1 + 1 + 29));
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_full_limiter_outside_the_breaker_does_not_count_against_the_dependency() {
    let limiter = Limiter::builder()
        .limit(1)
        .on_full(FullPolicy::Reject)
        .build()
        .unwrap();
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .build()
        .unwrap();
    let held = limiter.acquire().await.unwrap();
    let calls = AtomicU32::new(0);
    for _ in 0..10 {
        let outcome = limiter
            .run(breaker.call(async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, &str>(())
            }))
            .await;
        assert_eq!(outcome, Err(LimitError::Full { limit: 1 }));
    }
    drop(held);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_inside_a_limiter_gives_the_permit_back_at_once() {
    let limiter = Limiter::new(1).unwrap();
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .build()
        .unwrap();
    let _ = limiter
        .run(breaker.call(async { Err::<(), _>("down") }))
        .await;
    let outcome = limiter.run(breaker.call(async { Ok(()) })).await;
    assert!(outcome.unwrap().unwrap_err().is_rejected());
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_caller_queued_at_the_limiter_holds_no_probe_slot() {
    let limiter = Limiter::new(1).unwrap();
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(1))
        .build()
        .unwrap();
    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = limiter.acquire().await.unwrap();
    let mut queued = Box::pin(limiter.run(breaker.call(async { Ok::<_, &str>("queued") })));
    assert!(
        (&mut queued).now_or_never().is_none(),
        "waiting for a permit"
    );
    // The one probe slot is still free for a caller that can run now.
    assert_eq!(breaker.call(async { Ok("probe") }).await, Ok("probe"));
    assert_eq!(breaker.state(), State::Closed);
    drop(held);
    assert_eq!(queued.await, Ok(Ok("queued")));
}
