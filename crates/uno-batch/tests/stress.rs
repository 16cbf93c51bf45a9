//! 100,000 items from 64 tasks with random cancellations: every surviving caller gets
//! exactly f(its item), nothing is sent twice, and items cancelled before they could
//! be sent never reach the operation.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use uno_batch::AsyncBatcher;

const ITEMS: u64 = 100_000;
const TASKS: u64 = 64;
const MAX_BATCH_SIZE: usize = 64;

/// What happened to an item on the caller's side.
const LIVE: u8 = 0;
/// The ticket was dropped right after `try_add`, with no await in between.
const DROPPED_AT_ONCE: u8 = 1;
/// The `add` future was dropped at a random point.
const DROPPED_LATER: u8 = 2;
/// `try_add` found the queue full and handed the item back.
const REFUSED: u8 = 3;

fn f(item: u64) -> u64 {
    item.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xDEAD_BEEF
}

struct Seen {
    /// Set when the operation is given the item; an item given twice fails the test.
    sent: Vec<AtomicBool>,
    state: Vec<AtomicU8>,
}

/// Runs the stress scenario. `strict` also checks that no item dropped at once was
/// sent: on a current-thread runtime the worker cannot run between `try_add` and the
/// drop, so it must see the item as cancelled. On a multi-thread runtime it may send
/// it in between, which the contract allows (its output is then discarded).
/// With `keys`, items are batched by `item % keys`, and every batch must hold one key.
async fn stress(seed: u64, strict: bool, max_wait_time: Duration, keys: Option<u64>) {
    let seen = Arc::new(Seen {
        sent: (0..ITEMS).map(|_| AtomicBool::new(false)).collect(),
        state: (0..ITEMS).map(|_| AtomicU8::new(LIVE)).collect(),
    });
    let op = {
        let seen = Arc::clone(&seen);
        move |items: Vec<u64>| -> BoxFuture<'static, Result<Vec<u64>, std::convert::Infallible>> {
            assert!(items.len() <= MAX_BATCH_SIZE);
            if let Some(keys) = keys {
                let key = items[0] % keys;
                assert!(
                    items.iter().all(|item| item % keys == key),
                    "mixed keys: {items:?}"
                );
            }
            for &item in &items {
                let index = usize::try_from(item).unwrap();
                let sent_before = seen.sent[index].swap(true, Ordering::SeqCst);
                assert!(!sent_before, "item {item} was sent twice");
                if strict {
                    let state = seen.state[index].load(Ordering::SeqCst);
                    assert_ne!(state, DROPPED_AT_ONCE, "cancelled item {item} was sent");
                }
            }
            Box::pin(async move {
                tokio::task::yield_now().await;
                Ok(items.into_iter().map(f).collect())
            })
        }
    };
    let builder = AsyncBatcher::builder(op)
        .max_batch_size(MAX_BATCH_SIZE)
        .max_wait_time(max_wait_time)
        .max_pending(4_096)
        .max_concurrent_batches(4);
    let batcher = match keys {
        Some(keys) => builder.key_fn(move |item: &u64| item % keys),
        None => builder,
    }
    .build()
    .unwrap();

    let producers: Vec<_> = (0..TASKS)
        .map(|task| {
            let batcher = batcher.clone();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut rng = fastrand::Rng::with_seed(seed ^ task);
                let mut callers = FuturesUnordered::new();
                let mut completed = 0_u64;
                for item in (task..ITEMS).step_by(usize::try_from(TASKS).unwrap()) {
                    let index = usize::try_from(item).unwrap();
                    match rng.u8(0..100) {
                        0..10 => match batcher.try_add(item) {
                            Ok(ticket) => {
                                seen.state[index].store(DROPPED_AT_ONCE, Ordering::SeqCst);
                                drop(ticket);
                            }
                            Err(full) => {
                                assert_eq!(full.into_item(), item);
                                seen.state[index].store(REFUSED, Ordering::SeqCst);
                            }
                        },
                        10..20 => {
                            let yields = rng.u8(0..8);
                            let batcher = batcher.clone();
                            let seen = Arc::clone(&seen);
                            callers.push(Box::pin(async move {
                                tokio::select! {
                                    output = batcher.add(item) => Some((item, output)),
                                    () = yield_times(yields) => {
                                        seen.state[index].store(DROPPED_LATER, Ordering::SeqCst);
                                        None
                                    }
                                }
                            }) as BoxFuture<'static, _>);
                        }
                        _ => {
                            let batcher = batcher.clone();
                            callers.push(Box::pin(
                                async move { Some((item, batcher.add(item).await)) },
                            ));
                        }
                    }
                    // Keep a few hundred callers in flight per task, as a server would.
                    while callers.len() >= 256 {
                        completed += check(callers.next().await.unwrap());
                    }
                }
                while let Some(outcome) = callers.next().await {
                    completed += check(outcome);
                }
                completed
            })
        })
        .collect();

    let mut completed = 0;
    for producer in producers {
        completed += producer.await.unwrap();
    }
    batcher.close().await;

    // Every caller that waited got its output, and so its item was sent.
    let mut sent = 0;
    let mut live = 0;
    for index in 0..usize::try_from(ITEMS).unwrap() {
        let was_sent = seen.sent[index].load(Ordering::SeqCst);
        let state = seen.state[index].load(Ordering::SeqCst);
        sent += u64::from(was_sent);
        if state == REFUSED {
            assert!(!was_sent, "item {index} was refused but sent anyway");
        }
        if state == LIVE {
            live += 1;
            assert!(
                was_sent,
                "item {index} had a waiting caller but was never sent"
            );
        }
    }
    assert_eq!(completed, live, "every live caller completed");
    assert!(sent >= live);
    assert!(
        live > ITEMS * 3 / 4 && live < ITEMS,
        "the mix is as intended: {live}"
    );
}

fn check(
    outcome: Option<(
        u64,
        Result<u64, uno_batch::BatchError<std::convert::Infallible>>,
    )>,
) -> u64 {
    match outcome {
        Some((item, output)) => {
            assert_eq!(output, Ok(f(item)), "item {item} got someone else's output");
            1
        }
        None => 0,
    }
}

async fn yield_times(times: u8) {
    for _ in 0..times {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn stress_100k_items_64_tasks_random_cancellations_current_thread() {
    stress(0x5EED, true, Duration::from_millis(5), None).await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn stress_keyed_100k_items_64_tasks_random_cancellations_current_thread() {
    stress(0x5EED, true, Duration::from_millis(5), Some(37)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_keyed_100k_items_64_tasks_random_cancellations_multi_thread() {
    stress(0xBEEF, false, Duration::from_millis(1), Some(1_000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_100k_items_64_tasks_random_cancellations_multi_thread() {
    stress(0xC0FFEE, false, Duration::from_millis(1), None).await;
}
