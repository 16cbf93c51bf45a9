//! The `# Cancel safety` promises of uno-resource, checked at the poll level: each
//! future is polled once by hand (and is still pending: waiting for a pooled resource,
//! in `initialize`, in the body or in `cleanup`), then dropped, and what the docs
//! promise is checked from outside.

mod common;

use std::future::pending;
use std::time::Duration;

use common::{Behaviour, Log, ProbeError};
use tokio_test::{assert_pending, assert_ready_ok, task};
use uno_resource::{CleanupTracker, Managed, ResourcePool, ResourceStack, using_in};

const SLOW: Behaviour = Behaviour::Sleep(Duration::from_secs(1));

#[tokio::test(start_paused = true)]
async fn a_pool_acquire_dropped_while_waiting_gives_up_its_place_in_line() {
    let log = Log::new();
    let pool = {
        let log = log.clone();
        ResourcePool::builder(move || log.probe("pooled"))
            .max_size(1)
            .build()
            .unwrap()
    };
    let first = pool.acquire().await.unwrap();
    let mut dropped = task::spawn(pool.acquire());
    assert_pending!(dropped.poll());
    let mut behind = task::spawn(pool.acquire());
    assert_pending!(behind.poll());

    drop(dropped);
    drop(first);
    assert!(behind.is_woken(), "the waiter behind moved up");
    let resource = assert_ready_ok!(behind.poll());
    assert_eq!(log.initialized(), 1, "the returned resource was handed on");
    drop(resource);
    pool.close().await.unwrap();
    assert_eq!(log.cleanups_finished(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_pool_acquire_dropped_during_initialize_drops_the_resource_without_cleanup() {
    let log = Log::new();
    let pool = {
        let log = log.clone();
        ResourcePool::builder(move || log.probe("pooled").initialize(SLOW))
            .max_size(1)
            .build()
            .unwrap()
    };
    let mut acquiring = task::spawn(pool.acquire());
    assert_pending!(acquiring.poll());
    drop(acquiring);
    assert_eq!((log.initialized(), log.cleanups_started()), (0, 0));

    // Its place in the pool is free again: a new resource is made.
    let resource = pool.acquire().await.unwrap();
    assert_eq!(log.initialized(), 1);
    drop(resource);
    pool.close().await.unwrap();
    assert_eq!(log.cleanups_finished(), 1);
}

#[tokio::test(start_paused = true)]
async fn using_dropped_mid_body_cleans_up_once_in_the_background() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let mut body_running = task::spawn(using_in(
        log.probe("used").cleanup(SLOW),
        &tracker,
        async |_probe| {
            pending::<()>().await;
            Ok::<(), ProbeError>(())
        },
    ));
    assert_pending!(body_running.poll());
    assert_eq!(log.initialized(), 1, "the body was running");
    drop(body_running);

    tracker.wait().await;
    assert_eq!(log.cleanups_finished(), 1);
    assert_eq!(tracker.take_failures().len(), 0);
}

#[tokio::test(start_paused = true)]
async fn using_dropped_during_initialize_runs_no_cleanup() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let mut initializing = task::spawn(using_in(
        log.probe("used").initialize(SLOW),
        &tracker,
        async |_probe| Ok::<(), ProbeError>(()),
    ));
    assert_pending!(initializing.poll());
    drop(initializing);
    tracker.wait().await;
    assert_eq!((log.initialized(), log.cleanups_started()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_close_dropped_before_its_cleanup_finished_still_cleans_up_once() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let managed = Managed::open_in(log.probe("managed").cleanup(SLOW), &tracker)
        .await
        .unwrap();
    let mut closing = task::spawn(managed.close());
    assert_pending!(closing.poll());
    assert_eq!(log.cleanups_started(), 1);
    drop(closing);

    // A tracker wait dropped after its first poll changes nothing either.
    let mut waiting = task::spawn(tracker.wait());
    assert_pending!(waiting.poll());
    drop(waiting);

    tracker.wait().await;
    assert_eq!((log.cleanups_started(), log.cleanups_finished()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_stack_enter_dropped_during_initialize_leaves_the_stack_unchanged() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let mut stack: ResourceStack<ProbeError> = ResourceStack::with_tracker(&tracker);
    stack.enter(log.probe("first")).await.unwrap();
    {
        let mut entering = task::spawn(stack.enter(log.probe("slow").initialize(SLOW)));
        assert_pending!(entering.poll());
    }
    assert_eq!(stack.len(), 1);
    stack.close().await.unwrap();
    assert_eq!(
        log.cleaned(),
        ["first"],
        "the dropped one was never cleaned up"
    );
}
