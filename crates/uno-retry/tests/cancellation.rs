//! Dropping a run stops it: no attempt starts afterwards.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use uno_retry::RetryPolicy;

#[tokio::test(start_paused = true)]
async fn dropping_the_run_during_a_sleep_makes_no_further_attempt() {
    let policy = RetryPolicy::constant(Duration::from_secs(10))
        .max_attempts(5)
        .build()
        .unwrap();
    let calls = AtomicU32::new(0);
    let run = policy.run(|| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>("down") }
    });
    // The first attempt fails at once; the run is then sleeping for 10 s.
    let outcome = tokio::time::timeout(Duration::from_secs(5), run).await;
    assert!(outcome.is_err(), "the timeout dropped the run mid-sleep");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Sets its flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_run_during_an_attempt_drops_the_attempt() {
    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .build()
        .unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let calls = AtomicU32::new(0);
    let run = policy.run(|| {
        calls.fetch_add(1, Ordering::SeqCst);
        let guard = DropFlag(Arc::clone(&dropped));
        async move {
            let _guard = guard;
            std::future::pending::<Result<(), ()>>().await
        }
    });
    let outcome = tokio::time::timeout(Duration::from_secs(5), run).await;
    assert!(outcome.is_err());
    assert!(
        dropped.load(Ordering::SeqCst),
        "the running attempt was dropped"
    );
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Spawns a run whose attempts fail and whose delay is an hour, aborts it once the
/// first attempt has happened, and checks that no other attempt started.
async fn abort_while_sleeping() {
    let policy = RetryPolicy::constant(Duration::from_secs(3600))
        .unlimited_attempts()
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU32::new(0));
    let first_attempt = Arc::new(Notify::new());
    let task = {
        let calls = Arc::clone(&calls);
        let first_attempt = Arc::clone(&first_attempt);
        tokio::spawn(async move {
            policy
                .run(|| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    first_attempt.notify_one();
                    async { Err::<(), _>("down") }
                })
                .await
        })
    };
    first_attempt.notified().await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn aborting_a_spawned_run_stops_it_on_current_thread() {
    abort_while_sleeping().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborting_a_spawned_run_stops_it_on_multi_thread() {
    abort_while_sleeping().await;
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "`Retry` polled after completion")]
async fn polling_after_completion_panics() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    let policy = RetryPolicy::constant(Duration::from_secs(1))
        .build()
        .unwrap();
    let mut run = Box::pin(policy.run(|| async { Ok::<_, ()>(1) }));
    let mut cx = Context::from_waker(Waker::noop());
    assert_eq!(run.as_mut().poll(&mut cx), Poll::Ready(Ok(1)));
    let _ = run.as_mut().poll(&mut cx);
}
