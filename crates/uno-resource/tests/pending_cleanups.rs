//! A tracker names the cleanups still pending, for exit reports.

use std::convert::Infallible;
use std::time::Duration;

use uno_resource::{AsyncResource, CleanupTracker, Managed};

struct SlowToClose;

impl AsyncResource for SlowToClose {
    type Error = Infallible;

    async fn initialize(&mut self) -> Result<(), Infallible> {
        Ok(())
    }

    async fn cleanup(&mut self) -> Result<(), Infallible> {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn pending_cleanups_name_each_resource_until_its_cleanup_ends() {
    let tracker = CleanupTracker::new();
    let first = Managed::open_in(SlowToClose, &tracker).await.unwrap();
    let second = Managed::open_in(SlowToClose, &tracker).await.unwrap();
    drop(first);
    drop(second);

    assert_eq!(
        tracker.pending_cleanups(),
        [
            "pending_cleanups::SlowToClose",
            "pending_cleanups::SlowToClose"
        ]
    );
    tracker.wait().await;
    assert!(tracker.pending_cleanups().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_close_abandoned_part_way_is_named_until_it_finishes() {
    let tracker = CleanupTracker::new();
    let resource = Managed::open_in(SlowToClose, &tracker).await.unwrap();
    let close = resource.close();
    assert!(
        tokio::time::timeout(Duration::from_millis(10), close)
            .await
            .is_err()
    );

    assert_eq!(
        tracker.pending_cleanups(),
        ["pending_cleanups::SlowToClose"]
    );
    tracker.wait().await;
    assert!(tracker.pending_cleanups().is_empty());
}
