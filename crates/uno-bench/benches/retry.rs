//! uno's `RetryPolicy` against backon and a bare call: an operation that succeeds at
//! once (the overhead every call pays), and one that fails twice before succeeding
//! with zero delays (the cost of the retry machinery itself).

use std::hint::black_box;
use std::io;
use std::time::Duration;

use backon::{ConstantBuilder, Retryable};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use uno_retry::RetryPolicy;

/// How often the second scenario's operation fails before it succeeds.
const FAILURES: u32 = 2;

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The operation: fails while `attempt` is at most `failures`, then succeeds.
async fn operation(attempt: u32, failures: u32) -> Result<u64, io::Error> {
    if attempt <= failures {
        return Err(io::Error::from(io::ErrorKind::ConnectionRefused));
    }
    Ok(black_box(u64::from(attempt)))
}

/// Both retrying contenders allow the same three calls with zero delays. uno's
/// `max_attempts` counts every call; backon's `with_max_times` counts retries only.
fn uno_policy() -> RetryPolicy<io::Error> {
    RetryPolicy::constant(Duration::ZERO)
        .max_attempts(FAILURES + 1)
        .build()
        .expect("a valid policy")
}

fn backon_policy() -> ConstantBuilder {
    ConstantBuilder::new()
        .with_delay(Duration::ZERO)
        .with_max_times(FAILURES as usize)
}

fn bench_scenario(c: &mut Criterion, name: &str, failures: u32) {
    let runtime = current_thread();
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(2));

    let policy = uno_policy();
    group.bench_function("uno", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut attempt = 0;
            policy
                .run(|| {
                    attempt += 1;
                    operation(attempt, failures)
                })
                .await
                .expect("the last attempt succeeds")
        });
    });

    let backoff = backon_policy();
    group.bench_function("backon", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut attempt = 0;
            (|| {
                attempt += 1;
                operation(attempt, failures)
            })
            .retry(backoff)
            .await
            .expect("the last attempt succeeds")
        });
    });

    group.bench_function("bare", |b| {
        b.to_async(&runtime).iter(|| async {
            // The hand-written loop a retry helper replaces.
            let mut attempt = 0;
            loop {
                attempt += 1;
                match operation(attempt, failures).await {
                    Ok(value) => break value,
                    Err(error) if attempt > failures => panic!("{error}"),
                    Err(_) => {}
                }
            }
        });
    });

    group.finish();
}

fn success(c: &mut Criterion) {
    bench_scenario(c, "retry/success", 0);
}

fn fail_twice(c: &mut Criterion) {
    bench_scenario(c, "retry/fail_twice", FAILURES);
}

criterion_group!(benches, success, fail_twice);
criterion_main!(benches);
