//! `max_pending` bounds queued items; `max_concurrent_batches` bounds running batches.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

mod common;

use std::time::Duration;

use common::{FOREVER, Gated, Recorder, expected, settle};
use futures_util::FutureExt as _;
use uno_batch::{AsyncBatcher, BatchError};

#[tokio::test(start_paused = true)]
async fn try_add_hands_the_item_back_when_max_pending_items_are_queued() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(10)
        .max_pending(2)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();

    let first = batcher.try_add(1).unwrap();
    let second = batcher.try_add(2).unwrap();
    let full = batcher.try_add(3).unwrap_err();

    assert!(full.is_full());
    assert_eq!(full.error(), &BatchError::Full);
    assert!(full.to_string().contains("max_pending"));
    assert_eq!(*full.item(), 3);
    assert_eq!(full.into_item(), 3);

    batcher.flush().await;
    assert_eq!(
        (first.await, second.await),
        (Ok(expected(1)), Ok(expected(2)))
    );
    // The room is back once the items left the queue.
    let third = batcher.try_add(3).unwrap();
    batcher.flush().await;
    assert_eq!(third.await, Ok(expected(3)));
}

async fn add_waits_for_room_and_items_in_running_batches_do_not_count() {
    let gated = Gated::new(3);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(2)
        .max_pending(2)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();

    // Batch [1, 2] starts and is held; its items left the queue, so there is room.
    let first = batcher.try_add(1).unwrap();
    let second = batcher.try_add(2).unwrap();
    gated.wait_started(1).await;
    let mut queued = [
        add_with_retry(&batcher, 3).await,
        add_with_retry(&batcher, 4).await,
    ];
    // [3, 4] cannot start (one batch at a time), so the queue is full now.
    assert!(batcher.try_add(5).unwrap_err().is_full());
    let waiting = tokio::spawn({
        let batcher = batcher.clone();
        async move { batcher.add(5).await }
    });

    gated.open(0);
    assert_eq!(
        (first.await, second.await),
        (Ok(expected(1)), Ok(expected(2)))
    );
    gated.wait_started(2).await;
    gated.open(1);
    assert_eq!((&mut queued[0]).await, Ok(expected(3)));
    assert_eq!((&mut queued[1]).await, Ok(expected(4)));
    // 5 got in when [3, 4] started; 6 fills its batch. (A flush here could overtake
    // 5 on a multi-thread runtime, where the waiting task may not have queued it yet.)
    gated.open(2);
    let (five, six) = tokio::join!(waiting, batcher.add(6));
    assert_eq!((five.unwrap(), six), (Ok(expected(5)), Ok(expected(6))));
}

/// `try_add`, yielding until the worker has made room.
async fn add_with_retry(
    batcher: &AsyncBatcher<u64, u64, common::OpError>,
    item: u64,
) -> uno_batch::Ticket<u64, common::OpError> {
    let mut item = item;
    loop {
        match batcher.try_add(item) {
            Ok(ticket) => return ticket,
            Err(full) => {
                assert!(full.is_full());
                item = full.into_item();
                tokio::task::yield_now().await;
            }
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn add_waits_for_room_current_thread() {
    add_waits_for_room_and_items_in_running_batches_do_not_count().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_waits_for_room_multi_thread() {
    add_waits_for_room_and_items_in_running_batches_do_not_count().await;
}

#[tokio::test(start_paused = true)]
async fn add_waiting_for_room_is_not_queued_and_can_be_cancelled() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(10)
        .max_pending(1)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();
    let first = batcher.try_add(1).unwrap();

    let mut blocked = Box::pin(batcher.add(2));
    assert!((&mut blocked).now_or_never().is_none());
    drop(blocked);

    batcher.flush().await;
    assert_eq!(first.await, Ok(expected(1)));
    assert_eq!(
        recorder.batches(),
        vec![vec![1]],
        "the waiting item never got in"
    );
}

#[tokio::test(start_paused = true)]
async fn max_pending_below_max_batch_size_sends_by_time() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(10)
        .max_pending(2)
        .max_wait_time(Duration::from_millis(50))
        .build()
        .unwrap();

    let callers: Vec<_> = (0..5)
        .map(|item| {
            let batcher = batcher.clone();
            tokio::spawn(async move { batcher.add(item).await })
        })
        .collect();
    for (item, caller) in (0..5).zip(callers) {
        assert_eq!(caller.await.unwrap(), Ok(expected(item)));
    }
    assert!(recorder.batches().iter().all(|batch| batch.len() <= 2));
}

async fn max_concurrent_batches_bounds_the_batches_running_at_once() {
    let gated = Gated::by_first_item(4, 2);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(2)
        .max_wait_time(FOREVER)
        .max_concurrent_batches(2)
        .build()
        .unwrap();

    let tickets: Vec<_> = (0..8).map(|item| batcher.try_add(item).unwrap()).collect();
    gated.wait_started(2).await;
    // Whatever the worker does meanwhile, a third batch may start only after one of
    // the first two finishes.
    tokio::task::yield_now().await;
    assert_eq!(gated.started(), 2);
    for gate in 0..4 {
        gated.open(gate);
    }
    for (item, ticket) in (0..8).zip(tickets) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    assert_eq!(gated.peak_running(), 2);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn max_concurrent_batches_bounds_running_batches_current_thread() {
    let gated = Gated::new(3);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(2)
        .max_wait_time(FOREVER)
        .max_concurrent_batches(2)
        .build()
        .unwrap();

    let tickets: Vec<_> = (0..6).map(|item| batcher.try_add(item).unwrap()).collect();
    settle().await;
    assert_eq!(gated.started(), 2, "the third batch waits for a free slot");
    gated.open(1);
    gated.wait_started(3).await;
    gated.open(0);
    gated.open(2);
    for (item, ticket) in (0..6).zip(tickets) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    assert_eq!(gated.peak_running(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn max_concurrent_batches_is_never_exceeded_current_thread() {
    max_concurrent_batches_bounds_the_batches_running_at_once().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrent_batches_is_never_exceeded_multi_thread() {
    max_concurrent_batches_bounds_the_batches_running_at_once().await;
}
