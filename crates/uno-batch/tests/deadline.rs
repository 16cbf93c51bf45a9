//! `add` honours the caller's `uno_deadline` deadline: an item whose deadline passes
//! before its batch is sent is removed and its caller told so; an item whose deadline
//! passes while its batch runs gets its own output or the deadline error, never
//! another item's output; waiting for room stops at the deadline; a deadline already
//! passed fails at once.
//!
//! Each test asserts the batcher's own `DeadlinePassed`, not `uno_deadline::Elapsed`:
//! before `add` honoured deadlines, the enclosing `within` cut it short with `Elapsed`.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers"
)]

mod common;

use std::collections::HashSet;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{FOREVER, Gated, OpError, Recorder, expected};
use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uno_batch::{AsyncBatcher, BatchError};
use uno_deadline::Elapsed;

type Outcome = Result<Result<u64, BatchError<OpError>>, Elapsed>;

/// Spawns a caller that adds `item` under a deadline `deadline` from now, or under none.
fn caller(
    batcher: &AsyncBatcher<u64, u64, OpError>,
    item: u64,
    deadline: Option<Duration>,
) -> JoinHandle<Outcome> {
    let batcher = batcher.clone();
    tokio::spawn(async move {
        match deadline {
            Some(deadline) => uno_deadline::within(deadline, batcher.add(item)).await,
            None => Ok(batcher.add(item).await),
        }
    })
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn items_whose_deadline_passes_before_their_batch_is_sent_are_removed() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(100)
        .max_wait_time(Duration::from_secs(1))
        .build()
        .unwrap();

    // Even items have 10 ms, far less than the batch's one-second window; odd items
    // have a minute, or no deadline at all.
    let start = Instant::now();
    let callers: Vec<_> = (0..8)
        .map(|item| {
            let deadline = match item % 4 {
                0 | 2 => Some(Duration::from_millis(10)),
                1 => Some(Duration::from_secs(60)),
                _ => None,
            };
            (item, caller(&batcher, item, deadline))
        })
        .collect();

    for (item, caller) in callers {
        let outcome = caller.await.unwrap();
        if item % 2 == 0 {
            assert_eq!(
                outcome,
                Ok(Err(BatchError::DeadlinePassed {
                    deadline: start + Duration::from_millis(10),
                    sent: false
                })),
                "item {item}"
            );
            let message = outcome.unwrap().unwrap_err().to_string();
            assert!(message.contains("deadline passed"), "{message}");
            assert!(message.ends_with("lower max_wait_time"), "{message}");
        } else {
            assert_eq!(outcome, Ok(Ok(expected(item))), "item {item}");
        }
    }
    assert_eq!(
        recorder.batches(),
        vec![vec![1, 3, 5, 7]],
        "the operation receives exactly the items whose callers still wait"
    );
}

/// The caller is not polled at its deadline (its task is busy), and a batch forms after
/// it: the worker itself leaves the item out and tells the caller.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_batch_formed_after_an_items_deadline_leaves_it_out_even_before_its_caller_wakes() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(100)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();

    let mut hurried = pin!(uno_deadline::within(
        Duration::from_millis(10),
        batcher.add(1)
    ));
    assert!((&mut hurried).now_or_never().is_none(), "1 is queued");
    let kept = batcher.try_add(2).unwrap();
    // Past the deadline, with the caller's future left unpolled meanwhile.
    tokio::time::advance(Duration::from_millis(20)).await;
    batcher.flush().await;

    assert_eq!(kept.await, Ok(expected(2)));
    assert_eq!(recorder.batches(), vec![vec![2]]);
    let outcome = hurried.await;
    assert!(
        matches!(
            outcome,
            Ok(Err(BatchError::DeadlinePassed { sent: false, .. }))
        ),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_item_whose_deadline_passes_while_its_batch_runs_does_not_disturb_the_others() {
    let gated = Gated::new(1);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(4)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();

    let hurried = caller(&batcher, 2, Some(Duration::from_millis(50)));
    let others: Vec<_> = [0, 1, 3]
        .into_iter()
        .map(|item| (item, caller(&batcher, item, None)))
        .collect();
    // The batch is full, so it starts at once; the gate holds it past the deadline.
    gated.wait_started(1).await;

    // Its batch cannot finish, so the deadline error is the only outcome here; the op
    // has the item, which the error says.
    let outcome = hurried.await.unwrap();
    assert!(
        matches!(
            outcome,
            Ok(Err(BatchError::DeadlinePassed { sent: true, .. }))
        ),
        "{outcome:?}"
    );
    assert!(
        outcome
            .unwrap()
            .unwrap_err()
            .to_string()
            .contains("output is discarded")
    );

    gated.open(0);
    for (item, caller) in others {
        assert_eq!(caller.await.unwrap(), Ok(Ok(expected(item))), "item {item}");
    }
    assert_eq!(gated.recorder.batches(), vec![vec![2, 0, 1, 3]]);
}

/// The batch finishes exactly at one caller's deadline: that caller gets its own output
/// or the deadline error, whichever the runtime reaches first, and never another's.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_item_whose_deadline_is_reached_as_its_batch_finishes_gets_its_own_output_or_the_error()
{
    let recorder = Recorder::default();
    let op = {
        let recorder = recorder.clone();
        move |items: Vec<u64>| -> BoxFuture<'static, Result<Vec<u64>, OpError>> {
            let outputs = recorder.op()(items);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                outputs.await
            })
        }
    };
    let batcher = AsyncBatcher::builder(op)
        .max_batch_size(3)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();

    let first = caller(&batcher, 1, None);
    let hurried = caller(&batcher, 2, Some(Duration::from_millis(50)));
    let last = caller(&batcher, 3, None);

    let outcome = hurried.await.unwrap();
    assert!(
        outcome == Ok(Ok(expected(2)))
            || matches!(
                outcome,
                Ok(Err(BatchError::DeadlinePassed { sent: true, .. }))
            ),
        "{outcome:?}"
    );
    assert_eq!(first.await.unwrap(), Ok(Ok(expected(1))));
    assert_eq!(last.await.unwrap(), Ok(Ok(expected(3))));
    assert_eq!(recorder.batches(), vec![vec![1, 2, 3]]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn waiting_for_room_stops_at_the_deadline() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(10)
        .max_pending(1)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();
    let first = batcher.try_add(1).unwrap();

    // No room until a flush that never comes: only the deadline ends this wait.
    let start = Instant::now();
    let outcome = uno_deadline::within(Duration::from_millis(10), batcher.add(2)).await;
    assert_eq!(
        outcome,
        Ok(Err(BatchError::DeadlinePassed {
            deadline: start + Duration::from_millis(10),
            sent: false
        }))
    );

    batcher.flush().await;
    assert_eq!(first.await, Ok(expected(1)));
    // The waiting caller took no room with it: there is room for one again.
    let third = batcher.try_add(3).unwrap();
    batcher.flush().await;
    assert_eq!(third.await, Ok(expected(3)));
    assert_eq!(recorder.batches(), vec![vec![1], vec![3]]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_deadline_already_passed_fails_at_once_without_queueing() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(10)
        .max_pending(1)
        .max_wait_time(FOREVER)
        .build()
        .unwrap();

    let now = Instant::now();
    // At once: the first poll answers, without waiting for any timer or the worker.
    let outcome = uno_deadline::at(now, batcher.add(1)).now_or_never();
    assert_eq!(
        outcome,
        Some(Ok(Err(BatchError::DeadlinePassed {
            deadline: now,
            sent: false
        })))
    );
    // Also when there is no room: it does not wait for room first.
    let occupant = batcher.try_add(2).unwrap();
    let outcome = uno_deadline::at(now, batcher.add(3)).now_or_never();
    assert!(matches!(outcome, Some(Ok(Err(ref error))) if error.is_deadline_passed()));

    batcher.flush().await;
    assert_eq!(occupant.await, Ok(expected(2)));
    assert_eq!(
        recorder.batches(),
        vec![vec![2]],
        "1 and 3 were never queued"
    );
}

/// 1,000 callers with random deadlines (or none) against batches that take random
/// time, several running at once: every caller that gets `Ok` gets exactly its own
/// output, every removed item was never given to the operation, no item is given twice,
/// and callers without a deadline all succeed.
/// On both clocks `add` answers at the deadline with its own error, never the
/// enclosing `within`'s bare `Elapsed`: `uno_deadline::Deadline` gives up only if its
/// timer had fired before it last polled `add`, and then `add` had already seen the
/// deadline pass. (Before uno-deadline noted that, a timer fired by another thread
/// between the two polls let `within` answer first, about once in 60 runs of the
/// multi-thread test.)
async fn a_thousand_callers_with_random_deadlines(seed: u64) {
    const CALLERS: u64 = 1_000;
    let sent: Arc<Mutex<Vec<u64>>> = Arc::default();
    let op = {
        let sent = Arc::clone(&sent);
        move |items: Vec<u64>| -> BoxFuture<'static, Result<Vec<u64>, OpError>> {
            sent.lock().unwrap().extend(&items);
            // How long the batch takes follows from its first item, so it varies.
            let took = Duration::from_millis(items[0] % 7);
            Box::pin(async move {
                tokio::time::sleep(took).await;
                Ok(items.into_iter().map(expected).collect())
            })
        }
    };
    let batcher = AsyncBatcher::builder(op)
        .max_batch_size(16)
        .max_wait_time(Duration::from_millis(3))
        .max_pending(200)
        .max_concurrent_batches(3)
        .build()
        .unwrap();

    let mut rng = fastrand::Rng::with_seed(seed);
    let callers: Vec<_> = (0..CALLERS)
        .map(|item| {
            let deadline = match rng.u8(0..4) {
                0 => None,
                _ => Some(Duration::from_micros(rng.u64(0..20_000))),
            };
            (item, deadline.is_some(), caller(&batcher, item, deadline))
        })
        .collect();

    let mut outcomes = Vec::new();
    for (item, has_deadline, caller) in callers {
        outcomes.push((item, has_deadline, caller.await.unwrap()));
    }
    batcher.close().await;

    let sent = sent.lock().unwrap().clone();
    let sent_once: HashSet<u64> = sent.iter().copied().collect();
    assert_eq!(sent_once.len(), sent.len(), "an item was sent twice");
    let (mut removed_count, mut oks) = (0, 0);
    for (item, has_deadline, outcome) in outcomes {
        match outcome {
            Ok(Ok(output)) => {
                assert_eq!(output, expected(item), "item {item} got another's");
                oks += 1;
            }
            Ok(Err(BatchError::DeadlinePassed { sent: false, .. })) => {
                assert!(has_deadline, "item {item}");
                assert!(!sent_once.contains(&item), "removed item {item} was sent");
                removed_count += 1;
            }
            Ok(Err(BatchError::DeadlinePassed { sent: true, .. })) => {
                assert!(has_deadline, "item {item}");
                assert!(sent_once.contains(&item), "item {item}");
            }
            other => panic!("item {item}: {other:?}"),
        }
    }
    assert!(
        removed_count > 0,
        "some deadlines passed before their batch"
    );
    assert!(oks > 0, "some callers got their output");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_thousand_callers_with_random_deadlines_each_get_only_their_own_output_current_thread() {
    for seed in [1, 2, 3] {
        a_thousand_callers_with_random_deadlines(seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_callers_with_random_deadlines_each_get_only_their_own_output_multi_thread() {
    a_thousand_callers_with_random_deadlines(4).await;
}
