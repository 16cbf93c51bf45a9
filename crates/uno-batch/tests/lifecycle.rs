//! `flush`, `close`, dropping the last handle, a runtime shutting down, and building.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

mod common;

use std::time::Duration;

use common::{FOREVER, Gated, OpError, Recorder, expected, settle};
use futures_util::FutureExt as _;
use tokio::time::Instant;
use uno_batch::{AsyncBatcher, BatchError, BuildError, Ticket};

#[tokio::test(start_paused = true)]
async fn flush_sends_a_partial_batch_now_and_resolves_once_it_is_processed() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(100)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();
    let started = Instant::now();

    let mut tickets: Vec<_> = (0..3).map(|item| batcher.try_add(item).unwrap()).collect();
    batcher.flush().await;

    assert_eq!(started.elapsed(), Duration::ZERO);
    for (item, ticket) in (0..3).zip(&mut tickets) {
        assert_eq!(
            ticket.now_or_never(),
            Some(Ok(expected(item))),
            "already done"
        );
    }
    assert_eq!(recorder.batches(), vec![vec![0, 1, 2]]);
}

#[tokio::test(start_paused = true)]
async fn flush_respects_max_batch_size() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(2)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();

    let tickets: Vec<_> = (0..5).map(|item| batcher.try_add(item).unwrap()).collect();
    batcher.flush().await;

    assert_eq!(recorder.batches(), vec![vec![0, 1], vec![2, 3], vec![4]]);
    for (item, ticket) in (0..5).zip(tickets) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
}

#[tokio::test(start_paused = true)]
async fn flush_with_nothing_queued_returns_at_once() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op()).build().unwrap();
    let started = Instant::now();

    batcher.flush().await;

    assert_eq!(started.elapsed(), Duration::ZERO);
    assert!(recorder.batches().is_empty());
}

#[tokio::test(start_paused = true)]
async fn flush_waits_for_the_batch_already_running() {
    let gated = Gated::new(1);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(1)
        .build()
        .unwrap();
    let ticket = batcher.try_add(1).unwrap();
    gated.wait_started(1).await;

    let flush = tokio::spawn({
        let batcher = batcher.clone();
        async move { batcher.flush().await }
    });
    settle().await;
    assert!(!flush.is_finished(), "the running batch holds the flush");

    gated.open(0);
    flush.await.unwrap();
    assert_eq!(ticket.now_or_never(), Some(Ok(expected(1))));
}

async fn close_sends_what_is_queued_waits_for_running_batches_and_refuses_new_items() {
    let gated = Gated::new(1);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(2)
        .max_pending(10)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();
    let running: Vec<_> = (0..2).map(|item| batcher.try_add(item).unwrap()).collect();
    gated.wait_started(1).await;
    let queued = batcher.try_add(2).unwrap();

    let close = tokio::spawn({
        let batcher = batcher.clone();
        async move { batcher.close().await }
    });
    // Once closing has begun, nothing new gets in...
    while !batcher.is_closed() {
        tokio::task::yield_now().await;
    }
    let refused = batcher.try_add(3).unwrap_err();
    assert_eq!(refused.error(), &BatchError::Closed);
    assert!(!refused.is_full());
    assert_eq!(refused.into_item(), 3);
    assert_eq!(batcher.add(4).await, Err(BatchError::Closed));

    // ...and close waits for the running batch.
    gated.open(0);
    close.await.unwrap();
    for (item, ticket) in (0..2).zip(running) {
        assert_eq!(ticket.now_or_never(), Some(Ok(expected(item))));
    }
    assert_eq!(
        queued.now_or_never(),
        Some(Ok(expected(2))),
        "accepted before close"
    );
    assert_eq!(gated.recorder.batches(), vec![vec![0, 1], vec![2]]);

    // Closing again, or flushing, returns at once.
    batcher.close().await;
    batcher.flush().await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn close_drains_and_refuses_current_thread() {
    close_sends_what_is_queued_waits_for_running_batches_and_refuses_new_items().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_drains_and_refuses_multi_thread() {
    close_sends_what_is_queued_waits_for_running_batches_and_refuses_new_items().await;
}

#[tokio::test(start_paused = true)]
async fn close_wakes_callers_waiting_for_room_with_closed() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_pending(1)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();
    let accepted = batcher.try_add(1).unwrap();
    let waiting = tokio::spawn({
        let batcher = batcher.clone();
        async move { batcher.add(2).await }
    });
    settle().await;

    batcher.close().await;

    assert_eq!(waiting.await.unwrap(), Err(BatchError::Closed));
    assert_eq!(accepted.await, Ok(expected(1)));
    assert_eq!(recorder.batches(), vec![vec![1]]);
}

#[tokio::test(start_paused = true)]
async fn closing_one_clone_closes_them_all() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op()).build().unwrap();
    let clone = batcher.clone();

    clone.close().await;

    assert!(batcher.is_closed());
    assert_eq!(batcher.add(1).await, Err(BatchError::Closed));
    batcher.close().await;
}

async fn dropping_the_last_handle_sends_every_accepted_item_at_once() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(3)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();
    let tickets: Vec<_> = (0..7).map(|item| batcher.try_add(item).unwrap()).collect();
    let clone = batcher.clone();
    drop(batcher);
    drop(clone);

    // Each ticket still gets its output: with an hour-long wait and no full batch for
    // the last item, only the drain on drop can send it. The timeout only guards
    // against a hang.
    let outputs = tokio::time::timeout(
        Duration::from_secs(60),
        futures_util::future::join_all(tickets),
    )
    .await
    .expect("the drain sends everything without waiting");
    let expected: Vec<_> = (0..7).map(|item| Ok(expected(item))).collect();
    assert_eq!(outputs, expected);
    let mut batches = recorder.batches();
    batches.sort_unstable();
    assert_eq!(batches, vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn dropping_the_last_handle_sends_every_accepted_item_current_thread() {
    let started = Instant::now();
    dropping_the_last_handle_sends_every_accepted_item_at_once().await;
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "no wait for the time trigger"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_sends_every_accepted_item_multi_thread() {
    dropping_the_last_handle_sends_every_accepted_item_at_once().await;
}

#[tokio::test(start_paused = true)]
async fn dropping_the_last_handle_lets_running_and_waiting_batches_finish() {
    let gated = Gated::new(1);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(1)
        .build()
        .unwrap();
    let running = batcher.try_add(1).unwrap();
    gated.wait_started(1).await;
    let queued = batcher.try_add(2).unwrap();
    drop(batcher);
    settle().await;

    gated.open(0);
    assert_eq!(running.await, Ok(expected(1)));
    assert_eq!(queued.await, Ok(expected(2)));
}

#[test]
fn a_runtime_shutting_down_gives_waiting_callers_stopped() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let gated = Gated::new(1);
    let (running, queued): (Ticket<u64, OpError>, Ticket<u64, OpError>) = runtime.block_on(async {
        let batcher = AsyncBatcher::builder(gated.op())
            .max_batch_size(1)
            .build()
            .unwrap();
        let running = batcher.try_add(1).unwrap();
        gated.wait_started(1).await;
        let queued = batcher.try_add(2).unwrap();
        // Keep the handle alive past the runtime, as a long-lived service would.
        std::mem::forget(batcher);
        (running, queued)
    });

    drop(runtime);

    assert_eq!(running.now_or_never(), Some(Err(BatchError::Stopped)));
    assert_eq!(queued.now_or_never(), Some(Err(BatchError::Stopped)));
}

#[tokio::test]
async fn build_rejects_zero_sizes_with_a_message_naming_the_setting() {
    fn op(items: Vec<u8>) -> std::future::Ready<Result<Vec<u8>, OpError>> {
        std::future::ready(Ok(items))
    }
    let zero_batch = AsyncBatcher::builder(op)
        .max_batch_size(0)
        .build()
        .unwrap_err();
    let zero_pending = AsyncBatcher::builder(op)
        .max_pending(0)
        .build()
        .unwrap_err();
    let zero_concurrency = AsyncBatcher::builder(op)
        .max_concurrent_batches(0)
        .build()
        .unwrap_err();

    for (error, expected, setting) in [
        (zero_batch, BuildError::ZeroMaxBatchSize, "max_batch_size"),
        (zero_pending, BuildError::ZeroMaxPending, "max_pending"),
        (
            zero_concurrency,
            BuildError::ZeroMaxConcurrentBatches,
            "max_concurrent_batches",
        ),
    ] {
        assert_eq!(error, expected);
        assert!(error.to_string().contains(setting), "{error}");
    }
    let zero_wait = AsyncBatcher::builder(op)
        .max_wait_time(Duration::ZERO)
        .build();
    assert!(zero_wait.is_ok(), "a zero wait time is allowed");
}

#[test]
fn build_outside_a_runtime_is_an_error_not_a_panic() {
    let error = AsyncBatcher::builder(|items: Vec<u8>| async move { Ok::<_, OpError>(items) })
        .build()
        .unwrap_err();
    assert_eq!(error, BuildError::NoRuntime);
    assert!(error.to_string().contains("tokio runtime"));
}

#[test]
fn the_handle_and_its_futures_are_send_and_sync() {
    fn send_sync_clone<T: Send + Sync + Clone>(_: &T) {}
    fn send<T: Send>(_: &T) {}

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let batcher =
            AsyncBatcher::builder(|items: Vec<String>| async move { Ok::<_, OpError>(items) })
                .build()
                .unwrap();
        send_sync_clone(&batcher);
        send(&batcher.add("a".to_owned()));
        send(&batcher.flush());
        send(&batcher.close());
        send(&batcher.try_add("b".to_owned()).unwrap());
        assert!(format!("{batcher:?}").contains("max_batch_size: 100"));
    });
}
