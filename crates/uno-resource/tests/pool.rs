//! Behaviour of `ResourcePool`: bounded size, timeouts, health checks, cleanup on close.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Behaviour, Log, Probe, ProbeError};
use uno_resource::{BuildError, Error, ResourcePool};

fn pool(log: &Log, max_size: usize) -> ResourcePool<Probe> {
    let log = log.clone();
    ResourcePool::builder(move || log.probe("pooled"))
        .max_size(max_size)
        .build()
        .unwrap()
}

async fn max_size_is_respected_under_contention() {
    let log = Log::new();
    let pool = pool(&log, 3);
    let in_use = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let pool = pool.clone();
        let in_use = Arc::clone(&in_use);
        let peak = Arc::clone(&peak);
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                let _resource = pool.acquire().await.unwrap();
                let now = in_use.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                in_use.fetch_sub(1, Ordering::SeqCst);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(peak.load(Ordering::SeqCst) <= 3);
    assert!(
        log.initialized() <= 3,
        "no more resources than the max size"
    );
    assert!(pool.size() <= 3);
    pool.close().await.unwrap();
    assert_eq!(log.cleanups_finished(), log.initialized());
}

#[tokio::test(flavor = "current_thread")]
async fn max_size_is_respected_under_contention_current_thread() {
    max_size_is_respected_under_contention().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_size_is_respected_under_contention_multi_thread() {
    max_size_is_respected_under_contention().await;
}

#[tokio::test(start_paused = true)]
async fn acquire_timeout_gives_a_clear_error() {
    let log = Log::new();
    let log_for_factory = log.clone();
    let pool = ResourcePool::builder(move || log_for_factory.probe("pooled"))
        .max_size(1)
        .acquire_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let _held = pool.acquire().await.unwrap();
    let error = pool.acquire().await.unwrap_err();
    assert!(matches!(error, Error::AcquireTimeout(after) if after == Duration::from_secs(2)));
    assert!(
        error
            .to_string()
            .starts_with("no pooled resource became available within 2s")
    );
}

#[tokio::test]
async fn resources_are_reused() {
    let log = Log::new();
    let pool = pool(&log, 2);
    drop(pool.acquire().await.unwrap());
    drop(pool.acquire().await.unwrap());
    assert_eq!(log.initialized(), 1);
    assert_eq!(pool.idle(), 1);
    pool.close().await.unwrap();
}

#[tokio::test]
async fn unhealthy_resource_is_discarded_and_cleaned_up_on_recycle() {
    let log = Log::new();
    let pool = pool(&log, 2);
    drop(pool.acquire().await.unwrap());
    log.unhealthy.store(true, Ordering::SeqCst);
    // The idle resource fails its check and the pool makes a new one; the new one is
    // handed out without a check.
    let fresh = pool.acquire().await.unwrap();
    assert_eq!(log.initialized(), 2);
    pool.tracker().wait().await;
    assert_eq!(
        log.cleanups_finished(),
        1,
        "the unhealthy resource was cleaned up"
    );
    assert_eq!(pool.size(), 1);
    drop(fresh);
    log.unhealthy.store(false, Ordering::SeqCst);
    pool.close().await.unwrap();
    assert_eq!(log.cleanups_finished(), 2);
}

#[tokio::test]
async fn close_cleans_every_idle_resource_and_refuses_new_acquires() {
    let log = Log::new();
    let pool = pool(&log, 3);
    let first = pool.acquire().await.unwrap();
    let second = pool.acquire().await.unwrap();
    drop(first);
    drop(second);
    assert_eq!(pool.idle(), 2);
    pool.close().await.unwrap();
    assert_eq!(log.cleanups_finished(), 2);
    assert!(pool.is_closed());
    let error = pool.acquire().await.unwrap_err();
    assert!(matches!(error, Error::PoolClosed));
    assert!(error.to_string().contains("pool is closed"));
    pool.close().await.unwrap();
    assert_eq!(
        log.cleanups_finished(),
        2,
        "closing again cleans nothing twice"
    );
}

#[tokio::test]
async fn resource_returned_after_close_is_cleaned_up() {
    let log = Log::new();
    let pool = pool(&log, 2);
    let held = pool.acquire().await.unwrap();
    pool.close().await.unwrap();
    assert_eq!(
        log.cleanups_started(),
        0,
        "the acquired resource is still in use"
    );
    drop(held);
    pool.tracker().wait().await;
    assert_eq!(log.cleanups_finished(), 1);
}

#[tokio::test]
async fn close_reports_cleanup_failures() {
    let log = Log::new();
    let log_for_factory = log.clone();
    let pool =
        ResourcePool::builder(move || log_for_factory.probe("pooled").cleanup(Behaviour::Fail))
            .max_size(2)
            .build()
            .unwrap();
    drop(pool.acquire().await.unwrap());
    let error = pool.close().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "resource cleanup failed: probe pooled failed"
    );
}

#[tokio::test]
async fn dropping_the_last_pool_handle_cleans_up_idle_resources() {
    let log = Log::new();
    let pool = pool(&log, 2);
    let tracker = pool.tracker().clone();
    drop(pool.acquire().await.unwrap());
    drop(pool);
    tracker.wait().await;
    assert_eq!(log.cleanups_finished(), 1);
}

#[tokio::test]
async fn failing_initialize_is_reported_and_not_cleaned_up() {
    let log = Log::new();
    let log_for_factory = log.clone();
    let pool =
        ResourcePool::builder(move || log_for_factory.probe("pooled").initialize(Behaviour::Fail))
            .build()
            .unwrap();
    let error = pool.acquire().await.unwrap_err();
    assert!(matches!(error, Error::Initialize(ProbeError(_))));
    pool.close().await.unwrap();
    assert_eq!(log.cleanups_started(), 0);
    assert_eq!(pool.size(), 0);
}

#[tokio::test(start_paused = true)]
async fn initialize_timeout_gives_a_clear_error() {
    let log = Log::new();
    let log_for_factory = log.clone();
    let pool =
        ResourcePool::builder(move || log_for_factory.probe("pooled").initialize(Behaviour::Hang))
            .initialize_timeout(Duration::from_secs(1))
            .build()
            .unwrap();
    let error = pool.acquire().await.unwrap_err();
    assert!(matches!(error, Error::InitializeTimeout(after) if after == Duration::from_secs(1)));
    assert_eq!(log.cleanups_started(), 0);
}

#[tokio::test]
async fn discard_cleans_up_now_and_frees_the_slot() {
    let log = Log::new();
    let pool = pool(&log, 1);
    let resource = pool.acquire().await.unwrap();
    resource.discard().await.unwrap();
    assert_eq!(log.cleanups_finished(), 1);
    assert_eq!(pool.size(), 0);
    let _fresh = pool.acquire().await.unwrap();
    assert_eq!(log.initialized(), 2);
}

#[tokio::test(start_paused = true)]
async fn cancelled_acquire_gives_up_its_place_without_leaking() {
    let log = Log::new();
    let pool = pool(&log, 1);
    let held = pool.acquire().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(1), pool.acquire())
            .await
            .is_err()
    );
    drop(held);
    let _again = pool.acquire().await.unwrap();
    assert_eq!(log.initialized(), 1);
}

#[test]
fn zero_sizes_and_timeouts_are_refused_at_build() {
    let log = Log::new();
    let builder = || {
        let log = log.clone();
        ResourcePool::builder(move || log.probe("pooled"))
    };
    let refused = [
        (builder().max_size(0).build(), BuildError::ZeroMaxSize),
        (
            builder().acquire_timeout(Duration::ZERO).build(),
            BuildError::ZeroTimeout,
        ),
        (
            builder().initialize_timeout(Duration::ZERO).build(),
            BuildError::ZeroTimeout,
        ),
        (
            builder().health_check_timeout(Duration::ZERO).build(),
            BuildError::ZeroTimeout,
        ),
        (
            builder().cleanup_timeout(Duration::ZERO).build(),
            BuildError::ZeroTimeout,
        ),
    ];
    for (result, expected) in refused {
        let Err(error) = result else {
            panic!("built despite {expected:?}");
        };
        assert_eq!(error, expected);
        assert!(error.to_string().contains("zero"), "{error}");
    }
}
