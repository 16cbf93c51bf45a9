//! Behaviour of `#[uno::concurrent_limited]` and `#[uno::limited]`: the limit holds
//! across 1,000 concurrent calls, on both runtimes, and a shared limiter is shared.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to cancel one from outside"
)]

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use uno::limit::Limiter;

/// Records the highest number of calls seen running at once.
struct Gauge {
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl Gauge {
    const fn new() -> Self {
        Gauge {
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    async fn measure(&self) {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(10)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

static FIVE: Gauge = Gauge::new();

#[uno::concurrent_limited(5)]
async fn at_most_five(id: usize) -> usize {
    FIVE.measure().await;
    id
}

async fn thousand_calls_never_exceed_the_limit() {
    let handles: Vec<_> = (0..1_000)
        .map(|id| tokio::spawn(at_most_five(id)))
        .collect();
    for (id, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.await.unwrap(), id);
    }
    assert_eq!(FIVE.peak.load(Ordering::SeqCst), 5);
    assert_eq!(FIVE.running.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn thousand_calls_never_exceed_the_limit_current_thread() {
    thousand_calls_never_exceed_the_limit().await;
}

static FIVE_MULTI: Gauge = Gauge::new();

#[uno::limited(max_concurrent = 5)]
async fn at_most_five_multi(id: usize) -> Result<usize, String> {
    FIVE_MULTI.measure().await;
    if id == usize::MAX {
        return Err("unreachable".to_owned());
    }
    Ok(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_calls_never_exceed_the_limit_multi_thread() {
    let handles: Vec<_> = (0..1_000)
        .map(|id| tokio::spawn(at_most_five_multi(id)))
        .collect();
    for (id, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.await.unwrap(), Ok(id));
    }
    let peak = FIVE_MULTI.peak.load(Ordering::SeqCst);
    assert!((1..=5).contains(&peak), "peak {peak}");
}

static SHARED: LazyLock<Limiter> = LazyLock::new(|| Limiter::new(2).expect("2 > 0"));
static SHARED_GAUGE: Gauge = Gauge::new();

#[uno::concurrent_limited(limiter = SHARED)]
async fn first_user() {
    SHARED_GAUGE.measure().await;
}

#[uno::concurrent_limited(limiter = SHARED)]
async fn second_user() {
    SHARED_GAUGE.measure().await;
}

#[tokio::test(start_paused = true)]
async fn a_shared_limiter_bounds_every_function_using_it() {
    let mut handles = Vec::new();
    for _ in 0..50 {
        handles.push(tokio::spawn(first_user()));
        handles.push(tokio::spawn(second_user()));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(SHARED_GAUGE.peak.load(Ordering::SeqCst), 2);
}

static GENERIC_GAUGE: Gauge = Gauge::new();

#[uno::concurrent_limited(3)]
async fn generic<T: Send + 'static>(value: T) -> T {
    GENERIC_GAUGE.measure().await;
    value
}

#[tokio::test(start_paused = true)]
async fn every_instantiation_of_a_generic_function_shares_one_limit() {
    let mut numbers = Vec::new();
    let mut strings = Vec::new();
    for id in 0..20 {
        numbers.push(tokio::spawn(generic(id)));
        strings.push(tokio::spawn(generic(id.to_string())));
    }
    for (id, (number, string)) in numbers.into_iter().zip(strings).enumerate() {
        assert_eq!(number.await.unwrap(), id);
        assert_eq!(string.await.unwrap(), id.to_string());
    }
    assert_eq!(GENERIC_GAUGE.peak.load(Ordering::SeqCst), 3);
}

struct Pool {
    limiter: Limiter,
    gauge: Gauge,
}

impl Pool {
    #[uno::limited(limiter = self.limiter)]
    async fn query(&self, id: u32) -> u32 {
        self.gauge.measure().await;
        id
    }
}

#[tokio::test(start_paused = true)]
async fn methods_can_use_a_limiter_held_by_self() {
    let pool = std::sync::Arc::new(Pool {
        limiter: Limiter::new(4).unwrap(),
        gauge: Gauge::new(),
    });
    let handles: Vec<_> = (0..40)
        .map(|id| {
            let pool = std::sync::Arc::clone(&pool);
            tokio::spawn(async move { pool.query(id).await })
        })
        .collect();
    for (id, handle) in (0..).zip(handles) {
        assert_eq!(handle.await.unwrap(), id);
    }
    assert_eq!(pool.gauge.peak.load(Ordering::SeqCst), 4);
}

static DEADLINE_LIMITED_GAUGE: Gauge = Gauge::new();

#[uno::limited(1)]
async fn slow_single() {
    DEADLINE_LIMITED_GAUGE.measure().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
}

#[tokio::test(start_paused = true)]
async fn a_call_waiting_past_its_deadline_ends_with_the_deadline_not_a_panic() {
    let holder = tokio::spawn(slow_single());
    tokio::task::yield_now().await;
    let waited = uno::deadline::within(Duration::from_secs(1), slow_single()).await;
    assert!(waited.is_err());
    holder.await.unwrap();
}
