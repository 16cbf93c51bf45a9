//! Poll-level checks of documented cancel-safety promises: `flush` and `close`
//! polled once and then dropped, as `select!` does to a losing branch.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use uno_batch::{AsyncBatcher, BatchError};

/// Polls `future` exactly once.
async fn poll_once<F: Future>(mut future: Pin<&mut F>) -> Poll<F::Output> {
    poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
}

type Batches = Arc<Mutex<Vec<Vec<u32>>>>;

/// A batcher that waits an hour for a full batch, slow to answer, recording batches.
fn slow_batcher(batches: &Batches) -> AsyncBatcher<u32, u32, String> {
    let batches = Arc::clone(batches);
    AsyncBatcher::builder(move |items: Vec<u32>| {
        batches.lock().unwrap().push(items.clone());
        async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, String>(items.iter().map(|item| item * 10).collect())
        }
    })
    .max_batch_size(100)
    .max_wait_time(Duration::from_secs(3600))
    .build()
    .unwrap()
}

/// `flush`: "dropping the future after its first poll does not undo the flush: the
/// items are still sent at once; only the wait is abandoned".
#[tokio::test(start_paused = true)]
async fn flush_dropped_after_its_first_poll_still_sends_the_items_at_once() {
    let batches = Batches::default();
    let batcher = slow_batcher(&batches);
    let first = batcher.try_add(1).unwrap();
    let second = batcher.try_add(2).unwrap();
    {
        let flush = pin!(batcher.flush());
        assert!(
            poll_once(flush).await.is_pending(),
            "the batch takes a second"
        );
    }
    let start = tokio::time::Instant::now();
    assert_eq!((first.await, second.await), (Ok(10), Ok(20)));
    // Sent at once (the batch's own second), not after the hour-long window.
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(*batches.lock().unwrap(), [vec![1, 2]]);
}

/// `close`: "dropping the future does not undo the close: the batcher is closed from
/// the first poll, and the drain goes on in the background".
#[tokio::test(start_paused = true)]
async fn close_dropped_after_its_first_poll_still_closes_and_drains() {
    let batches = Batches::default();
    let batcher = slow_batcher(&batches);
    let queued = batcher.try_add(7).unwrap();
    {
        let close = pin!(batcher.close());
        assert!(
            poll_once(close).await.is_pending(),
            "the drain takes a second"
        );
    }
    assert!(matches!(batcher.add(8).await, Err(BatchError::Closed)));
    assert_eq!(queued.await, Ok(70));
    assert_eq!(*batches.lock().unwrap(), [vec![7]]);
}
