//! `BatchPolicy`: when a batch that is not full is sent. `Window` waits out
//! `max_wait_time`; `Immediate` sends whenever the operation has a free slot, so
//! batches grow only under load; `Balanced` sends at once when no batch runs and waits
//! as `Window` while one does. On paused time, so every instant is exact.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers"
)]

mod common;

use std::time::Duration;

use common::{FOREVER, Gated, Recorder, expected};
use tokio::time::Instant;
use uno_batch::{AsyncBatcher, BatchPolicy};

const WINDOW: Duration = Duration::from_millis(100);

#[tokio::test(start_paused = true)]
async fn the_default_waits_out_the_window_for_a_lone_item() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_wait_time(WINDOW)
        .build()
        .unwrap();
    let started = Instant::now();
    assert_eq!(batcher.add(1).await, Ok(expected(1)));
    assert_eq!(started.elapsed(), WINDOW);
    let explicit = AsyncBatcher::builder(recorder.op())
        .max_wait_time(WINDOW)
        .policy(BatchPolicy::Window)
        .build()
        .unwrap();
    let started = Instant::now();
    assert_eq!(explicit.add(2).await, Ok(expected(2)));
    assert_eq!(started.elapsed(), WINDOW);
    assert_eq!(BatchPolicy::default(), BatchPolicy::Window);
}

#[tokio::test(start_paused = true)]
async fn immediate_and_balanced_send_a_lone_item_at_once() {
    for policy in [BatchPolicy::Immediate, BatchPolicy::Balanced] {
        let recorder = Recorder::default();
        let batcher = AsyncBatcher::builder(recorder.op())
            .max_wait_time(FOREVER)
            .policy(policy)
            .build()
            .unwrap();
        let started = Instant::now();
        assert_eq!(batcher.add(1).await, Ok(expected(1)), "{policy:?}");
        assert_eq!(batcher.add(2).await, Ok(expected(2)), "{policy:?}");
        assert_eq!(started.elapsed(), Duration::ZERO, "{policy:?}");
        assert_eq!(recorder.batches(), [vec![1], vec![2]], "{policy:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn immediate_batches_grow_only_while_every_slot_is_busy() {
    let gated = Gated::new(2);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(10)
        .max_wait_time(FOREVER)
        .max_concurrent_batches(1)
        .policy(BatchPolicy::Immediate)
        .build()
        .unwrap();
    let first = batcher.try_add(1).unwrap();
    gated.wait_started(1).await;
    // The only slot is busy: these queue up together.
    let rest: Vec<_> = (2..=5).map(|item| batcher.try_add(item).unwrap()).collect();
    tokio::task::yield_now().await;
    assert_eq!(
        gated.started(),
        1,
        "nothing else starts while the slot is busy"
    );
    let started = Instant::now();
    gated.open(0);
    assert_eq!(first.await, Ok(expected(1)));
    gated.wait_started(2).await;
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "sent as soon as the slot freed"
    );
    gated.open(1);
    for (item, ticket) in (2..=5).zip(rest) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    assert_eq!(gated.recorder.batches(), [vec![1], vec![2, 3, 4, 5]]);
}

#[tokio::test(start_paused = true)]
async fn immediate_fills_every_free_slot_and_still_cuts_at_max_batch_size() {
    let gated = Gated::new(3);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(2)
        .max_wait_time(FOREVER)
        .max_concurrent_batches(2)
        .policy(BatchPolicy::Immediate)
        .build()
        .unwrap();
    let a = batcher.try_add(1).unwrap();
    gated.wait_started(1).await;
    let b = batcher.try_add(2).unwrap();
    gated.wait_started(2).await;
    // Both slots busy: three items queue, and go as a full batch and a partial one.
    let rest: Vec<_> = (3..=5).map(|item| batcher.try_add(item).unwrap()).collect();
    tokio::task::yield_now().await;
    assert_eq!(gated.peak_running(), 2);
    gated.open(0);
    assert_eq!(a.await, Ok(expected(1)));
    gated.wait_started(3).await;
    gated.open(1);
    gated.open(2);
    assert_eq!(b.await, Ok(expected(2)));
    for (item, ticket) in (3..=5).zip(rest) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    assert_eq!(
        gated.recorder.batches(),
        [vec![1], vec![2], vec![3, 4], vec![5]]
    );
    assert!(gated.peak_running() <= 2);
}

#[tokio::test(start_paused = true)]
async fn balanced_waits_as_window_while_a_batch_runs() {
    let gated = Gated::new(1);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(10)
        .max_wait_time(WINDOW)
        .max_concurrent_batches(2)
        .policy(BatchPolicy::Balanced)
        .build()
        .unwrap();
    let first = batcher.try_add(1).unwrap();
    gated.wait_started(1).await;
    // A batch runs, so the second item waits out the window although a slot is free.
    let started = Instant::now();
    assert_eq!(batcher.add(2).await, Ok(expected(2)));
    assert_eq!(started.elapsed(), WINDOW);
    gated.open(0);
    assert_eq!(first.await, Ok(expected(1)));
    assert_eq!(gated.recorder.batches(), [vec![1], vec![2]]);
}

#[tokio::test(start_paused = true)]
async fn balanced_sends_what_queued_as_soon_as_the_operation_is_idle() {
    let gated = Gated::new(1);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(10)
        .max_wait_time(FOREVER)
        .max_concurrent_batches(2)
        .policy(BatchPolicy::Balanced)
        .build()
        .unwrap();
    let first = batcher.try_add(1).unwrap();
    gated.wait_started(1).await;
    let rest: Vec<_> = (2..=4).map(|item| batcher.try_add(item).unwrap()).collect();
    tokio::task::yield_now().await;
    assert_eq!(gated.started(), 1, "a batch runs: the others wait");
    let started = Instant::now();
    gated.open(0);
    assert_eq!(first.await, Ok(expected(1)));
    for (item, ticket) in (2..=4).zip(rest) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "sent when the first finished"
    );
    assert_eq!(gated.recorder.batches(), [vec![1], vec![2, 3, 4]]);
}

#[tokio::test(start_paused = true)]
async fn cancelled_items_are_never_sent_under_any_policy() {
    for policy in [
        BatchPolicy::Window,
        BatchPolicy::Immediate,
        BatchPolicy::Balanced,
    ] {
        let gated = Gated::new(1);
        let batcher = AsyncBatcher::builder(gated.op())
            .max_batch_size(10)
            .max_wait_time(WINDOW)
            .policy(policy)
            .build()
            .unwrap();
        let first = batcher.try_add(1).unwrap();
        gated.wait_started(1).await;
        let cancelled = batcher.try_add(2).unwrap();
        let kept = batcher.try_add(3).unwrap();
        drop(cancelled);
        gated.open(0);
        assert_eq!(first.await, Ok(expected(1)), "{policy:?}");
        assert_eq!(kept.await, Ok(expected(3)), "{policy:?}");
        assert_eq!(gated.recorder.batches(), [vec![1], vec![3]], "{policy:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn every_policy_holds_at_the_extremes() {
    for policy in [
        BatchPolicy::Window,
        BatchPolicy::Immediate,
        BatchPolicy::Balanced,
    ] {
        let recorder = Recorder::default();
        let batcher = AsyncBatcher::builder(recorder.op())
            .max_batch_size(usize::MAX)
            .max_wait_time(Duration::MAX)
            .max_concurrent_batches(usize::MAX)
            .max_pending(usize::MAX)
            .policy(policy)
            .build()
            .unwrap();
        let tickets: Vec<_> = (0..3).map(|item| batcher.try_add(item).unwrap()).collect();
        // Window never sends a partial batch by itself here; close sends it.
        batcher.close().await;
        for (item, ticket) in (0..3).zip(tickets) {
            assert_eq!(ticket.await, Ok(expected(item)), "{policy:?}");
        }
        let sent: usize = recorder.batches().iter().map(Vec::len).sum();
        assert_eq!(sent, 3, "{policy:?}: each item once");
    }
}
