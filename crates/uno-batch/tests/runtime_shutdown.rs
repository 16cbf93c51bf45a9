//! A batcher whose worker's runtime shut down: callers get `Stopped` (never `Closed`,
//! which means `close` was called) and never wait for room that cannot come back.

mod common;

use std::time::Duration;

use common::{FOREVER, OpError, Recorder, expected};
use uno_batch::{AsyncBatcher, BatchError};

type Batcher = AsyncBatcher<u64, u64, OpError>;

/// Builds a batcher on runtime A, queues `queued` items there (their tickets are
/// returned), and shuts runtime A down with the batcher handle still alive.
fn batcher_of_a_runtime_that_shut_down(
    max_pending: Option<usize>,
    queued: u64,
) -> (Batcher, Vec<uno_batch::Ticket<u64, OpError>>) {
    let runtime_a = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (batcher, tickets) = runtime_a.block_on(async {
        let builder = AsyncBatcher::builder(Recorder::default().op())
            .max_batch_size(100)
            .max_wait_time(FOREVER);
        let builder = match max_pending {
            Some(max_pending) => builder.max_pending(max_pending),
            None => builder,
        };
        let batcher = builder.build().unwrap();
        let tickets = (0..queued)
            .map(|item| batcher.try_add(item).unwrap())
            .collect::<Vec<_>>();
        (batcher, tickets)
    });
    drop(runtime_a);
    (batcher, tickets)
}

fn runtime_b() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

#[test]
fn add_after_the_workers_runtime_shut_down_is_stopped_not_closed() {
    let (batcher, _) = batcher_of_a_runtime_that_shut_down(None, 0);
    runtime_b().block_on(async {
        assert!(!batcher.is_closed(), "nobody called close");
        // On the paused clock, a hang would jump time forward and fail here.
        let added = tokio::time::timeout(Duration::from_secs(60), batcher.add(1))
            .await
            .expect("add returns at once");
        assert_eq!(added, Err(BatchError::Stopped));
    });
}

#[test]
fn try_add_after_the_workers_runtime_shut_down_hands_the_item_back_with_stopped() {
    let (batcher, _) = batcher_of_a_runtime_that_shut_down(Some(10), 0);
    runtime_b().block_on(async {
        let rejected = batcher.try_add(7).unwrap_err();
        assert_eq!(rejected.error(), &BatchError::Stopped);
        assert!(!rejected.is_full());
        assert_eq!(rejected.into_item(), 7);
    });
}

#[test]
fn add_waiting_for_room_after_the_workers_runtime_shut_down_is_stopped_not_stuck() {
    // The one room is held by an item queued on runtime A; only the worker could
    // give it back, and the worker is gone.
    let (batcher, tickets) = batcher_of_a_runtime_that_shut_down(Some(1), 1);
    runtime_b().block_on(async {
        for ticket in tickets {
            assert_eq!(ticket.await, Err(BatchError::Stopped));
        }
        let added = tokio::time::timeout(Duration::from_secs(60), batcher.add(2))
            .await
            .expect("add must not wait for room that never comes back");
        assert_eq!(added, Err(BatchError::Stopped));
        assert!(batcher.try_add(3).is_err());
    });
}

#[test]
fn flush_and_close_after_the_workers_runtime_shut_down_return() {
    let (batcher, _) = batcher_of_a_runtime_that_shut_down(Some(4), 2);
    runtime_b().block_on(async {
        tokio::time::timeout(Duration::from_secs(60), batcher.flush())
            .await
            .expect("flush returns");
        tokio::time::timeout(Duration::from_secs(60), batcher.close())
            .await
            .expect("close returns");
        // Closed by the caller now, so that is what a new item is told.
        assert_eq!(batcher.add(5).await, Err(BatchError::Closed));
    });
}

#[test]
fn a_batcher_on_a_live_runtime_still_works_after_another_runtime_shut_down() {
    // A guard against confusing the two: a healthy batcher is not `Stopped`.
    let (_stopped, _) = batcher_of_a_runtime_that_shut_down(None, 0);
    runtime_b().block_on(async {
        let batcher = AsyncBatcher::builder(Recorder::default().op())
            .max_wait_time(Duration::ZERO)
            .build()
            .unwrap();
        assert_eq!(batcher.add(4).await, Ok(expected(4)));
    });
}

/// The attack on keys: items queued in several keys' lanes when the worker's runtime
/// shuts down. Each caller gets `Stopped`, and a new item of any key is refused, not
/// left waiting in a lane no worker will serve.
#[test]
fn keyed_lanes_of_a_runtime_that_shut_down_stop_every_caller() {
    let runtime_a = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (batcher, tickets) = runtime_a.block_on(async {
        let batcher = AsyncBatcher::builder(Recorder::default().op())
            .max_wait_time(FOREVER)
            .key_fn(|item: &u64| item % 3)
            .build()
            .unwrap();
        let tickets: Vec<_> = (0..9).map(|item| batcher.try_add(item).unwrap()).collect();
        // Let the worker queue them in their lanes.
        tokio::task::yield_now().await;
        (batcher, tickets)
    });
    drop(runtime_a);
    runtime_b().block_on(async {
        for ticket in tickets {
            assert_eq!(ticket.await, Err(BatchError::Stopped));
        }
        assert_eq!(batcher.add(4).await, Err(BatchError::Stopped));
    });
}
