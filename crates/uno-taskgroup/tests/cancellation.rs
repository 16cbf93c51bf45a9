//! Cancellation: dropping, `cancel()`, tokens, the grace period, refused spawns.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

mod support;

use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::{DropCounter, Flag, within};
use tokio::time::sleep;
use uno_taskgroup::{CancellationToken, SpawnError, TaskGroup};

/// Spawns `count` tasks that set `ran_after` if they ever get past their first await.
fn spawn_sleepers(
    group: &TaskGroup<(), &'static str>,
    drops: &DropCounter,
    ran_after: &Flag,
    count: usize,
) {
    for _ in 0..count {
        let guard = drops.guard();
        let ran_after = ran_after.clone();
        group
            .spawn(async move {
                let _guard = guard;
                // Far longer than any test waits, even on a loaded machine with the real
                // clock: the drop counter, not a race against this sleep, proves that
                // the tasks were cancelled.
                sleep(Duration::from_secs(3600)).await;
                ran_after.set();
                Ok(())
            })
            .unwrap();
    }
}

async fn dropping_the_group_cancels_every_task() {
    let mut drops = DropCounter::new();
    let ran_after = Flag::default();
    let group = TaskGroup::new();
    spawn_sleepers(&group, &drops, &ran_after, 20);
    tokio::task::yield_now().await;
    drop(group);
    drops.wait_for(20).await;
    // Every task future is gone, so none can run again.
    sleep(Duration::from_millis(50)).await;
    assert!(!ran_after.is_set());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_group_cancels_every_task_current_thread() {
    dropping_the_group_cancels_every_task().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_the_group_cancels_every_task_multi_thread() {
    dropping_the_group_cancels_every_task().await;
}

async fn dropping_the_join_future_cancels_every_task() {
    let mut drops = DropCounter::new();
    let ran_after = Flag::default();

    let group = TaskGroup::new();
    spawn_sleepers(&group, &drops, &ran_after, 10);
    let timed_out = tokio::time::timeout(Duration::from_millis(5), group.join()).await;
    assert!(timed_out.is_err());
    drops.wait_for(10).await;

    let group = TaskGroup::new();
    spawn_sleepers(&group, &drops, &ran_after, 10);
    tokio::select! {
        _ = group.join() => panic!("the tasks take longer than the other branch"),
        () = sleep(Duration::from_millis(5)) => {}
    }
    drops.wait_for(20).await;

    sleep(Duration::from_millis(50)).await;
    assert!(!ran_after.is_set());
}

#[tokio::test(start_paused = true)]
async fn dropping_the_join_future_cancels_every_task_current_thread() {
    dropping_the_join_future_cancels_every_task().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_the_join_future_cancels_every_task_multi_thread() {
    dropping_the_join_future_cancels_every_task().await;
}

async fn cancel_gives_cooperative_tasks_the_grace_period_then_aborts_the_rest() {
    let mut drops = DropCounter::new();
    let cleaned_up = Flag::default();
    let stubborn_ran = Flag::default();
    let group = TaskGroup::<(), &str>::builder()
        .grace_period(Duration::from_millis(200))
        .build()
        .unwrap();

    let token = group.token();
    let cleaned = cleaned_up.clone();
    group
        .spawn(async move {
            token.cancelled().await;
            // Cooperative cleanup that takes part of the grace period.
            sleep(Duration::from_millis(20)).await;
            cleaned.set();
            Ok(())
        })
        .unwrap();
    let guard = drops.guard();
    let stubborn = stubborn_ran.clone();
    group
        .spawn(async move {
            let _guard = guard;
            sleep(Duration::from_secs(3600)).await;
            stubborn.set();
            Ok(())
        })
        .unwrap();
    tokio::task::yield_now().await;

    group.cancel();
    let error = within(group.join()).await.unwrap_err();
    assert!(error.is_cancelled());
    assert!(error.failures().is_empty());
    assert_eq!(
        error.to_string(),
        "the task group was cancelled before all its tasks finished"
    );
    assert!(
        cleaned_up.is_set(),
        "the cooperative task finished within the grace period"
    );
    assert_eq!(drops.dropped(), 1, "the stubborn task was aborted");
    drops.wait_for(1).await;
    assert!(!stubborn_ran.is_set());
}

#[tokio::test(start_paused = true)]
async fn cancel_gives_cooperative_tasks_the_grace_period_current_thread() {
    cancel_gives_cooperative_tasks_the_grace_period_then_aborts_the_rest().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_gives_cooperative_tasks_the_grace_period_multi_thread() {
    cancel_gives_cooperative_tasks_the_grace_period_then_aborts_the_rest().await;
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_group_is_never_reported_as_success() {
    let group = TaskGroup::<u32, &str>::new();
    group.spawn(async { Ok(1) }).unwrap();
    tokio::task::yield_now().await;
    group.cancel();
    assert!(within(group.join()).await.unwrap_err().is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_group_token_cancels_the_group() {
    let group = TaskGroup::<(), &str>::new();
    group.spawn(pending()).unwrap();
    let token = group.token();
    tokio::spawn(async move {
        sleep(Duration::from_millis(10)).await;
        token.cancel();
    });
    assert!(within(group.join()).await.unwrap_err().is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn the_group_never_cancels_a_token_the_caller_owns() {
    let parent = CancellationToken::new();

    let failed = TaskGroup::<(), &str>::builder()
        .parent_token(&parent)
        .build()
        .unwrap();
    failed.spawn(async { Err("boom") }).unwrap();
    let group_token = failed.token();
    assert!(within(failed.join()).await.is_err());
    assert!(group_token.is_cancelled());
    assert!(!parent.is_cancelled());

    let cancelled = TaskGroup::<(), &str>::builder()
        .parent_token(&parent)
        .build()
        .unwrap();
    cancelled.spawn(pending()).unwrap();
    cancelled.cancel();
    assert!(within(cancelled.join()).await.unwrap_err().is_cancelled());
    assert!(!parent.is_cancelled());

    let dropped = TaskGroup::<(), &str>::builder()
        .parent_token(&parent)
        .build()
        .unwrap();
    dropped.spawn(pending()).unwrap();
    drop(dropped);
    assert!(!parent.is_cancelled());
}

async fn cancelling_the_parent_token_cancels_the_group() {
    let mut drops = DropCounter::new();
    let parent = CancellationToken::new();
    let group = TaskGroup::<(), &str>::builder()
        .parent_token(&parent)
        .build()
        .unwrap();
    for _ in 0..5 {
        let guard = drops.guard();
        group
            .spawn(async move {
                let _guard = guard;
                pending::<()>().await;
                Ok(())
            })
            .unwrap();
    }
    let trigger = parent.clone();
    tokio::spawn(async move {
        sleep(Duration::from_millis(10)).await;
        trigger.cancel();
    });
    let error = within(group.join()).await.unwrap_err();
    assert!(error.is_cancelled());
    assert_eq!(drops.dropped(), 5);
    drops.wait_for(5).await;
}

#[tokio::test(start_paused = true)]
async fn cancelling_the_parent_token_cancels_the_group_current_thread() {
    cancelling_the_parent_token_cancels_the_group().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelling_the_parent_token_cancels_the_group_multi_thread() {
    cancelling_the_parent_token_cancels_the_group().await;
}

/// A future that records whether it was ever polled and whether it was dropped.
fn probe(
    polled: &Flag,
    drops: &DropCounter,
) -> impl Future<Output = Result<(), &'static str>> + use<> {
    let polled = polled.clone();
    let guard = drops.guard();
    async move {
        let _guard = guard;
        polled.set();
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn spawn_after_failure_is_refused_without_polling() {
    let drops = DropCounter::new();
    let polled = Flag::default();
    let group = TaskGroup::<(), &str>::new();
    group.spawn(async { Err("boom") }).unwrap();
    group.token().cancelled().await;

    assert_eq!(group.spawn(probe(&polled, &drops)), Err(SpawnError::Failed));
    assert_eq!(
        group.spawner().spawn(probe(&polled, &drops)),
        Err(SpawnError::Failed)
    );
    assert_eq!(drops.dropped(), 2, "refused futures are dropped");
    assert!(within(group.join()).await.is_err());
    assert!(!polled.is_set());
}

#[tokio::test(start_paused = true)]
async fn spawn_after_cancel_is_refused_without_polling() {
    let drops = DropCounter::new();
    let polled = Flag::default();
    let group = TaskGroup::<(), &str>::new();
    group.cancel();
    assert_eq!(
        group.spawn(probe(&polled, &drops)),
        Err(SpawnError::Cancelled)
    );

    let by_token = TaskGroup::<(), &str>::new();
    by_token.token().cancel();
    assert_eq!(
        by_token.spawn(probe(&polled, &drops)),
        Err(SpawnError::Cancelled)
    );

    sleep(Duration::from_millis(10)).await;
    assert_eq!(drops.dropped(), 2);
    assert!(!polled.is_set());
}

#[tokio::test(start_paused = true)]
async fn spawn_after_the_group_finished_is_refused_without_polling() {
    let drops = DropCounter::new();
    let polled = Flag::default();

    let joined = TaskGroup::<(), &str>::new();
    let spawner = joined.spawner();
    joined.spawn(async { Ok(()) }).unwrap();
    within(joined.join()).await.unwrap();
    assert_eq!(
        spawner.spawn(probe(&polled, &drops)),
        Err(SpawnError::Finished)
    );

    let dropped = TaskGroup::<(), &str>::new();
    let spawner = dropped.spawner();
    drop(dropped);
    assert_eq!(
        spawner.spawn(probe(&polled, &drops)),
        Err(SpawnError::Finished)
    );

    sleep(Duration::from_millis(10)).await;
    assert_eq!(drops.dropped(), 2);
    assert!(!polled.is_set());
    assert_eq!(
        SpawnError::Finished.to_string(),
        "the task group has finished (joined or dropped); the new task was dropped without running, spawn it into a new group"
    );
}

/// A task that spawns two copies of itself every millisecond until it is refused.
// A recursive `async fn` cannot prove that its future is `Send`; a spelled-out
// return type can.
#[allow(clippy::manual_async_fn)]
fn hydra(
    spawner: uno_taskgroup::Spawner<(), &'static str>,
    heads: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
) -> impl Future<Output = Result<(), &'static str>> + Send + 'static {
    async move {
        loop {
            sleep(Duration::from_millis(1)).await;
            for _ in 0..2 {
                let head = hydra(spawner.clone(), Arc::clone(&heads), Arc::clone(&refused));
                match spawner.spawn(Box::pin(head)) {
                    Ok(_) => {
                        heads.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(_) => {
                        refused.fetch_add(1, Ordering::SeqCst);
                        return Ok(());
                    }
                }
            }
        }
    }
}

async fn a_hydra_is_stopped_once_the_group_fails() {
    let heads = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let group = TaskGroup::<(), &str>::builder()
        .grace_period(Duration::from_millis(50))
        .build()
        .unwrap();
    let hydra_future = hydra(group.spawner(), Arc::clone(&heads), Arc::clone(&refused));
    group.spawn(Box::pin(hydra_future)).unwrap();
    group
        .spawn(async {
            sleep(Duration::from_millis(8)).await;
            Err("hercules")
        })
        .unwrap();

    let error = within(group.join()).await.unwrap_err();
    assert_eq!(error.failures().len(), 1);
    assert!(
        refused.load(Ordering::SeqCst) > 0,
        "the hydra was refused, not just aborted"
    );
    let heads_at_join = heads.load(Ordering::SeqCst);
    sleep(Duration::from_millis(50)).await;
    assert_eq!(
        heads.load(Ordering::SeqCst),
        heads_at_join,
        "no head grew after join"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hydra_is_stopped_once_the_group_fails_current_thread() {
    a_hydra_is_stopped_once_the_group_fails().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hydra_is_stopped_once_the_group_fails_multi_thread() {
    a_hydra_is_stopped_once_the_group_fails().await;
}

/// Captured by a task: takes a while to drop, on whichever thread drops it, and says
/// when it is done.
struct SlowToDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for SlowToDrop {
    fn drop(&mut self) {
        // Widens the window in which a group that reported the task's end too early
        // would let `join` return before the drop finished.
        std::thread::sleep(Duration::from_millis(1));
        self.0.store(true, Ordering::SeqCst);
    }
}

async fn join_returns_only_once_aborted_unpolled_tasks_are_dropped(rounds: usize) {
    for round in 0..rounds {
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (group, blocker) = match round % 3 {
            // Queued behind a task that never ends.
            2 => {
                let group = TaskGroup::<(), &str>::builder()
                    .max_concurrency(1)
                    .build()
                    .unwrap();
                let blocker = group.spawn(pending()).unwrap();
                (group, Some(blocker))
            }
            _ => (TaskGroup::new(), None),
        };
        let slow = SlowToDrop(Arc::clone(&dropped));
        let id = group
            .spawn(async move {
                let _slow = slow;
                pending::<()>().await;
                Ok(())
            })
            .unwrap();
        match round % 2 {
            0 => group.cancel(),
            _ => {
                assert!(group.abort(id));
                if let Some(blocker) = blocker {
                    assert!(group.abort(blocker));
                }
            }
        }
        let _ = within(group.join()).await;
        assert!(
            dropped.load(Ordering::SeqCst),
            "round {round}: join returned before the task's captures were dropped"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn join_returns_only_once_aborted_unpolled_tasks_are_dropped_current_thread() {
    join_returns_only_once_aborted_unpolled_tasks_are_dropped(30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn join_returns_only_once_aborted_unpolled_tasks_are_dropped_multi_thread() {
    join_returns_only_once_aborted_unpolled_tasks_are_dropped(500).await;
}
