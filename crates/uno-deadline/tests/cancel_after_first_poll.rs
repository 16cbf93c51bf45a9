//! The `# Cancel safety` promise of `within` and `at`, checked at the poll level: the
//! deadline future polled once by hand (the inner future pending) and dropped drops
//! the inner future, and its timer with it, and holds nothing else.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tokio_test::{assert_pending, task};

/// A future that counts itself live until it is dropped, and never finishes.
async fn live_until_dropped(live: Arc<AtomicUsize>) {
    struct Guard(Arc<AtomicUsize>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    live.fetch_add(1, Ordering::SeqCst);
    let _guard = Guard(live);
    std::future::pending::<()>().await;
}

#[tokio::test(start_paused = true)]
async fn a_deadline_dropped_after_its_first_poll_drops_the_inner_future() {
    let live = Arc::new(AtomicUsize::new(0));
    let mut within = task::spawn(uno_deadline::within(
        Duration::from_secs(5),
        live_until_dropped(Arc::clone(&live)),
    ));
    assert_pending!(within.poll());
    let mut at = task::spawn(uno_deadline::at(
        Instant::now() + Duration::from_secs(5),
        live_until_dropped(Arc::clone(&live)),
    ));
    assert_pending!(at.poll());
    assert_eq!(live.load(Ordering::SeqCst), 2);

    drop(within);
    drop(at);
    assert_eq!(
        live.load(Ordering::SeqCst),
        0,
        "both inner futures were dropped"
    );
    assert_eq!(Arc::strong_count(&live), 1, "nothing else holds on to them");
    // The caller's own deadline is untouched: none is set outside the dropped ones.
    assert_eq!(uno_deadline::current(), None);
}
