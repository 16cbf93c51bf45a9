//! uno's `Limiter` against a raw tokio `Semaphore` and tower's `ConcurrencyLimit`:
//! one uncontended limited call, and 64 tasks sharing a limit of 4.

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::limit::ConcurrencyLimit;
use tower::{Service, ServiceExt};
use uno_limit::Limiter;

const TASKS: usize = 64;
const LIMIT: usize = 4;
const CALLS_PER_TASK: usize = 16;

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn multi_thread() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The limited work: a no-op, so the numbers are the limiter's own cost.
async fn work(n: u64) -> Result<u64, Infallible> {
    Ok(black_box(n))
}

fn uncontended(c: &mut Criterion) {
    let runtime = current_thread();
    let mut group = c.benchmark_group("limit/uncontended");

    let limiter = Limiter::new(LIMIT).expect("a valid limit");
    group.bench_function("uno", |b| {
        b.to_async(&runtime)
            .iter(|| async { limiter.run(work(1)).await.expect("the limiter is open") });
    });

    let semaphore = Semaphore::new(LIMIT);
    group.bench_function("semaphore", |b| {
        b.to_async(&runtime).iter(|| async {
            let _permit = semaphore.acquire().await.expect("the semaphore is open");
            work(1).await
        });
    });

    let service = ConcurrencyLimit::new(tower::service_fn(work), LIMIT);
    group.bench_function("tower", |b| {
        b.to_async(&runtime).iter(|| {
            let mut service = service.clone();
            async move {
                let ready = service.ready().await.expect("the service is ready");
                ready.call(1).await
            }
        });
    });
    group.finish();
}

/// 64 tasks make 16 calls each through one limit of 4, on a multi-thread runtime.
fn contended(c: &mut Criterion) {
    let runtime = multi_thread();
    let mut group = c.benchmark_group("limit/contended_64x4");

    group.bench_function("uno", |b| {
        b.to_async(&runtime).iter(|| async {
            let limiter = Limiter::new(LIMIT).expect("a valid limit");
            let mut tasks = JoinSet::new();
            for _ in 0..TASKS {
                let limiter = limiter.clone();
                tasks.spawn(async move {
                    for n in 0..CALLS_PER_TASK as u64 {
                        limiter
                            .run(yielding_work(n))
                            .await
                            .expect("the limiter is open")?;
                    }
                    Ok::<_, Infallible>(())
                });
            }
            tasks.join_all().await
        });
    });

    group.bench_function("semaphore", |b| {
        b.to_async(&runtime).iter(|| async {
            let semaphore = Arc::new(Semaphore::new(LIMIT));
            let mut tasks = JoinSet::new();
            for _ in 0..TASKS {
                let semaphore = semaphore.clone();
                tasks.spawn(async move {
                    for n in 0..CALLS_PER_TASK as u64 {
                        let _permit = semaphore.acquire().await.expect("the semaphore is open");
                        yielding_work(n).await?;
                    }
                    Ok::<_, Infallible>(())
                });
            }
            tasks.join_all().await
        });
    });

    group.bench_function("tower", |b| {
        b.to_async(&runtime).iter(|| async {
            let service = ConcurrencyLimit::new(tower::service_fn(yielding_work), LIMIT);
            let mut tasks = JoinSet::new();
            for _ in 0..TASKS {
                let mut service = service.clone();
                tasks.spawn(async move {
                    for n in 0..CALLS_PER_TASK as u64 {
                        service.ready().await?.call(n).await?;
                    }
                    Ok::<_, Infallible>(())
                });
            }
            tasks.join_all().await
        });
    });
    group.finish();
}

/// Work that yields once while holding the permit, so waiters really queue.
async fn yielding_work(n: u64) -> Result<u64, Infallible> {
    tokio::task::yield_now().await;
    Ok(black_box(n))
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = uncontended, contended
}
criterion_main!(benches);
