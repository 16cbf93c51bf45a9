//! A retry run under the caller's deadline (uno-deadline), on paused time: it never
//! sleeps past the deadline, gives up with the last error as soon as the next delay
//! would reach it, and caps `attempt_timeout` with it.

use std::io::{Error, ErrorKind};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use uno_retry::RetryPolicy;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test(start_paused = true)]
async fn a_run_gives_up_with_the_last_error_before_a_sleep_would_pass_the_deadline() {
    let policy = RetryPolicy::constant(secs(3))
        .unlimited_attempts()
        .build()
        .unwrap();
    let starts = Mutex::new(Vec::new());
    let began = Instant::now();
    let outcome = uno_deadline::within(secs(10), async {
        let mut attempt = 0;
        policy
            .run(|| {
                attempt += 1;
                starts.lock().unwrap().push(began.elapsed().as_secs());
                let error = format!("attempt {attempt} failed");
                async move { Err::<(), _>(error) }
            })
            .await
    })
    .await;
    // Attempts at 0, 3, 6 and 9 s; the next would start at 12 s, past 10 s, so the
    // run returns the fourth error at 9 s instead of sleeping into the deadline.
    assert_eq!(outcome, Ok(Err("attempt 4 failed".to_owned())));
    assert_eq!(*starts.lock().unwrap(), [0, 3, 6, 9]);
    assert_eq!(began.elapsed(), secs(9));
}

#[tokio::test(start_paused = true)]
async fn exponential_delays_never_sleep_past_a_nested_deadline() {
    let policy = RetryPolicy::exponential(secs(1))
        .unlimited_attempts()
        .build()
        .unwrap();
    let began = Instant::now();
    let outcome = uno_deadline::within(secs(60), async {
        // The inner deadline is the earlier one, so it is the one that counts.
        uno_deadline::within(secs(5), policy.run(|| async { Err::<(), _>("down") })).await
    })
    .await;
    // Waits of 1 and 2 s end at 3 s; the next (4 s) would end at 7 s, past 5 s.
    assert_eq!(outcome, Ok(Ok(Err("down"))));
    assert_eq!(began.elapsed(), secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_that_allows_every_delay_changes_nothing() {
    let policy = RetryPolicy::constant(secs(1))
        .max_attempts(3)
        .build()
        .unwrap();
    let began = Instant::now();
    let calls = Mutex::new(0);
    let outcome = uno_deadline::within(secs(60), async {
        policy
            .run(|| {
                let mut calls = calls.lock().unwrap();
                *calls += 1;
                let ok = *calls == 3;
                async move { if ok { Ok("third time") } else { Err("not yet") } }
            })
            .await
    })
    .await;
    assert_eq!(outcome, Ok(Ok("third time")));
    assert_eq!(began.elapsed(), secs(2));
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_is_capped_by_the_deadline() {
    let policy = RetryPolicy::constant(secs(1))
        .max_attempts(5)
        .attempt_timeout(secs(30))
        .build()
        .unwrap();
    let began = Instant::now();
    let outcome = uno_deadline::within(secs(2), async {
        policy
            .run(|| async {
                tokio::time::sleep(secs(3600)).await;
                Ok::<(), Error>(())
            })
            .await
    })
    .await;
    // The attempt is cut at the deadline (2 s, not 30 s) and the run reports the
    // attempt's timeout as its last error, instead of sleeping into the deadline.
    let error = outcome
        .expect("the run answers at the deadline")
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut);
    assert_eq!(began.elapsed(), secs(2));
}

#[tokio::test(start_paused = true)]
async fn without_a_deadline_nothing_is_cut_short() {
    let policy = RetryPolicy::constant(secs(3))
        .max_attempts(4)
        .build()
        .unwrap();
    let began = Instant::now();
    let outcome: Result<(), &str> = policy.run(|| async { Err("down") }).await;
    assert_eq!(outcome, Err("down"));
    assert_eq!(began.elapsed(), secs(9));
}
