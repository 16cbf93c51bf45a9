//! uno's `TaskGroup` against tokio's `JoinSet` (and `JoinSet` plus a `Semaphore` for
//! the capped case): spawn and join 10,000 tasks.
//!
//! The recorded run uses the current-thread runtime. On the 2-core build machine the
//! multi-thread runtime's figures are bimodal from one run to the next (about 4.5 ms
//! or 13 ms for the same code, for uno and JoinSet alike), which drowns the
//! difference being measured; set `UNO_BENCH_MULTI_THREAD=1` to run on two workers
//! anyway.

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use uno_taskgroup::TaskGroup;

const TASKS: u64 = 10_000;
const CAP: usize = 64;

fn runtime() -> Runtime {
    if std::env::var_os("UNO_BENCH_MULTI_THREAD").is_some() {
        return tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

async fn uno(yield_once: bool, cap: Option<usize>) -> Vec<u64> {
    let builder = TaskGroup::<u64, Infallible>::builder();
    let builder = match cap {
        Some(cap) => builder.max_concurrency(cap),
        None => builder,
    };
    let group = builder.build().expect("a valid cap");
    for n in 0..TASKS {
        group
            .spawn(async move {
                if yield_once {
                    tokio::task::yield_now().await;
                }
                Ok(n)
            })
            .expect("the group is open");
    }
    group.join().await.expect("no task fails")
}

async fn joinset(yield_once: bool) -> Vec<u64> {
    let mut set = JoinSet::new();
    for n in 0..TASKS {
        set.spawn(async move {
            if yield_once {
                tokio::task::yield_now().await;
            }
            n
        });
    }
    set.join_all().await
}

async fn joinset_semaphore(cap: usize) -> Vec<u64> {
    let semaphore = Arc::new(Semaphore::new(cap));
    let mut set = JoinSet::new();
    for n in 0..TASKS {
        let semaphore = Arc::clone(&semaphore);
        set.spawn(async move {
            let _permit = semaphore.acquire_owned().await.expect("never closed");
            tokio::task::yield_now().await;
            n
        });
    }
    set.join_all().await
}

fn spawn_join(c: &mut Criterion) {
    let runtime = runtime();

    let mut group = c.benchmark_group("taskgroup/spawn_join_noop");
    group.bench_function("uno", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(uno(false, None).await) });
    });
    group.bench_function("joinset", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(joinset(false).await) });
    });
    group.finish();

    let mut group = c.benchmark_group("taskgroup/spawn_join_yield");
    group.bench_function("uno", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(uno(true, None).await) });
    });
    group.bench_function("joinset", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(joinset(true).await) });
    });
    group.finish();

    let mut group = c.benchmark_group("taskgroup/capped");
    group.bench_function("uno", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(uno(true, Some(CAP)).await) });
    });
    group.bench_function("joinset_semaphore", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(joinset_semaphore(CAP).await) });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = spawn_join
}
criterion_main!(benches);
