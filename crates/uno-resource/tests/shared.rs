//! Behaviour of `SharedManaged`: one resource shared by `'static` tasks, cleaned up
//! exactly once, when the last clone is closed or dropped.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for the independent 'static tasks that share a resource"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Behaviour, Log, ProbeError};
use tokio::sync::{Barrier, Mutex, oneshot};
use tokio::time::Instant;
use uno_resource::{CleanupTracker, Error, Managed, SharedClose};

/// Moves `clones` clones into spawned tasks; even tasks close theirs, odd ones drop
/// it. Whichever lets go last, the cleanup runs exactly once.
async fn clones_in_spawned_tasks_clean_up_once(clones: usize) {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let probe = log
        .probe("a")
        .cleanup(Behaviour::Sleep(Duration::from_millis(5)));
    let shared = Managed::open_in(probe, &tracker)
        .await
        .unwrap()
        .into_shared();
    let barrier = Arc::new(Barrier::new(clones));
    let mut tasks = Vec::new();
    for index in 0..clones {
        let shared = shared.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            // Every task holds its clone at once before any lets go.
            barrier.wait().await;
            assert_eq!(shared.name, "a");
            if index % 2 == 0 {
                Some(shared.close().await.unwrap())
            } else {
                drop(shared);
                None
            }
        }));
    }
    drop(shared);
    let mut cleaned_up = 0;
    for task in tasks {
        if task.await.unwrap() == Some(SharedClose::CleanedUp) {
            cleaned_up += 1;
        }
    }
    tracker.wait().await;
    assert!(cleaned_up <= 1, "at most one close is the last");
    assert_eq!(log.cleanups_started(), 1);
    assert_eq!(log.cleanups_finished(), 1);
    assert!(tracker.take_failures().is_empty());
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn cleanup_runs_once_after_clones_in_spawned_tasks_finish_current_thread() {
    clones_in_spawned_tasks_clean_up_once(8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_runs_once_after_clones_in_spawned_tasks_finish_multi_thread() {
    clones_in_spawned_tasks_clean_up_once(8).await;
}

#[tokio::test(start_paused = true)]
async fn cleanup_does_not_run_while_any_clone_is_alive() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let shared = Managed::open_in(log.probe("a"), &tracker)
        .await
        .unwrap()
        .into_shared();
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let holder = tokio::spawn({
        let shared = shared.clone();
        async move {
            release_rx.await.unwrap();
            shared.close().await.unwrap()
        }
    });
    let dropped = shared.clone();
    drop(dropped);
    assert_eq!(shared.close().await.unwrap(), SharedClose::StillShared);
    tracker.wait().await;
    tokio::task::yield_now().await;
    assert_eq!(log.cleanups_started(), 0, "the holder's clone is alive");
    assert_eq!(tracker.pending(), 0);

    release_tx.send(()).unwrap();
    assert_eq!(holder.await.unwrap(), SharedClose::CleanedUp);
    assert_eq!(log.cleanups_finished(), 1);
}

#[tokio::test(start_paused = true)]
async fn last_close_awaits_the_cleanup_and_others_return_at_once() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let probe = log
        .probe("a")
        .cleanup(Behaviour::Sleep(Duration::from_secs(10)));
    let shared = Managed::open_in(probe, &tracker)
        .await
        .unwrap()
        .into_shared();
    let other = shared.clone();

    let start = Instant::now();
    assert_eq!(other.close().await.unwrap(), SharedClose::StillShared);
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "a non-last close waits for nothing"
    );
    assert_eq!(log.cleanups_started(), 0);

    assert_eq!(shared.close().await.unwrap(), SharedClose::CleanedUp);
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(log.cleanups_finished(), 1);
    assert_eq!(tracker.pending(), 0, "the close ran the cleanup itself");
}

#[tokio::test(start_paused = true)]
async fn last_close_returns_the_cleanup_error() {
    let log = Log::new();
    let shared = Managed::open(log.probe("a").cleanup(Behaviour::Fail))
        .await
        .unwrap()
        .into_shared();
    let other = shared.clone();
    assert_eq!(other.close().await.unwrap(), SharedClose::StillShared);
    let error = shared.close().await.unwrap_err();
    assert!(matches!(&error, Error::Cleanup(ProbeError(name)) if name == "a"));
    assert_eq!(error.to_string(), "resource cleanup failed: probe a failed");
    assert_eq!(log.cleanups_started(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropped_last_clone_hands_the_cleanup_to_the_tracker() {
    let log = Log::new();
    let tracker = CleanupTracker::with_cleanup_timeout(Duration::from_secs(5));
    let probe = log
        .probe("a")
        .cleanup(Behaviour::Sleep(Duration::from_secs(1)));
    let shared = Managed::open_in(probe, &tracker)
        .await
        .unwrap()
        .into_shared();
    assert_eq!(shared.tracker().cleanup_timeout(), Duration::from_secs(5));
    let other = shared.clone();
    drop(other);
    assert_eq!(tracker.pending(), 0, "one clone is still alive");
    drop(shared);

    let pending = tracker.pending_cleanups();
    assert_eq!(pending.len(), 1);
    assert!(pending[0].ends_with("common::Probe"), "{pending:?}");
    assert_eq!(log.cleanups_finished(), 0);
    tracker.wait().await;
    assert_eq!(log.cleanups_started(), 1);
    assert_eq!(log.cleanups_finished(), 1);
    assert!(tracker.pending_cleanups().is_empty());
    assert!(tracker.take_failures().is_empty());
}

#[tokio::test(start_paused = true)]
async fn panicking_cleanup_in_the_last_close_is_reported_as_for_managed() {
    let log = Log::new();
    let shared = Managed::open(log.probe("a").cleanup(Behaviour::Panic))
        .await
        .unwrap()
        .into_shared();
    let other = shared.clone();
    drop(other);
    let error = shared.close().await.unwrap_err();
    assert!(matches!(&error, Error::CleanupPanicked(message) if message == "probe a panicked"));
}

#[tokio::test(start_paused = true)]
async fn panicking_cleanup_of_a_dropped_last_clone_is_reported_to_the_tracker() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let probe = log.probe("a").cleanup(Behaviour::Panic);
    let shared = Managed::open_in(probe, &tracker)
        .await
        .unwrap()
        .into_shared();
    drop(shared.clone());
    drop(shared);
    tracker.wait().await;
    let failures = tracker.take_failures();
    assert_eq!(failures.len(), 1);
    assert!(
        matches!(&failures[0], Error::CleanupPanicked(message) if message == "probe a panicked")
    );
}

#[tokio::test(start_paused = true)]
async fn cancelled_last_close_finishes_the_cleanup_on_the_tracker_exactly_once() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let probe = log
        .probe("a")
        .cleanup(Behaviour::Sleep(Duration::from_secs(10)));
    let shared = Managed::open_in(probe, &tracker)
        .await
        .unwrap()
        .into_shared();
    assert_eq!(
        shared.clone().close().await.unwrap(),
        SharedClose::StillShared
    );
    let closed = tokio::time::timeout(Duration::from_secs(1), shared.close()).await;
    assert!(closed.is_err(), "the last close was cut short");
    assert_eq!(log.cleanups_started(), 1);
    assert_eq!(log.cleanups_finished(), 0);
    assert_eq!(tracker.pending_cleanups().len(), 1);

    tracker.wait().await;
    assert_eq!(log.cleanups_started(), 1);
    assert_eq!(log.cleanups_finished(), 1);
    assert!(tracker.take_failures().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clones_closed_and_dropped_on_many_threads_clean_up_once() {
    const CLONES: usize = 32;
    const ROUNDS: usize = 50;
    let log = Log::new();
    let tracker = CleanupTracker::new();
    for round in 0..ROUNDS {
        let shared = Managed::open_in(log.probe("a"), &tracker)
            .await
            .unwrap()
            .into_shared();
        let barrier = Arc::new(std::sync::Barrier::new(CLONES));
        let mut tasks = Vec::new();
        for index in 0..CLONES {
            let shared = shared.clone();
            let barrier = Arc::clone(&barrier);
            // Blocking threads, so that every clone really lets go at the same moment
            // on a thread of its own.
            tasks.push(tokio::task::spawn_blocking(move || {
                barrier.wait();
                match index % 3 {
                    0 => Some(
                        tokio::runtime::Handle::current()
                            .block_on(shared.close())
                            .unwrap(),
                    ),
                    _ => {
                        drop(shared);
                        None
                    }
                }
            }));
        }
        drop(shared);
        let mut cleaned_up = 0;
        for task in tasks {
            if task.await.unwrap() == Some(SharedClose::CleanedUp) {
                cleaned_up += 1;
            }
        }
        tracker.wait().await;
        assert!(
            cleaned_up <= 1,
            "round {round}: {cleaned_up} closes were last"
        );
        assert_eq!(log.cleanups_started(), round + 1, "round {round}");
        assert_eq!(log.cleanups_finished(), round + 1, "round {round}");
    }
    assert!(tracker.take_failures().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_closes_elect_exactly_one_last_clone() {
    // Few clones and many rounds: the race that matters is two closes letting go at
    // the same instant, each seeing the other still alive.
    const CLONES: usize = 4;
    const ROUNDS: usize = 1000;
    let log = Log::new();
    let tracker = CleanupTracker::new();
    for round in 0..ROUNDS {
        let shared = Managed::open_in(log.probe("a"), &tracker)
            .await
            .unwrap()
            .into_shared();
        // Every handle, the original included, is closed: none is merely dropped.
        let mut handles = vec![shared.clone(); CLONES - 1];
        handles.push(shared);
        let barrier = Arc::new(std::sync::Barrier::new(CLONES));
        let tasks: Vec<_> = handles
            .into_iter()
            .map(|shared| {
                let barrier = Arc::clone(&barrier);
                tokio::task::spawn_blocking(move || {
                    barrier.wait();
                    tokio::runtime::Handle::current()
                        .block_on(shared.close())
                        .unwrap()
                })
            })
            .collect();
        let mut cleaned_up = 0;
        for task in tasks {
            if task.await.unwrap() == SharedClose::CleanedUp {
                cleaned_up += 1;
            }
        }
        assert_eq!(cleaned_up, 1, "round {round}");
        // The last close awaited the cleanup itself, without the tracker.
        assert_eq!(log.cleanups_finished(), round + 1, "round {round}");
    }
    assert_eq!(tracker.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn mutex_gives_tasks_mutable_access_and_cleans_up_the_resource_inside() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let shared = Managed::open_in(Mutex::new(log.probe("a")), &tracker)
        .await
        .unwrap()
        .into_shared();
    assert_eq!(log.initialized(), 1, "initialize reached the probe inside");
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let shared = shared.clone();
            tokio::spawn(async move {
                shared.lock().await.name.push('!');
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(shared.close().await.unwrap(), SharedClose::CleanedUp);
    assert_eq!(log.cleaned(), ["a!!!"]);
}
