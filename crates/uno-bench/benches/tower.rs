//! uno's tower layers against tower's own: `LimitLayer` over a `Limiter` against
//! `ConcurrencyLimitLayer` (one uncontended call, and 64 tasks sharing a limit of 4),
//! and `RetryLayer` against `tower::retry::RetryLayer` (a call that succeeds at once,
//! and one that fails twice before succeeding, with zero delays). Each group also has
//! the bare service, so the layer's own cost shows.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::hint::black_box;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;
use tower::limit::ConcurrencyLimitLayer;
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use uno_limit::Limiter;
use uno_limit::tower::LimitLayer;
use uno_retry::RetryPolicy;
use uno_retry::tower::RetryLayer;

const TASKS: usize = 64;
const LIMIT: usize = 4;
const CALLS_PER_TASK: usize = 16;
/// How often the retried operation fails before it succeeds.
const FAILURES: u32 = 2;

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The limited work: a no-op, so the numbers are the layers' own cost.
async fn work(n: u64) -> Result<u64, Infallible> {
    Ok(black_box(n))
}

/// One request through a fresh readiness check, as hyper and axum drive a service.
async fn call<S>(service: &mut S, n: u64) -> u64
where
    S: Service<u64, Response = u64>,
    S::Error: std::fmt::Debug,
{
    service
        .ready()
        .await
        .expect("ready")
        .call(n)
        .await
        .expect("the call succeeds")
}

/// Times calls made one after another on a clone of `service`, each after `before`.
fn time_calls<S, B>(b: &mut Bencher<'_>, runtime: &Runtime, service: &S, before: B)
where
    S: Service<u64, Response = u64> + Clone,
    S::Error: std::fmt::Debug,
    B: Fn() + Clone,
{
    b.to_async(runtime).iter_custom(|iters| {
        let mut service = service.clone();
        let before = before.clone();
        async move {
            let started = Instant::now();
            for n in 0..iters {
                before();
                call(&mut service, n).await;
            }
            started.elapsed()
        }
    });
}

/// `TASKS` tasks, each with its own clone of `service`, make `CALLS_PER_TASK` calls.
async fn contended<S>(service: S)
where
    S: Service<u64, Response = u64> + Clone + Send + 'static,
    S::Error: std::fmt::Debug,
    S::Future: Send,
{
    let mut tasks = JoinSet::new();
    for task in 0..TASKS {
        let mut service = service.clone();
        tasks.spawn(async move {
            for n in 0..CALLS_PER_TASK {
                call(&mut service, (task * CALLS_PER_TASK + n) as u64).await;
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("no task panics");
    }
}

fn limit(c: &mut Criterion) {
    let runtime = current_thread();
    let mut group = c.benchmark_group("tower/limit_uncontended");
    let uno = LimitLayer::new(Limiter::new(LIMIT).expect("a valid limit")).layer(service_fn(work));
    group.bench_function("uno", |b| time_calls(b, &runtime, &uno, || {}));
    let tower = ConcurrencyLimitLayer::new(LIMIT).layer(service_fn(work));
    group.bench_function("tower", |b| time_calls(b, &runtime, &tower, || {}));
    let bare = service_fn(work);
    group.bench_function("bare", |b| time_calls(b, &runtime, &bare, || {}));
    group.finish();

    let mut group = c.benchmark_group("tower/limit_contended");
    group.sample_size(30);
    let uno = LimitLayer::new(Limiter::new(LIMIT).expect("a valid limit")).layer(service_fn(work));
    group.bench_function("uno", |b| {
        b.to_async(&runtime).iter(|| contended(uno.clone()));
    });
    let tower = ConcurrencyLimitLayer::new(LIMIT).layer(service_fn(work));
    group.bench_function("tower", |b| {
        b.to_async(&runtime).iter(|| contended(tower.clone()));
    });
    group.finish();
}

/// tower's retry policy allowing the same three calls as uno's `max_attempts(3)`.
#[derive(Clone)]
struct Attempts(u32);

impl<Res, E> tower::retry::Policy<u64, Res, E> for Attempts {
    type Future = Ready<()>;

    fn retry(&mut self, _request: &mut u64, result: &mut Result<Res, E>) -> Option<Ready<()>> {
        match result {
            Err(_) if self.0 > 0 => {
                self.0 -= 1;
                Some(ready(()))
            }
            _ => None,
        }
    }

    fn clone_request(&mut self, request: &u64) -> Option<u64> {
        Some(*request)
    }
}

/// A service whose calls fail until `failures` calls since the last reset have failed.
#[derive(Clone)]
struct Flaky {
    calls: Arc<AtomicU32>,
    failures: u32,
}

impl Flaky {
    fn new(failures: u32) -> Self {
        Flaky {
            calls: Arc::new(AtomicU32::new(0)),
            failures,
        }
    }

    /// Starts a new request's run of failures.
    fn reset(&self) {
        self.calls.store(0, Ordering::Relaxed);
    }
}

impl Service<u64> for Flaky {
    type Response = u64;
    type Error = io::Error;
    type Future = Ready<Result<u64, io::Error>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, n: u64) -> Self::Future {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        ready(if call < self.failures {
            Err(io::Error::from(io::ErrorKind::ConnectionRefused))
        } else {
            Ok(black_box(n))
        })
    }
}

fn retry_scenario(c: &mut Criterion, name: &str, failures: u32) {
    let runtime = current_thread();
    let mut group = c.benchmark_group(name);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(2));

    let flaky = Flaky::new(failures);
    let policy = RetryPolicy::constant(Duration::ZERO)
        .max_attempts(FAILURES + 1)
        .build()
        .expect("a valid policy");
    let reset = || flaky.reset();
    let uno = ServiceBuilder::new()
        .layer(RetryLayer::new(policy))
        .service(flaky.clone());
    group.bench_function("uno", |b| time_calls(b, &runtime, &uno, reset));
    let tower = ServiceBuilder::new()
        .layer(tower::retry::RetryLayer::new(Attempts(FAILURES)))
        .service(flaky.clone());
    group.bench_function("tower", |b| time_calls(b, &runtime, &tower, reset));
    // The hand-written loop the layers replace.
    let bare = service_fn(|n: u64| {
        let mut flaky = flaky.clone();
        async move {
            loop {
                if let Ok(value) = flaky.ready().await?.call(n).await {
                    break Ok::<_, io::Error>(value);
                }
            }
        }
    });
    group.bench_function("bare", |b| time_calls(b, &runtime, &bare, reset));
    group.finish();
}

fn retry(c: &mut Criterion) {
    retry_scenario(c, "tower/retry_success", 0);
    retry_scenario(c, "tower/retry_fail_twice", FAILURES);
}

criterion_group!(benches, limit, retry);
criterion_main!(benches);
