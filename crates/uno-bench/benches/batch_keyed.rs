//! Micro-batching by key: 256 callers on one thread, each adding one item at a time and
//! awaiting its output, the items spread over 16 keys (a tenant, a shard), batches of
//! at most 100 per key, one batch at a time per key, an operation that does no work.
//! uno's `AsyncBatcher` with `key_fn` (`Immediate`) against batch-aint-one with the same
//! keys and policy, and uno without keys as the reference for what keys cost.
//! Current-thread runtime: on two workers the figures swing from run to run (see
//! `batch_callers.rs`).
#![allow(
    clippy::disallowed_methods,
    reason = "callers are bare tasks, as in the services this stands for"
)]

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use uno_batch::{AsyncBatcher, BatchPolicy};

const CALLERS: u64 = 256;
const PER_CALLER: u64 = 100;
const KEYS: u64 = 16;
const MAX_BATCH_SIZE: usize = 100;

/// batch-aint-one's side: hands every item straight back, per key.
#[derive(Debug, Clone)]
struct KeyedNoOp;

impl batch_aint_one::Processor for KeyedNoOp {
    type Key = u64;
    type Input = u64;
    type Output = u64;
    type Error = String;
    type Resources = ();

    async fn acquire_resources(&self, _key: u64) -> Result<(), String> {
        Ok(())
    }

    async fn process(
        &self,
        _key: u64,
        inputs: impl Iterator<Item = u64> + Send,
        _resources: (),
    ) -> Result<Vec<u64>, String> {
        Ok(inputs.collect())
    }
}

fn uno(keyed: bool) -> AsyncBatcher<u64, u64, Infallible> {
    let builder =
        AsyncBatcher::builder(|items: Vec<u64>| async move { Ok::<_, Infallible>(items) })
            .max_batch_size(MAX_BATCH_SIZE)
            .max_wait_time(Duration::from_millis(1))
            .policy(BatchPolicy::Immediate);
    let builder = if keyed {
        builder.key_fn(|item: &u64| item % KEYS)
    } else {
        builder
    };
    builder.build().expect("a valid batcher")
}

fn peer() -> batch_aint_one::Batcher<KeyedNoOp> {
    use batch_aint_one::{Batcher, BatchingPolicy, Limits};
    Batcher::builder()
        .name("bench")
        .processor(KeyedNoOp)
        .limits(
            Limits::builder()
                .max_batch_size(MAX_BATCH_SIZE)
                .max_key_concurrency(1)
                .max_key_queued_items(usize::try_from(CALLERS * PER_CALLER).expect("fits"))
                .build(),
        )
        .batching_policy(BatchingPolicy::Immediate)
        .build()
}

/// `CALLERS` tasks each add `PER_CALLER` items one after another through `add`.
async fn callers<A, Fut>(add: A)
where
    A: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = u64> + Send,
{
    let handles: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let add = add.clone();
            tokio::spawn(async move {
                let mut sum = 0;
                for n in 0..PER_CALLER {
                    sum += add(caller * PER_CALLER + n).await;
                }
                black_box(sum);
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("no caller panics");
    }
}

async fn drive(kind: &str) {
    if kind == "batch_aint_one" {
        let batcher = peer();
        callers(move |item| {
            let batcher = batcher.clone();
            async move { batcher.add(item % KEYS, item).await.expect("no-op") }
        })
        .await;
    } else {
        let batcher = uno(kind == "uno");
        callers(move |item| {
            let batcher = batcher.clone();
            async move { batcher.add(item).await.expect("no-op") }
        })
        .await;
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("batch/keyed_256_callers_16_keys");
    group
        .throughput(Throughput::Elements(CALLERS * PER_CALLER))
        .sample_size(20)
        .measurement_time(Duration::from_secs(3));
    for kind in ["uno", "uno_unkeyed", "batch_aint_one"] {
        group.bench_function(kind, |b| b.to_async(&runtime).iter(|| drive(kind)));
    }
    group.finish();
    c.final_summary();
}
