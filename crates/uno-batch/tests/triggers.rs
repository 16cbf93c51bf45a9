//! When a batch is sent: size, time, a lone item, and a zero wait time.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

mod common;

use std::time::Duration;

use common::{FOREVER, Recorder, expected};
use futures_util::FutureExt as _;
use tokio::time::Instant;
use uno_batch::AsyncBatcher;

#[tokio::test(start_paused = true)]
async fn a_full_batch_is_sent_at_once_without_waiting() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(3)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();
    let started = Instant::now();

    let (a, b, c) = tokio::join!(batcher.add(1), batcher.add(2), batcher.add(3));

    assert_eq!(
        (a, b, c),
        (Ok(expected(1)), Ok(expected(2)), Ok(expected(3)))
    );
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "no wait for a full batch"
    );
    assert_eq!(recorder.batches(), vec![vec![1, 2, 3]]);
}

#[tokio::test(start_paused = true)]
async fn a_batch_never_exceeds_max_batch_size() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(3)
        .max_wait_time(Duration::from_millis(10))
        .build()
        .unwrap();

    let tickets: Vec<_> = (0..7).map(|item| batcher.try_add(item).unwrap()).collect();
    for (item, ticket) in (0..7).zip(tickets) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }

    assert_eq!(
        recorder.batches(),
        vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]],
        "items keep their order and batches are cut at max_batch_size"
    );
}

#[tokio::test(start_paused = true)]
async fn a_partial_batch_is_sent_when_its_oldest_item_has_waited_max_wait_time() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(100)
        .max_wait_time(Duration::from_millis(100))
        .build()
        .unwrap();
    let started = Instant::now();

    let mut first = batcher.try_add(1).unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let second = batcher.try_add(2).unwrap();

    // 99 ms after the first item, nothing has been sent.
    tokio::time::sleep_until(started + Duration::from_millis(99)).await;
    assert!((&mut first).now_or_never().is_none());
    assert!(recorder.batches().is_empty());

    assert_eq!(first.await, Ok(expected(1)));
    assert_eq!(second.await, Ok(expected(2)));
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(100),
        "the wait counts from the first item, not the last"
    );
    assert_eq!(recorder.batches(), vec![vec![1, 2]]);
}

#[tokio::test(start_paused = true)]
async fn a_lone_item_is_sent_after_max_wait_time_even_if_nothing_else_arrives() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(100)
        .max_wait_time(Duration::from_millis(250))
        .build()
        .unwrap();
    let started = Instant::now();

    assert_eq!(batcher.add(42).await, Ok(expected(42)));

    assert_eq!(started.elapsed(), Duration::from_millis(250));
    assert_eq!(recorder.batches(), vec![vec![42]]);
}

#[tokio::test(start_paused = true)]
async fn each_new_batch_gets_its_own_full_wait() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(100)
        .max_wait_time(Duration::from_millis(100))
        .build()
        .unwrap();

    assert_eq!(batcher.add(1).await, Ok(expected(1)));
    let second_started = Instant::now();
    assert_eq!(batcher.add(2).await, Ok(expected(2)));

    assert_eq!(second_started.elapsed(), Duration::from_millis(100));
    assert_eq!(recorder.batches(), vec![vec![1], vec![2]]);
}

#[tokio::test(start_paused = true)]
async fn zero_wait_time_sends_as_soon_as_the_worker_sees_the_item() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(100)
        .max_wait_time(Duration::ZERO)
        .build()
        .unwrap();
    let started = Instant::now();

    assert_eq!(batcher.add(7).await, Ok(expected(7)));

    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(recorder.batches(), vec![vec![7]]);
}

#[tokio::test(start_paused = true)]
async fn a_wait_time_too_long_to_represent_means_no_time_limit() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(2)
        .max_wait_time(Duration::MAX)
        .build()
        .unwrap();

    let mut lone = batcher.try_add(1).unwrap();
    common::settle().await;
    assert!((&mut lone).now_or_never().is_none());

    assert_eq!(batcher.add(2).await, Ok(expected(2)));
    assert_eq!(lone.await, Ok(expected(1)));
}

async fn many_callers_share_batches_and_get_their_own_outputs() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(10)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();

    let callers: Vec<_> = (0..100)
        .map(|item| {
            let batcher = batcher.clone();
            tokio::spawn(async move { (item, batcher.add(item).await) })
        })
        .collect();
    for caller in callers {
        let (item, output) = caller.await.unwrap();
        assert_eq!(output, Ok(expected(item)));
    }

    let batches = recorder.batches();
    assert_eq!(batches.len(), 10, "only full batches: {batches:?}");
    let mut seen: Vec<u64> = batches.concat();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..100).collect::<Vec<_>>(),
        "each item sent exactly once"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn many_callers_share_batches_and_get_their_own_outputs_current_thread() {
    many_callers_share_batches_and_get_their_own_outputs().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_callers_share_batches_and_get_their_own_outputs_multi_thread() {
    many_callers_share_batches_and_get_their_own_outputs().await;
}
