//! `join_next`'s `# Cancel safety` promise, checked at the poll level: a `join_next`
//! future polled once by hand (still pending), then dropped, loses no outcome and
//! leaves the tasks running.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio_test::{assert_pending, task};
use uno_taskgroup::TaskGroup;

/// Far longer than anything here takes.
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_join_next_dropped_while_pending_loses_no_outcome() {
    let mut group = TaskGroup::<u32, std::io::Error>::new();
    let (finish_first, first) = oneshot::channel::<()>();
    let (finish_second, second) = oneshot::channel::<()>();
    group
        .spawn(async move {
            first.await.expect("the test finishes it");
            Ok(1)
        })
        .unwrap();
    group
        .spawn(async move {
            second.await.expect("the test finishes it");
            Ok(2)
        })
        .unwrap();

    {
        let mut join = task::spawn(group.join_next());
        assert_pending!(join.poll());
        // The task finishes while the dropped future was the one waiting for it.
        finish_first.send(()).expect("the task waits");
        tokio::task::yield_now().await;
        assert!(join.is_woken(), "the waiting join_next was woken");
        // Dropped without taking the outcome it was woken for.
    }
    // Bounded, so a lost outcome fails the test instead of hanging it.
    let next = tokio::time::timeout(PATIENCE, group.join_next()).await;
    assert_eq!(next.map(|next| next.map(Result::ok)), Ok(Some(Some(1))));

    // And a dropped join_next leaves the other task running.
    {
        let mut join = task::spawn(group.join_next());
        assert_pending!(join.poll());
    }
    finish_second.send(()).expect("the task still runs");
    assert_eq!(group.join_next().await.map(Result::ok), Some(Some(2)));
    assert!(group.join_next().await.is_none());
}
