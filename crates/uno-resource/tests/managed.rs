//! Behaviour of `Managed`: initialise once, clean up exactly once on every exit path.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

mod common;

use std::time::Duration;

use common::{Behaviour, Log, ProbeError};
use uno_resource::{CleanupTracker, Error, Managed};

#[tokio::test]
async fn open_runs_initialize_once_and_derefs_to_the_resource() {
    let log = Log::new();
    let managed = Managed::open(log.probe("a")).await.unwrap();
    assert_eq!(log.initialized(), 1);
    assert_eq!(managed.name, "a");
    assert_eq!(log.cleanups_started(), 0);
    managed.close().await.unwrap();
}

#[tokio::test]
async fn failing_initialize_returns_its_error_and_skips_cleanup() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let error = Managed::open_in(log.probe("a").initialize(Behaviour::Fail), &tracker)
        .await
        .unwrap_err();
    assert_eq!(error, ProbeError("a".to_owned()));
    tracker.wait().await;
    assert_eq!(log.cleanups_started(), 0);
}

#[tokio::test(start_paused = true)]
async fn cancelled_initialize_skips_cleanup() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let probe = log.probe("a").initialize(Behaviour::Hang);
    let opened = tokio::time::timeout(Duration::from_secs(1), Managed::open_in(probe, &tracker));
    assert!(opened.await.is_err(), "initialize hangs, so open times out");
    tracker.wait().await;
    assert_eq!(log.initialized(), 0);
    assert_eq!(log.cleanups_started(), 0);
}

#[tokio::test]
async fn close_runs_cleanup_once_and_returns_its_error() {
    let log = Log::new();
    let managed = Managed::open(log.probe("a").cleanup(Behaviour::Fail))
        .await
        .unwrap();
    let error = managed.close().await.unwrap_err();
    assert!(matches!(&error, Error::Cleanup(ProbeError(name)) if name == "a"));
    assert_eq!(error.to_string(), "resource cleanup failed: probe a failed");
    assert_eq!(log.cleanups_started(), 1);
}

#[tokio::test]
async fn close_is_final_so_nothing_cleans_up_twice() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let managed = Managed::open_in(log.probe("a"), &tracker).await.unwrap();
    managed.close().await.unwrap();
    // `close` consumed the Managed: there is no second close to call, and no drop
    // left to clean up again.
    tracker.wait().await;
    assert_eq!(log.cleanups_started(), 1);
    assert_eq!(log.cleanups_finished(), 1);
}

async fn dropped_managed_is_cleaned_up_once_in_the_background() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let managed = Managed::open_in(log.probe("a"), &tracker).await.unwrap();
    drop(managed);
    tracker.wait().await;
    assert_eq!(log.cleanups_started(), 1);
    assert_eq!(log.cleanups_finished(), 1);
    assert_eq!(tracker.pending(), 0);
    assert!(tracker.take_failures().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn dropped_managed_is_cleaned_up_once_current_thread() {
    dropped_managed_is_cleaned_up_once_in_the_background().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_managed_is_cleaned_up_once_multi_thread() {
    dropped_managed_is_cleaned_up_once_in_the_background().await;
}

async fn aborted_owner_task_still_cleans_up() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let (opened_tx, opened_rx) = tokio::sync::oneshot::channel();
    let owner = tokio::spawn({
        let probe = log
            .probe("a")
            .cleanup(Behaviour::Sleep(Duration::from_millis(5)));
        let tracker = tracker.clone();
        async move {
            let _managed = Managed::open_in(probe, &tracker).await.unwrap();
            opened_tx.send(()).unwrap();
            std::future::pending::<()>().await;
        }
    });
    opened_rx.await.unwrap();
    owner.abort();
    assert!(owner.await.unwrap_err().is_cancelled());
    tracker.wait().await;
    assert_eq!(log.cleanups_started(), 1);
    assert_eq!(log.cleanups_finished(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn aborted_owner_task_still_cleans_up_current_thread() {
    aborted_owner_task_still_cleans_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_owner_task_still_cleans_up_multi_thread() {
    aborted_owner_task_still_cleans_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_task_that_panics_still_cleans_up() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let owner = tokio::spawn({
        let probe = log.probe("a");
        let tracker = tracker.clone();
        async move {
            let _managed = Managed::open_in(probe, &tracker).await.unwrap();
            panic!("the owner panicked");
        }
    });
    assert!(owner.await.unwrap_err().is_panic());
    tracker.wait().await;
    assert_eq!(log.cleanups_finished(), 1);
}

#[tokio::test(start_paused = true)]
async fn cancelled_close_finishes_cleanup_in_the_background_exactly_once() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let probe = log
        .probe("a")
        .cleanup(Behaviour::Sleep(Duration::from_secs(10)));
    let managed = Managed::open_in(probe, &tracker).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(1), managed.close()).await;
    assert!(closed.is_err(), "the close was cut short");
    assert_eq!(log.cleanups_started(), 1);
    assert_eq!(log.cleanups_finished(), 0);
    tracker.wait().await;
    assert_eq!(log.cleanups_started(), 1);
    assert_eq!(log.cleanups_finished(), 1);
}

#[tokio::test(start_paused = true)]
async fn hanging_cleanup_is_bounded_by_the_cleanup_timeout_and_reported() {
    let log = Log::new();
    let tracker = CleanupTracker::with_cleanup_timeout(Duration::from_secs(3));
    let probe = log.probe("a").cleanup(Behaviour::Hang);
    let managed = Managed::open_in(probe, &tracker).await.unwrap();
    let error = managed.close().await.unwrap_err();
    assert!(matches!(error, Error::CleanupTimeout(after) if after == Duration::from_secs(3)));
    assert!(error.to_string().contains("did not finish within 3s"));
}

#[tokio::test(start_paused = true)]
async fn hanging_background_cleanup_is_bounded_and_reported_to_the_tracker() {
    let log = Log::new();
    let tracker = CleanupTracker::with_cleanup_timeout(Duration::from_secs(3));
    let probe = log.probe("a").cleanup(Behaviour::Hang);
    drop(Managed::open_in(probe, &tracker).await.unwrap());
    tracker.wait().await;
    let failures = tracker.take_failures();
    assert_eq!(failures.len(), 1);
    assert!(matches!(failures[0], Error::CleanupTimeout(_)));
    assert_eq!(tracker.failure_count(), 1);
    assert!(
        tracker.take_failures().is_empty(),
        "failures are taken once"
    );
}

#[tokio::test]
async fn panicking_cleanup_is_reported_as_an_error() {
    let log = Log::new();
    let managed = Managed::open(log.probe("a").cleanup(Behaviour::Panic))
        .await
        .unwrap();
    let error = managed.close().await.unwrap_err();
    assert!(matches!(&error, Error::CleanupPanicked(message) if message == "probe a panicked"));
}

#[test]
fn dropped_without_a_runtime_cleans_up_on_a_helper_thread_before_drop_returns() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let probe = log
        .probe("a")
        .cleanup(Behaviour::Sleep(Duration::from_millis(1)));
    let managed = runtime.block_on(Managed::open_in(probe, &tracker)).unwrap();
    drop(runtime);
    drop(managed);
    assert_eq!(log.cleanups_finished(), 1);
    assert_eq!(tracker.pending(), 0);
    assert!(tracker.take_failures().is_empty());
}

#[test]
fn resource_held_by_a_task_is_cleaned_up_when_the_runtime_shuts_down() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let probe = log.probe("a");
    runtime.block_on(async {
        let managed = Managed::open_in(probe, &tracker).await.unwrap();
        tokio::spawn(async move {
            let _managed = managed;
            std::future::pending::<()>().await;
        });
    });
    // Shutting down drops the task; its cleanup cannot run on the dying runtime, so it
    // runs on a helper thread before the shutdown completes.
    drop(runtime);
    assert_eq!(log.cleanups_finished(), 1);
    assert!(tracker.take_failures().is_empty());
}

#[test]
#[should_panic(expected = "the cleanup timeout must be greater than zero")]
fn zero_cleanup_timeout_is_refused() {
    let _ = CleanupTracker::with_cleanup_timeout(Duration::ZERO);
}
