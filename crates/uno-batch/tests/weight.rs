//! `max_batch_weight`: a batch holds items only while their weights add up to the
//! limit, goes as soon as the queue weighs the limit, and an item heavier than the
//! limit goes alone. On paused time.

mod common;

use std::time::Duration;

use common::{FOREVER, Gated, Recorder, expected};
use tokio::time::Instant;
use uno_batch::{AsyncBatcher, BuildError};

/// Items weigh their own value.
fn own(item: &u64) -> usize {
    usize::try_from(*item).unwrap()
}

#[tokio::test(start_paused = true)]
async fn batches_are_cut_at_the_weight_and_sent_once_it_is_reached() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(100)
        .max_wait_time(FOREVER)
        .max_batch_weight(7, own)
        .build()
        .unwrap();
    let started = Instant::now();
    // 3 + 3 fit; the third 3 would make 9: it starts the next batch, which waits.
    let tickets: Vec<_> = [3, 3, 3, 4]
        .map(|item| batcher.try_add(item).unwrap())
        .into();
    for (item, ticket) in [3, 3, 3, 4].into_iter().zip(tickets) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "each batch went once it weighed 7"
    );
    assert_eq!(recorder.batches(), [vec![3, 3], vec![3, 4]]);
}

#[tokio::test(start_paused = true)]
async fn a_partial_batch_by_weight_still_waits_the_window_and_the_size_still_applies() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(2)
        .max_wait_time(Duration::from_millis(100))
        .max_batch_weight(1_000, own)
        .build()
        .unwrap();
    let started = Instant::now();
    let tickets: Vec<_> = [1, 2, 3].map(|item| batcher.try_add(item).unwrap()).into();
    for (item, ticket) in [1, 2, 3].into_iter().zip(tickets) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    assert_eq!(recorder.batches(), [vec![1, 2], vec![3]]);
}

#[tokio::test(start_paused = true)]
async fn an_item_heavier_than_the_limit_goes_alone_at_once() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_wait_time(FOREVER)
        .max_batch_weight(10, own)
        .build()
        .unwrap();
    let started = Instant::now();
    let two = batcher.try_add(2).unwrap();
    let fifty = batcher.try_add(50).unwrap();
    let three = batcher.try_add(3).unwrap();
    // 2 + 50 weighs over 10, so [2] goes, and [50] goes alone, both at once.
    assert_eq!(two.await, Ok(expected(2)));
    assert_eq!(fifty.await, Ok(expected(50)));
    assert_eq!(started.elapsed(), Duration::ZERO);
    // [3] weighs less than the limit: it waits the window as usual.
    assert_eq!(three.await, Ok(expected(3)));
    assert_eq!(started.elapsed(), FOREVER);
    assert_eq!(recorder.batches(), [vec![2], vec![50], vec![3]]);
}

#[tokio::test(start_paused = true)]
async fn huge_weights_never_overflow() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_wait_time(FOREVER)
        .max_batch_weight(usize::MAX, |_: &u64| usize::MAX)
        .build()
        .unwrap();
    let tickets: Vec<_> = (0..3).map(|item| batcher.try_add(item).unwrap()).collect();
    for (item, ticket) in (0..3).zip(tickets) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    assert_eq!(recorder.batches(), [vec![0], vec![1], vec![2]]);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_heavy_item_neither_goes_nor_holds_the_next_batch_back() {
    let gated = Gated::new(1);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_wait_time(FOREVER)
        .max_batch_weight(10, own)
        .build()
        .unwrap();
    let first = batcher.try_add(10).unwrap();
    gated.wait_started(1).await;
    // Queued while the first batch runs: 4, then a 9 whose caller gives up, then 5.
    let four = batcher.try_add(4).unwrap();
    let nine = batcher.try_add(9).unwrap();
    drop(nine);
    let five = batcher.try_add(5).unwrap();
    gated.open(0);
    assert_eq!(first.await, Ok(expected(10)));
    assert_eq!(four.await, Ok(expected(4)));
    assert_eq!(five.await, Ok(expected(5)));
    assert_eq!(gated.recorder.batches(), [vec![10], vec![4, 5]]);
}

#[tokio::test]
async fn a_zero_weight_limit_is_refused() {
    let recorder = Recorder::default();
    let built = AsyncBatcher::builder(recorder.op())
        .max_batch_weight(0, own)
        .build();
    assert_eq!(built.unwrap_err(), BuildError::ZeroMaxBatchWeight);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_weight_fails_only_its_caller_and_keeps_no_room() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_pending(1)
        .max_wait_time(Duration::ZERO)
        .max_batch_weight(10, |item: &u64| {
            assert_ne!(*item, 13, "unlucky item");
            1
        })
        .build()
        .unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        batcher.try_add(13).map(drop)
    }));
    assert!(
        panicked.is_err(),
        "the caller's weight function panicked in its call"
    );
    // The one slot of room is free again, and the batcher works.
    assert_eq!(batcher.add(1).await, Ok(expected(1)));
    assert_eq!(recorder.batches(), [vec![1]]);
}
