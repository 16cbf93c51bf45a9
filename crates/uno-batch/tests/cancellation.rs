//! Callers that go away: before their batch starts they are removed and never sent;
//! after it started they do not disturb the others.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

mod common;

use std::time::Duration;

use common::{FOREVER, Gated, Recorder, expected, settle};
use uno_batch::AsyncBatcher;

async fn a_ticket_dropped_before_its_batch_starts_is_never_sent() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(3)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();

    let first = batcher.try_add(1).unwrap();
    drop(batcher.try_add(2).unwrap());
    let third = batcher.try_add(3).unwrap();
    let fourth = batcher.try_add(4).unwrap();

    // If the cancelled item took a place, 4 would wait an hour: the timeout turns
    // that hang into a failure (on the paused clock it fires as soon as all is idle).
    let outputs = tokio::time::timeout(Duration::from_secs(30), async {
        (first.await, third.await, fourth.await)
    })
    .await
    .expect("the cancelled item's place went to the next item");
    assert_eq!(outputs, (Ok(expected(1)), Ok(expected(3)), Ok(expected(4))));
    assert_eq!(
        recorder.batches(),
        vec![vec![1, 3, 4]],
        "the cancelled item is removed and its place taken by the next one"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_ticket_dropped_before_its_batch_starts_is_never_sent_current_thread() {
    a_ticket_dropped_before_its_batch_starts_is_never_sent().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_dropped_before_its_batch_starts_is_never_sent_multi_thread() {
    a_ticket_dropped_before_its_batch_starts_is_never_sent().await;
}

#[tokio::test(start_paused = true)]
async fn an_add_cancelled_by_a_timeout_is_removed_and_never_sent() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(10)
        .max_wait_time(Duration::from_secs(1))
        .build()
        .unwrap();

    let timed_out = tokio::time::timeout(Duration::from_millis(10), batcher.add(1)).await;
    assert!(timed_out.is_err());
    let kept = batcher.try_add(2).unwrap();

    assert_eq!(kept.await, Ok(expected(2)));
    assert_eq!(recorder.batches(), vec![vec![2]]);
}

#[tokio::test(start_paused = true)]
async fn a_batch_whose_callers_all_went_away_is_not_sent() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(10)
        .max_wait_time(Duration::from_millis(5))
        .build()
        .unwrap();

    drop(batcher.try_add(1).unwrap());
    drop(batcher.try_add(2).unwrap());
    settle().await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(recorder.batches().is_empty());

    assert_eq!(batcher.add(3).await, Ok(expected(3)));
    assert_eq!(recorder.batches(), vec![vec![3]]);
}

async fn a_caller_gone_after_its_batch_started_does_not_disturb_the_others() {
    let gated = Gated::new(1);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(3)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();

    let first = batcher.try_add(1).unwrap();
    let second = batcher.try_add(2).unwrap();
    let third = batcher.try_add(3).unwrap();
    gated.wait_started(1).await;
    drop(second);
    gated.open(0);

    assert_eq!(first.await, Ok(expected(1)));
    assert_eq!(third.await, Ok(expected(3)));
    assert_eq!(gated.recorder.batches(), vec![vec![1, 2, 3]]);

    // And the batcher goes on.
    let (a, b, c) = tokio::join!(batcher.try_add(4).unwrap(), batcher.add(5), batcher.add(6));
    assert_eq!(
        (a, b, c),
        (Ok(expected(4)), Ok(expected(5)), Ok(expected(6)))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_caller_gone_after_its_batch_started_does_not_disturb_the_others_current_thread() {
    a_caller_gone_after_its_batch_started_does_not_disturb_the_others().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_gone_after_its_batch_started_does_not_disturb_the_others_multi_thread() {
    a_caller_gone_after_its_batch_started_does_not_disturb_the_others().await;
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_caller_gives_its_room_back_before_the_batch_is_due() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(10)
        .max_pending(1)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();

    drop(batcher.try_add(1).unwrap());
    // The room comes back when the worker removes the cancelled item, long before
    // the hour-long wait. If it never came back, the runtime would go idle, the
    // paused clock would jump, and the timeout would fail the test.
    let second = tokio::spawn({
        let batcher = batcher.clone();
        async move { batcher.add(2).await }
    });
    settle().await;
    assert!(!second.is_finished());
    assert_eq!(recorder.batches(), Vec::<Vec<u64>>::new());

    batcher.flush().await;
    let second = tokio::time::timeout(Duration::from_secs(60), second)
        .await
        .expect("room was given back promptly");
    assert_eq!(second.unwrap(), Ok(expected(2)));
    assert_eq!(recorder.batches(), vec![vec![2]]);
}
