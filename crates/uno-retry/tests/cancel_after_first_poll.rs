//! The `# Cancel safety` promise of `RetryPolicy::run`, checked at the poll level: a run
//! polled once by hand (its first attempt failed, so it sleeps before the next) and
//! dropped makes no further attempt, and one dropped mid-attempt drops that attempt.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio_test::{assert_pending, task};
use uno_retry::RetryPolicy;

#[tokio::test(start_paused = true)]
async fn a_run_dropped_during_its_delay_makes_no_further_attempt() {
    let policy: RetryPolicy<&str> = RetryPolicy::constant(Duration::from_secs(1))
        .max_attempts(5)
        .build()
        .unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let mut run = task::spawn(policy.run(|| {
        let attempts = Arc::clone(&attempts);
        async move {
            attempts.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>("down")
        }
    }));
    assert_pending!(run.poll());
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        1,
        "it is sleeping before the second"
    );
    drop(run);

    tokio::time::advance(Duration::from_secs(10)).await;
    tokio::task::yield_now().await;
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        1,
        "no attempt after the drop"
    );
}

#[tokio::test(start_paused = true)]
async fn a_run_dropped_mid_attempt_drops_that_attempt() {
    let policy: RetryPolicy<&str> = RetryPolicy::constant(Duration::from_secs(1))
        .build()
        .unwrap();
    let live = Arc::new(AtomicUsize::new(0));
    /// Counts itself live until dropped.
    struct Live(Arc<AtomicUsize>);
    impl Drop for Live {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let mut run = task::spawn(policy.run(|| {
        live.fetch_add(1, Ordering::SeqCst);
        let guard = Live(Arc::clone(&live));
        async move {
            let _guard = guard;
            std::future::pending::<Result<(), &str>>().await
        }
    }));
    assert_pending!(run.poll());
    assert_eq!(live.load(Ordering::SeqCst), 1);
    drop(run);
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "the running attempt was dropped"
    );
}
