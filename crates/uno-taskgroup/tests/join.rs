//! `join` and `join_next`: every task is awaited, results come back in order.

mod support;

use std::convert::Infallible;
use std::future::pending;
use std::time::Duration;

use support::{DropCounter, Flag};
use tokio::time::sleep;
use uno_taskgroup::TaskGroup;

/// Ten tasks that finish in the reverse of their spawn order.
fn spawn_reversed(group: &TaskGroup<u64, Infallible>) {
    for n in 0..10_u64 {
        group
            .spawn(async move {
                sleep(Duration::from_millis(10 * (10 - n))).await;
                Ok(n)
            })
            .unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn join_returns_results_in_spawn_order() {
    let group = TaskGroup::new();
    spawn_reversed(&group);
    assert_eq!(group.join().await.unwrap(), (0..10).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn join_returns_results_in_spawn_order_multi_thread() {
    let group = TaskGroup::new();
    for n in 0..1000_u64 {
        group
            .spawn(async move {
                if n % 3 == 0 {
                    tokio::task::yield_now().await;
                }
                Ok::<_, Infallible>(n)
            })
            .unwrap();
    }
    assert_eq!(group.join().await.unwrap(), (0..1000).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn join_next_yields_in_completion_order() {
    let mut group = TaskGroup::new();
    spawn_reversed(&group);
    let mut finished = Vec::new();
    while let Some(outcome) = group.join_next().await {
        finished.push(outcome.unwrap());
    }
    assert_eq!(finished, (0..10).rev().collect::<Vec<_>>());
    assert!(group.join().await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn join_next_interleaves_failures_in_completion_order() {
    let mut group = TaskGroup::<u32, &str>::builder()
        .fail_fast(false)
        .build()
        .unwrap();
    group
        .spawn(async {
            sleep(Duration::from_millis(30)).await;
            Ok(3)
        })
        .unwrap();
    let failing = group
        .spawn(async {
            sleep(Duration::from_millis(20)).await;
            Err("second")
        })
        .unwrap();
    group
        .spawn(async {
            sleep(Duration::from_millis(10)).await;
            Ok(1)
        })
        .unwrap();
    // Let every task finish before taking any outcome.
    sleep(Duration::from_millis(50)).await;
    assert_eq!(group.join_next().await.unwrap().unwrap(), 1);
    let (id, error) = group.join_next().await.unwrap().unwrap_err();
    assert_eq!((id, error.failed().copied()), (failing, Some("second")));
    assert_eq!(group.join_next().await.unwrap().unwrap(), 3);
    assert!(group.join_next().await.is_none());
    // The failure was taken, yet the group is not reported as a success.
    let error = group.join().await.unwrap_err();
    assert!(error.failures().is_empty() && !error.is_cancelled());
    assert_eq!(
        error.to_string(),
        "the task group failed; its failures were already taken with join_next"
    );
}

#[tokio::test(start_paused = true)]
async fn tasks_spawned_later_by_the_owner_or_through_a_spawner_are_awaited() {
    let group = TaskGroup::<&str, Infallible>::new();
    let grandchild_ran = Flag::default();
    group.spawn(async { Ok("first") }).unwrap();
    sleep(Duration::from_millis(5)).await;
    group.spawn(async { Ok("later") }).unwrap();

    let spawner = group.spawner();
    let flag = grandchild_ran.clone();
    group
        .spawn(async move {
            sleep(Duration::from_millis(10)).await;
            let inner_spawner = spawner.clone();
            spawner
                .spawn(async move {
                    sleep(Duration::from_millis(10)).await;
                    inner_spawner
                        .spawn(async move {
                            sleep(Duration::from_millis(10)).await;
                            flag.set();
                            Ok("grandchild")
                        })
                        .unwrap();
                    Ok("child")
                })
                .unwrap();
            Ok("parent")
        })
        .unwrap();

    let results = group.join().await.unwrap();
    assert_eq!(results, ["first", "later", "parent", "child", "grandchild"]);
    assert!(grandchild_ran.is_set());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_spawned_through_a_spawner_are_awaited_multi_thread() {
    let group = TaskGroup::<u32, Infallible>::new();
    let spawner = group.spawner();
    group
        .spawn(async move {
            for _ in 0..100 {
                let inner = spawner.clone();
                spawner
                    .spawn(async move {
                        tokio::task::yield_now().await;
                        inner.spawn(async { Ok(2) }).unwrap();
                        Ok(1)
                    })
                    .unwrap();
            }
            Ok(0)
        })
        .unwrap();
    let results = group.join().await.unwrap();
    assert_eq!(results.len(), 201);
    assert_eq!(results.iter().sum::<u32>(), 300);
}

#[tokio::test(start_paused = true)]
async fn aborting_one_task_is_not_a_group_failure() {
    let mut drops = DropCounter::new();
    let group = TaskGroup::<u32, &str>::new();
    let guard = drops.guard();
    let stuck = group
        .spawn(async move {
            let _guard = guard;
            pending::<()>().await;
            Ok(0)
        })
        .unwrap();
    group.spawn(async { Ok(1) }).unwrap();
    assert!(group.abort(stuck));
    drops.wait_for(1).await;
    assert!(!group.abort(stuck), "the task is gone");
    assert_eq!(group.join().await.unwrap(), [1]);
}

#[tokio::test(start_paused = true)]
async fn an_empty_group_joins_at_once() {
    let group = TaskGroup::<(), Infallible>::new();
    assert!(group.is_empty());
    assert!(group.join().await.unwrap().is_empty());
}

#[tokio::test]
async fn finished_tasks_leave_the_group_without_being_joined() {
    // A long-running group of a million short tasks: nobody joins until the end, and
    // yet the group never holds more than the tasks that are still running.
    const TOTAL: usize = 1_000_000;
    const BATCH: usize = 10_000;
    let group = TaskGroup::<(), Infallible>::new();
    for _ in 0..TOTAL / BATCH {
        for _ in 0..BATCH {
            group.spawn(async { Ok(()) }).unwrap();
        }
        assert!(group.len() <= BATCH);
        // Let the batch run; a group that kept finished tasks would never be empty.
        for _ in 0..BATCH {
            if group.is_empty() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(group.len(), 0, "finished tasks are still held by the group");
        assert_eq!(
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
            0
        );
    }
    assert_eq!(group.join().await.unwrap().len(), TOTAL);
}
