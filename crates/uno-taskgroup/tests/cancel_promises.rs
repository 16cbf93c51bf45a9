//! Poll-level checks of documented cancel-safety promises: a future polled once (so
//! it has registered its interest) and then dropped, as `select!` does to a losing
//! branch.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::Duration;

use uno_taskgroup::TaskGroup;

/// Polls `future` exactly once.
async fn poll_once<F: Future>(mut future: Pin<&mut F>) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
}

/// `join_next`: "dropping the future loses no outcome and leaves the tasks running",
/// also when the outcome arrived between its first poll and its drop.
#[tokio::test(start_paused = true)]
async fn join_next_dropped_after_its_first_poll_loses_no_outcome() {
    let mut group = TaskGroup::<u64, &str>::new();
    for n in 0..3_u64 {
        group
            .spawn(async move {
                tokio::time::sleep(Duration::from_secs(n + 1)).await;
                Ok(n)
            })
            .unwrap();
    }
    {
        let next = pin!(group.join_next());
        assert!(poll_once(next).await.is_pending());
        // Task 0 finishes (and wakes the future), but the future is dropped unpolled.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    assert_eq!(group.len(), 2, "the other tasks keep running");
    let mut outcomes = Vec::new();
    while let Some(outcome) = group.join_next().await {
        outcomes.push(outcome.unwrap());
    }
    assert_eq!(outcomes, [0, 1, 2]);
}
