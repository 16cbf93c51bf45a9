//! The decorators against the same builder code written by hand, in one run: a call
//! that succeeds at once through `#[uno::retry]` and through `#[uno::concurrent_limited]`.
//! The target (issue 16) is within 1.05x of the hand-written form.

use std::hint::black_box;
use std::io;
use std::sync::LazyLock;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use uno::limit::Limiter;
use uno::retry::RetryPolicy;

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

#[uno::retry(max_attempts = 3, backoff = exponential, initial = 100ms, max_delay = 10s)]
async fn decorated_fetch(id: u64) -> Result<u64, io::Error> {
    Ok(black_box(id))
}

/// What a careful user writes by hand: the policy built once, the body re-run per
/// attempt with its own copy of the argument.
static POLICY: LazyLock<RetryPolicy<io::Error>> = LazyLock::new(|| {
    RetryPolicy::exponential(Duration::from_millis(100))
        .max_attempts(3)
        .max_delay(Duration::from_secs(10))
        .build()
        .expect("a valid policy")
});

async fn by_hand_fetch(id: u64) -> Result<u64, io::Error> {
    POLICY.run(|| async move { Ok(black_box(id)) }).await
}

#[uno::concurrent_limited(5)]
async fn decorated_resize(size: u64) -> u64 {
    black_box(size)
}

static LIMITER: LazyLock<Limiter> = LazyLock::new(|| Limiter::new(5).expect("a valid limit"));

async fn by_hand_resize(size: u64) -> u64 {
    LIMITER
        .run(async move { black_box(size) })
        .await
        .expect("a static limiter with the Wait policy never refuses")
}

fn retry(c: &mut Criterion) {
    let runtime = current_thread();
    let mut group = c.benchmark_group("macros/retry_success");
    group.bench_function("uno", |b| {
        b.to_async(&runtime)
            .iter(|| async { decorated_fetch(7).await });
    });
    group.bench_function("by_hand", |b| {
        b.to_async(&runtime)
            .iter(|| async { by_hand_fetch(7).await });
    });
    group.finish();
}

fn limited(c: &mut Criterion) {
    let runtime = current_thread();
    let mut group = c.benchmark_group("macros/limited_uncontended");
    group.bench_function("uno", |b| {
        b.to_async(&runtime)
            .iter(|| async { decorated_resize(7).await });
    });
    group.bench_function("by_hand", |b| {
        b.to_async(&runtime)
            .iter(|| async { by_hand_resize(7).await });
    });
    group.finish();
}

criterion_group!(benches, retry, limited);
criterion_main!(benches);
