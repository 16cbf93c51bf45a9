//! Micro-batching throughput: uno's `AsyncBatcher` against a hand-written mpsc +
//! oneshot batch loop and against batch-aint-one, in one criterion group.
//!
//! Scenario: 100,000 items from 8 producer tasks, each keeping all its items in flight
//! at once, with `max_batch_size` 100 and a batch operation that does no work, so what
//! is measured is the batcher's own cost per item. Reported as items per second.
#![allow(
    clippy::disallowed_methods,
    reason = "the baselines are what users write by hand with bare tasks"
)]

#[path = "shared/hand_loop.rs"]
mod hand_loop;
#[path = "shared/no_op_processor.rs"]
mod no_op_processor;

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::future::join_all;
use no_op_processor::NoOpProcessor;
use tokio::sync::oneshot;

const ITEMS: u64 = 100_000;
const PRODUCERS: u64 = 8;
const MAX_BATCH_SIZE: usize = 100;
/// Long enough that batches are sent because they are full; only a tail waits.
const MAX_WAIT_TIME: Duration = Duration::from_millis(10);

/// The batch operation: hands every item straight back.
fn no_op(items: Vec<u64>) -> Vec<u64> {
    items
}

/// The items producer `producer` adds.
fn items_of(producer: u64) -> impl Iterator<Item = u64> {
    (producer..ITEMS).step_by(usize::try_from(PRODUCERS).unwrap())
}

async fn run_uno() {
    let batcher = uno_batch::AsyncBatcher::builder(|items: Vec<u64>| async move {
        Ok::<_, Infallible>(no_op(items))
    })
    .max_batch_size(MAX_BATCH_SIZE)
    .max_wait_time(MAX_WAIT_TIME)
    .build()
    .unwrap();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let batcher = batcher.clone();
            tokio::spawn(async move {
                let outputs = join_all(items_of(producer).map(|item| batcher.add(item))).await;
                outputs.into_iter().map(Result::unwrap).sum::<u64>()
            })
        })
        .collect();
    for producer in producers {
        black_box(producer.await.unwrap());
    }
}

/// What one would write by hand (see `shared/hand_loop.rs`).
async fn run_hand_written() {
    let (sender, worker) = hand_loop::start(MAX_BATCH_SIZE);
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let sender = sender.clone();
            tokio::spawn(async move {
                let outputs = join_all(items_of(producer).map(|item| {
                    let (reply, output) = oneshot::channel();
                    sender.send((item, reply)).unwrap();
                    output
                }))
                .await;
                outputs.into_iter().map(Result::unwrap).sum::<u64>()
            })
        })
        .collect();
    drop(sender);
    for producer in producers {
        black_box(producer.await.unwrap());
    }
    worker.await.unwrap();
}

async fn run_batch_aint_one() {
    use batch_aint_one::{Batcher, BatchingPolicy, Limits, OnFull};

    let batcher = Batcher::builder()
        .name("bench")
        .processor(NoOpProcessor)
        .limits(
            Limits::builder()
                .max_batch_size(MAX_BATCH_SIZE)
                // One batch at a time, as uno's default; and room for every item, so
                // none is rejected.
                .max_key_concurrency(1)
                .max_key_queued_items(usize::try_from(ITEMS).unwrap())
                .build(),
        )
        .batching_policy(BatchingPolicy::Duration(MAX_WAIT_TIME, OnFull::Process))
        .build();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let batcher = batcher.clone();
            tokio::spawn(async move {
                let outputs = join_all(items_of(producer).map(|item| batcher.add((), item))).await;
                outputs.into_iter().map(Result::unwrap).sum::<u64>()
            })
        })
        .collect();
    for producer in producers {
        black_box(producer.await.unwrap());
    }
}

fn batch(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("batch/100k_items_8_producers");
    group
        .throughput(Throughput::Elements(ITEMS))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("uno", |b| b.to_async(&runtime).iter(run_uno));
    group.bench_function("hand_written", |b| {
        b.to_async(&runtime).iter(run_hand_written);
    });
    group.bench_function("batch_aint_one", |b| {
        b.to_async(&runtime).iter(run_batch_aint_one);
    });
    group.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
