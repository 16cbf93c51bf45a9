//! `key_fn`: each key's items are batched apart, as if each key had a batcher of its
//! own (size, wait, weight, policy and concurrency per key), while `max_pending`,
//! `flush` and `close` stay shared. On paused time, so every instant is exact.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{FOREVER, Gated, OpError, Recorder, expected, settle};
use tokio::time::Instant;
use uno_batch::{AsyncBatcher, BatchError, BatchPolicy};

/// The key of an item in these tests: its hundreds.
fn tenant(item: &u64) -> u64 {
    item / 100
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn each_keys_items_fill_their_own_batches() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(2)
        .max_wait_time(FOREVER)
        .key_fn(tenant)
        .build()
        .unwrap();

    // Interleaved: 101, 201, 102 -> tenant 1's batch is full at 102; tenant 2 waits.
    let a = batcher.try_add(101).unwrap();
    let b = batcher.try_add(201).unwrap();
    let c = batcher.try_add(102).unwrap();
    assert_eq!(a.await, Ok(expected(101)));
    assert_eq!(c.await, Ok(expected(102)));
    assert_eq!(recorder.batches(), vec![vec![101, 102]]);
    settle().await;
    assert_eq!(recorder.batches().len(), 1, "tenant 2 has one item of two");

    let d = batcher.try_add(202).unwrap();
    assert_eq!((b.await, d.await), (Ok(expected(201)), Ok(expected(202))));
    assert_eq!(recorder.batches(), vec![vec![101, 102], vec![201, 202]]);
    batcher.close().await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn each_key_waits_from_its_own_oldest_item() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_wait_time(Duration::from_millis(100))
        .key_fn(tenant)
        .build()
        .unwrap();
    let started = Instant::now();
    // Adds `item` after `after`, and says what it got and when.
    let add_after = |after: u64, item: u64| {
        let batcher = &batcher;
        async move {
            tokio::time::sleep(Duration::from_millis(after)).await;
            (batcher.add(item).await, started.elapsed())
        }
    };
    let (first, second, third) = (add_after(0, 101), add_after(40, 201), add_after(60, 102));
    let (first, second, third) = tokio::join!(first, second, third);
    assert_eq!(first, (Ok(expected(101)), Duration::from_millis(100)));
    assert_eq!(
        third,
        (Ok(expected(102)), Duration::from_millis(100)),
        "rode with 101"
    );
    assert_eq!(
        second,
        (Ok(expected(201)), Duration::from_millis(140)),
        "its own window"
    );
    assert_eq!(recorder.batches(), vec![vec![101, 102], vec![201]]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_busy_key_does_not_hold_another_keys_batches() {
    // Gate 0 holds the first batch to start (tenant 1's); later batches run through.
    let gated = Gated::new(1);
    let batcher = AsyncBatcher::builder(gated.op())
        .max_batch_size(1)
        .max_concurrent_batches(1)
        .key_fn(tenant)
        .build()
        .unwrap();

    let held = batcher.try_add(101).unwrap();
    gated.wait_started(1).await;
    let queued_behind = batcher.try_add(102).unwrap();
    // Tenant 2 has a slot of its own, though tenant 1's only one is taken.
    assert_eq!(batcher.add(201).await, Ok(expected(201)));
    settle().await;
    assert_eq!(gated.recorder.batches(), vec![vec![101], vec![201]]);
    assert_eq!(
        gated.peak_running(),
        2,
        "tenant 2's batch ran while 1's was held"
    );

    gated.open(0);
    assert_eq!(held.await, Ok(expected(101)));
    assert_eq!(queued_behind.await, Ok(expected(102)));
    assert_eq!(
        gated.recorder.batches(),
        vec![vec![101], vec![201], vec![102]],
        "tenant 1's second batch waited for its first"
    );
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn flush_and_close_send_every_key() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_wait_time(FOREVER)
        .key_fn(tenant)
        .build()
        .unwrap();
    let tickets: Vec<_> = [101, 201, 301, 102]
        .into_iter()
        .map(|item| batcher.try_add(item).unwrap())
        .collect();
    batcher.flush().await;
    let mut batches = recorder.batches();
    batches.sort();
    assert_eq!(batches, vec![vec![101, 102], vec![201], vec![301]]);
    for (ticket, item) in tickets.into_iter().zip([101, 201, 301, 102]) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }

    let late: Vec<_> = [401, 501]
        .into_iter()
        .map(|item| batcher.try_add(item).unwrap())
        .collect();
    batcher.close().await;
    assert_eq!(recorder.batches().len(), 5, "close sent both keys");
    for (ticket, item) in late.into_iter().zip([401, 501]) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_cancelled_item_leaves_its_key_and_the_rest_of_the_key_goes() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(2)
        .max_wait_time(FOREVER)
        .max_pending(3)
        .key_fn(tenant)
        .build()
        .unwrap();
    let gone = batcher.try_add(101).unwrap();
    let other = batcher.try_add(201).unwrap();
    settle().await;
    drop(gone);
    // The room came back at once, and the cancelled item does not fill tenant 1's
    // batch: 102 and 103 do.
    let b = batcher.try_add(102).unwrap();
    let c = batcher.try_add(103).unwrap();
    assert_eq!((b.await, c.await), (Ok(expected(102)), Ok(expected(103))));
    assert_eq!(recorder.batches(), vec![vec![102, 103]]);
    batcher.close().await;
    assert_eq!(other.await, Ok(expected(201)));
    assert_eq!(recorder.batches(), vec![vec![102, 103], vec![201]]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn weight_and_balanced_policy_apply_per_key() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_wait_time(FOREVER)
        .max_batch_weight(10, |item: &u64| usize::try_from(item % 100).unwrap())
        .key_fn(tenant)
        .build()
        .unwrap();
    // Tenant 1 reaches weight 10 (4 + 6); tenant 2's 5 does not, though the items
    // together weigh 15.
    let a = batcher.try_add(104).unwrap();
    let b = batcher.try_add(205).unwrap();
    let c = batcher.try_add(106).unwrap();
    assert_eq!((a.await, c.await), (Ok(expected(104)), Ok(expected(106))));
    assert_eq!(recorder.batches(), vec![vec![104, 106]]);
    batcher.close().await;
    assert_eq!(b.await, Ok(expected(205)));

    // Balanced: a key whose operation is idle sends at once, whatever other keys do.
    let gated = Gated::new(1);
    let balanced = AsyncBatcher::builder(gated.op())
        .max_wait_time(FOREVER)
        .policy(BatchPolicy::Balanced)
        .key_fn(tenant)
        .build()
        .unwrap();
    let held = balanced.try_add(101).unwrap();
    gated.wait_started(1).await;
    let started = Instant::now();
    assert_eq!(balanced.add(201).await, Ok(expected(201)));
    assert_eq!(started.elapsed(), Duration::ZERO);
    gated.open(0);
    assert_eq!(held.await, Ok(expected(101)));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn deduplicate_works_within_each_keys_batches() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(3)
        .max_wait_time(FOREVER)
        .deduplicate()
        .key_fn(tenant)
        .build()
        .unwrap();
    let items = [101, 201, 101, 102];
    let tickets: Vec<_> = items
        .iter()
        .map(|&item| batcher.try_add(item).unwrap())
        .collect();
    batcher.close().await;
    for (ticket, item) in tickets.into_iter().zip(items) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    let mut batches = recorder.batches();
    batches.sort();
    assert_eq!(batches, vec![vec![101, 102], vec![201]]);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_panicking_key_function_fails_only_its_caller_and_keeps_no_room() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(1)
        .max_pending(1)
        .key_fn(|item: &u64| {
            assert!(*item != 666, "no key for 666");
            tenant(item)
        })
        .build()
        .unwrap();
    let panicked =
        futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(batcher.add(666))).await;
    assert!(panicked.is_err(), "the panic is the caller's");
    assert_eq!(
        batcher.add(101).await,
        Ok(expected(101)),
        "the room is still there"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_keys_from_many_callers_each_get_their_own_outputs() {
    const CALLERS: u64 = 64;
    const PER_CALLER: u64 = 200;
    let calls = Arc::new(AtomicUsize::new(0));
    let op_calls = Arc::clone(&calls);
    let batcher = AsyncBatcher::builder(move |items: Vec<u64>| {
        op_calls.fetch_add(1, Ordering::Relaxed);
        let key = items[0] % 7;
        async move {
            if items.iter().any(|item| item % 7 != key) {
                return Err(OpError(format!("mixed keys in {items:?}")));
            }
            Ok(items.into_iter().map(expected).collect::<Vec<_>>())
        }
    })
    .max_batch_size(16)
    .max_wait_time(Duration::from_micros(200))
    .max_concurrent_batches(2)
    .key_fn(|item: &u64| item % 7)
    .build()
    .unwrap();
    let batcher = Arc::new(batcher);
    let mut callers = tokio::task::JoinSet::new();
    for caller in 0..CALLERS {
        let batcher = Arc::clone(&batcher);
        callers.spawn(async move {
            for n in 0..PER_CALLER {
                let item = caller * PER_CALLER + n;
                assert_eq!(batcher.add(item).await, Ok(expected(item)));
            }
        });
    }
    while let Some(done) = callers.join_next().await {
        done.unwrap();
    }
    assert!(calls.load(Ordering::Relaxed) > 0);
    let batcher = Arc::into_inner(batcher).unwrap();
    batcher.close().await;
    assert_eq!(
        batcher.try_add(1).unwrap_err().into_parts().1,
        BatchError::Closed
    );
}

/// A key whose own code panics in the worker: in `Hash` for one value, in `Drop` for
/// another (when its queue is freed, or when it finds its queue already there).
#[derive(Debug, PartialEq, Eq)]
struct Touchy(u64);

/// Hashing this key panics.
const BAD_HASH: u64 = 7;
/// Dropping this key panics.
const BAD_DROP: u64 = 8;

impl std::hash::Hash for Touchy {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        assert!(self.0 != BAD_HASH, "hashing key {}", self.0);
        self.0.hash(state);
    }
}

impl Drop for Touchy {
    fn drop(&mut self) {
        if self.0 == BAD_DROP && !std::thread::panicking() {
            panic!("dropping key {}", self.0);
        }
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_key_panicking_in_the_worker_fails_only_its_item() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(2)
        .max_wait_time(Duration::from_millis(10))
        .max_pending(4)
        .key_fn(|item: &u64| Touchy(item / 100))
        .build()
        .unwrap();

    // Its key's `Hash` panics in the worker: the caller is told, nothing is queued,
    // and its room comes back.
    let error = batcher.add(BAD_HASH * 100).await.unwrap_err();
    let BatchError::Panicked { message } = &error else {
        panic!("{error:?}");
    };
    assert!(
        message.starts_with("the item's key panicked: hashing key 7"),
        "{message}"
    );
    assert!(error.to_string().contains("the item's key"), "{error}");

    // Its key's `Drop` panics when the worker drops the second copy (its queue exists
    // already) and when the queue is freed after the batch: the first item of that
    // key is batched; the second fails alone; the worker goes on.
    let first = batcher.try_add(BAD_DROP * 100 + 1).unwrap();
    settle().await;
    let second = batcher.try_add(BAD_DROP * 100 + 2).unwrap();
    assert_eq!(first.await, Ok(expected(801)));
    assert!(matches!(second.await, Err(BatchError::Panicked { .. })));

    // Everyone else is unaffected, and the room is all there.
    let others: Vec<_> = [101, 102, 201, 202]
        .into_iter()
        .map(|item| batcher.try_add(item).unwrap())
        .collect();
    for (ticket, item) in others.into_iter().zip([101, 102, 201, 202]) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
    batcher.close().await;
}
