//! What is retried: error predicates, `Ok` values, Retry-After hints, and what the
//! notify hook sees.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

use std::io::{Error, ErrorKind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use uno_retry::RetryPolicy;

fn transient(err: &Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::TimedOut
    )
}

#[tokio::test(start_paused = true)]
async fn non_retryable_errors_return_at_once() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .max_attempts(5)
        .retry_if(transient)
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let started = Instant::now();
    let result: Result<(), Error> = policy
        .run(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => Err(Error::from(ErrorKind::ConnectionRefused)),
                    _ => Err(Error::from(ErrorKind::PermissionDenied)),
                }
            }
        })
        .await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::PermissionDenied);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one retry, then a permanent error"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn every_error_is_retried_without_a_predicate() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .max_attempts(4)
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let result: Result<(), Error> = policy
        .run(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(Error::from(ErrorKind::PermissionDenied)) }
        })
        .await;
    assert!(result.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn ok_values_matching_the_result_predicate_are_retried() {
    let policy = RetryPolicy::constant(Duration::from_secs(2))
        .max_attempts(5)
        .build()
        .unwrap();
    let statuses = Mutex::new(vec![200, 503, 503]);
    let started = Instant::now();
    let status = policy
        .run(|| {
            let status = statuses.lock().unwrap().pop().unwrap();
            async move { Ok::<u16, Error>(status) }
        })
        .retry_if_ok(|status: &u16| *status == 503)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(started.elapsed(), Duration::from_secs(4));
}

#[tokio::test(start_paused = true)]
async fn a_retried_ok_value_is_returned_when_attempts_run_out() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .max_attempts(3)
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let status = policy
        .run(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<u32, Error>(500 + n) }
        })
        .retry_if_ok(|status: &u32| *status >= 500)
        .await
        .unwrap();
    assert_eq!(status, 502, "the last value");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[derive(Debug)]
struct Throttled {
    retry_after: Option<Duration>,
}

#[tokio::test(start_paused = true)]
async fn an_error_hint_replaces_the_strategy_delay_and_is_capped() {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&waits);
    let policy = RetryPolicy::exponential(Duration::from_millis(100))
        .max_attempts(5)
        .max_delay(Duration::from_secs(10))
        .delay_hint(|err: &Throttled| err.retry_after)
        .notify(move |_, _, delay| log.lock().unwrap().push(delay))
        .build()
        .unwrap();
    // Popped from the end: hints for attempts 1 to 5.
    let hints = Mutex::new(vec![
        None,
        None,
        Some(Duration::from_secs(60)),
        None,
        Some(Duration::from_secs(3)),
    ]);
    let started = Instant::now();
    let result: Result<(), Throttled> = policy
        .run(|| {
            let retry_after = hints.lock().unwrap().pop().unwrap();
            async move { Err(Throttled { retry_after }) }
        })
        .await;
    assert!(result.is_err());
    let expected = vec![
        Duration::from_secs(3),     // hinted
        Duration::from_millis(200), // the strategy went on: 100, 200, ...
        Duration::from_secs(10),    // hinted 60 s, capped by max_delay
        Duration::from_millis(800),
    ];
    assert_eq!(*waits.lock().unwrap(), expected);
    assert_eq!(started.elapsed(), expected.iter().sum::<Duration>());
}

#[tokio::test(start_paused = true)]
async fn notify_sees_each_failed_attempt_its_error_and_the_next_delay() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let policy = RetryPolicy::linear(Duration::from_secs(1))
        .max_attempts(4)
        .notify(move |attempt, err: &String, delay| {
            log.lock().unwrap().push((attempt, err.clone(), delay));
        })
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let result = policy
        .run(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            async move { Err::<(), _>(format!("failure {n}")) }
        })
        .await;
    assert_eq!(result, Err("failure 4".to_owned()));
    let secs = Duration::from_secs;
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (1, "failure 1".to_owned(), secs(1)),
            (2, "failure 2".to_owned(), secs(2)),
            (3, "failure 3".to_owned(), secs(3)),
        ],
        "no notification for the final failure"
    );
}

#[tokio::test(start_paused = true)]
async fn notify_is_not_called_for_non_retryable_errors() {
    let count = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&count);
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .retry_if(|_: &Error| false)
        .notify(move |_, _, _| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let result: Result<(), Error> = policy
        .run(|| async { Err(Error::from(ErrorKind::Other)) })
        .await;
    assert!(result.is_err());
    assert_eq!(count.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_operation_propagates_its_panic() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .build()
        .unwrap();
    let task = tokio::spawn(async move {
        policy
            .run(|| async { panic!("boom") as Result<(), Error> })
            .await
    });
    let panic = task.await.unwrap_err();
    assert!(panic.is_panic());
}
