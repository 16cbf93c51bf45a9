//! The `# Cancel safety` promises of `flush` and `close`, checked at the poll level: the
//! future is polled once by hand (and is still pending), then dropped, and what the
//! docs promise still happens.

mod common;

use std::time::Duration;

use common::{FOREVER, Recorder, expected};
use tokio::time::Instant;
use tokio_test::{assert_pending, task};
use uno_batch::{AsyncBatcher, BatchError};

type Tickets = Vec<uno_batch::Ticket<u64, common::OpError>>;

/// A batcher holding three items that would wait forever for their batch to fill.
fn three_waiting() -> (Recorder, AsyncBatcher<u64, u64, common::OpError>, Tickets) {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(100)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();
    let tickets = (0..3).map(|item| batcher.try_add(item).unwrap()).collect();
    (recorder, batcher, tickets)
}

#[tokio::test(start_paused = true)]
async fn a_flush_dropped_after_its_first_poll_still_sends_at_once() {
    let (recorder, batcher, tickets) = three_waiting();
    let started = Instant::now();

    let mut flush = task::spawn(batcher.flush());
    assert_pending!(flush.poll());
    drop(flush);

    for (item, ticket) in (0..3).zip(tickets) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "sent at once, not after the window"
    );
    assert_eq!(recorder.batches(), [vec![0, 1, 2]]);
}

#[tokio::test(start_paused = true)]
async fn a_flush_dropped_before_its_first_poll_does_nothing() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_wait_time(Duration::from_secs(1))
        .build()
        .unwrap();
    let ticket = batcher.try_add(1).unwrap();
    let started = Instant::now();
    drop(batcher.flush());
    assert_eq!(ticket.await, Ok(expected(1)));
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(1),
        "futures do nothing unpolled"
    );
}

#[tokio::test(start_paused = true)]
async fn a_close_dropped_after_its_first_poll_still_closes_and_drains() {
    let (recorder, batcher, tickets) = three_waiting();
    let started = Instant::now();

    let mut close = task::spawn(batcher.close());
    assert_pending!(close.poll());
    drop(close);

    // Closed from that first poll: new items are refused...
    assert!(matches!(batcher.add(9).await, Err(BatchError::Closed)));
    // ...and what was accepted is sent at once and answered.
    for (item, ticket) in (0..3).zip(tickets) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(recorder.batches(), [vec![0, 1, 2]]);
    // A later close waits for the same end, which has come.
    batcher.close().await;
}

#[tokio::test(start_paused = true)]
async fn a_drain_wait_dropped_after_its_first_poll_does_not_affect_the_batchers() {
    let (recorder, batcher, tickets) = three_waiting();
    let draining = uno_batch::Draining::global();
    // The last handle dropped: the batcher drains in the background, registered.
    drop(batcher);
    let mut wait = task::spawn(draining.wait());
    // The worker has not run yet: the drain is still going.
    assert_pending!(wait.poll());
    drop(wait);

    for (item, ticket) in (0..3).zip(tickets) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    draining.wait().await;
    assert_eq!(recorder.batches(), [vec![0, 1, 2]]);
}
