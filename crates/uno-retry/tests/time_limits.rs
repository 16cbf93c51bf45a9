//! `max_elapsed` and `attempt_timeout` on tokio's paused clock.

use std::io::{Error, ErrorKind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use uno_retry::RetryPolicy;

#[tokio::test(start_paused = true)]
async fn max_elapsed_stops_before_a_sleep_would_pass_it() {
    let policy = RetryPolicy::exponential(Duration::from_secs(1))
        .unlimited_attempts()
        .max_elapsed(Duration::from_secs(10))
        .build()
        .unwrap();
    let starts = std::sync::Mutex::new(Vec::new());
    let began = Instant::now();
    let result: Result<(), &str> = policy
        .run(|| {
            starts.lock().unwrap().push(began.elapsed().as_secs());
            async { Err("down") }
        })
        .await;
    assert_eq!(result, Err("down"));
    // Waits 1, 2, 4 end at 7 s; the next wait (8 s) would end at 15 s, past 10 s.
    assert_eq!(*starts.lock().unwrap(), [0, 1, 3, 7]);
    assert_eq!(
        began.elapsed(),
        Duration::from_secs(7),
        "it gave up without sleeping"
    );
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_counts_time_spent_in_attempts() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .unlimited_attempts()
        .max_elapsed(Duration::from_secs(10))
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let began = Instant::now();
    let result: Result<(), &str> = policy
        .run(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Err("slow failure")
            }
        })
        .await;
    assert!(result.is_err());
    // Attempts start at 0, 4, 8: after the third ends at 11 s no wait fits.
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(began.elapsed(), Duration::from_secs(11));
}

#[tokio::test(start_paused = true)]
async fn max_elapsed_is_measured_from_the_first_poll() {
    let policy = RetryPolicy::constant(Duration::from_secs(4))
        .unlimited_attempts()
        .max_elapsed(Duration::from_secs(10))
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let run = policy.run(|| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>("down") }
    });
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(run.await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 3, "attempts at 0, 4 and 8 s");
}

#[tokio::test(start_paused = true)]
async fn a_hung_attempt_times_out_and_is_retried() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .max_attempts(3)
        .attempt_timeout(Duration::from_secs(5))
        // Timeouts are retried even when the predicate would refuse other errors.
        .retry_if(|_: &Error| false)
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let began = Instant::now();
    let result = policy
        .run(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    std::future::pending::<()>().await;
                }
                Ok::<_, Error>(n)
            }
        })
        .await;
    assert_eq!(result.unwrap(), 2);
    assert_eq!(began.elapsed(), Duration::from_secs(5 + 1 + 5 + 1));
}

#[derive(Debug, PartialEq)]
enum FetchError {
    Timeout(Duration),
    Other,
}

impl From<uno_retry::Error> for FetchError {
    fn from(error: uno_retry::Error) -> Self {
        match error {
            uno_retry::Error::AttemptTimedOut { timeout } => Self::Timeout(timeout),
            _ => Self::Other,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_last_timeout_is_returned_as_the_operation_error() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .max_attempts(2)
        .attempt_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let result: Result<(), FetchError> = policy.run(std::future::pending).await;
    assert_eq!(result, Err(FetchError::Timeout(Duration::from_millis(300))));

    let io_policy = RetryPolicy::constant(Duration::from_secs(1))
        .max_attempts(1)
        .attempt_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let result: Result<(), Error> = io_policy.run(std::future::pending).await;
    let error = result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut);
    assert!(
        error.to_string().contains("attempt timed out after 300ms"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_attempt_finishing_in_time_is_not_affected_by_the_timeout() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .attempt_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let result = policy
        .run(|| async {
            tokio::time::sleep(Duration::from_secs(4)).await;
            Ok::<_, Error>("in time")
        })
        .await;
    assert_eq!(result.unwrap(), "in time");
}
