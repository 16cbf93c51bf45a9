//! Cancelling is cheap: each cancelled caller costs the worker O(1), not a scan of the
//! queue. Overload, when callers time out en masse, is exactly when cancellations come
//! in bulk. The guarantees hold all the same: a cancelled item still queued is never
//! sent, its room comes back at once, and every other caller gets its own output.
//!
//! These tests do not time anything, and no assertion depends on speed: they are a
//! guard. Each lets the worker run after every single cancellation of tens of thousands
//! of queued items. With a scan per cancellation that is ~10^9 steps (each took over a
//! minute before the fix); with O(1) per cancellation each takes a fraction of a
//! second. The exact bound is checked by
//! counting the worker's steps in a unit test beside the worker (`src/worker.rs`).
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for callers that time out"
)]

mod common;

use std::time::Duration;

use common::{FOREVER, Recorder, expected, settle};
use tokio::task::yield_now;
use uno_batch::{AsyncBatcher, BatchError};

/// Tickets dropped one by one.
const QUEUED: u64 = 50_000;
/// Callers timing out one by one (each is a task, so fewer).
const CALLERS: u64 = 20_000;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn fifty_thousand_tickets_dropped_one_by_one_cost_the_worker_no_scan_each() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(usize::MAX)
        .max_wait_time(FOREVER)
        .max_pending(usize::try_from(QUEUED).unwrap())
        .build()
        .unwrap();
    let mut tickets: Vec<_> = (0..QUEUED)
        .map(|item| batcher.try_add(item).unwrap())
        .collect();
    // The worker takes them all into its queue.
    settle().await;
    assert!(batcher.try_add(QUEUED).unwrap_err().is_full());

    // Newest first, the worst order for a scan from the front; the worker gets to run
    // after every single cancellation.
    let kept = tickets.remove(0);
    while let Some(ticket) = tickets.pop() {
        drop(ticket);
        yield_now().await;
    }

    // Every cancelled item's room came back.
    let refill: Vec<_> = (QUEUED..2 * QUEUED - 1)
        .map(|item| batcher.try_add(item).expect("room was given back"))
        .collect();
    assert!(batcher.try_add(2 * QUEUED).unwrap_err().is_full());
    batcher.flush().await;

    assert_eq!(kept.await, Ok(expected(0)));
    for (item, ticket) in (QUEUED..).zip(refill) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    let sent: Vec<u64> = recorder.batches().concat();
    assert_eq!(
        sent,
        std::iter::once(0)
            .chain(QUEUED..2 * QUEUED - 1)
            .collect::<Vec<_>>(),
        "no cancelled item was sent, and the others in order"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn twenty_thousand_callers_timing_out_one_by_one_are_cheap_and_never_sent() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(usize::MAX)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();
    // Each caller gives up after its own timeout, a millisecond apart, so the
    // cancellations come one at a time with the worker running in between.
    let callers: Vec<_> = (0..CALLERS)
        .map(|item| {
            let batcher = batcher.clone();
            tokio::spawn(async move {
                tokio::time::timeout(Duration::from_millis(item + 1), batcher.add(item)).await
            })
        })
        .collect();
    for caller in callers {
        assert!(caller.await.unwrap().is_err(), "every caller timed out");
    }

    let last = batcher.add(CALLERS);
    let (last, ()) = tokio::join!(last, async {
        settle().await;
        batcher.flush().await;
    });
    assert_eq!(last, Ok(expected(CALLERS)));
    assert_eq!(recorder.batches(), vec![vec![CALLERS]]);
    batcher.close().await;
    assert_eq!(batcher.add(1).await, Err(BatchError::Closed));
}
