//! `join_settled`: every task's outcome in spawn order, and the count of queued tasks
//! that a cancelling group dropped without running.

mod support;

use std::future::pending;
use std::time::Duration;

use support::{DropCounter, Flag, within};
use tokio::time::sleep;
use uno_taskgroup::{TaskError, TaskGroup, TaskId};

/// A short, comparable name for an outcome.
fn describe<T: std::fmt::Debug>(outcome: &Result<T, TaskError<&'static str>>) -> String {
    match outcome {
        Ok(value) => format!("ok {value:?}"),
        Err(TaskError::Failed(error)) => format!("failed {error}"),
        Err(TaskError::Panicked(panic)) => format!("panicked {}", panic.message().unwrap_or("?")),
        Err(TaskError::Cancelled) => "cancelled".to_owned(),
        Err(TaskError::NotStarted) => "not started".to_owned(),
        Err(other) => format!("other {other}"),
    }
}

fn ids(settled_ids: impl Iterator<Item = TaskId>) -> Vec<u64> {
    settled_ids.map(TaskId::as_u64).collect()
}

#[tokio::test(start_paused = true)]
async fn settled_outcomes_keep_successes_failures_panics_and_cancellations_in_spawn_order() {
    let group = TaskGroup::<u32, &str>::builder()
        .fail_fast(false)
        .build()
        .unwrap();
    let token = group.token();
    // Finishes last of the finite tasks, so completion order differs from spawn order.
    group
        .spawn(async {
            sleep(Duration::from_millis(30)).await;
            Ok(0)
        })
        .unwrap();
    group.spawn(async { Err("bad input") }).unwrap();
    group
        .spawn(async {
            sleep(Duration::from_millis(10)).await;
            panic!("boom");
        })
        .unwrap();
    group.spawn(async { Ok(3) }).unwrap();
    // Runs until the group's cancellation aborts it: no deadline is involved.
    group.spawn(pending()).unwrap();
    group
        .spawn(async move {
            sleep(Duration::from_millis(50)).await;
            token.cancel();
            Ok(5)
        })
        .unwrap();

    let settled = within(group.join_settled()).await;
    assert!(settled.is_cancelled());
    assert_eq!(settled.dropped_queued(), 0);
    let described: Vec<(u64, String)> = settled
        .outcomes()
        .iter()
        .map(|(id, outcome)| (id.as_u64(), describe(outcome)))
        .collect();
    assert_eq!(
        described,
        [
            (0, "ok 0".to_owned()),
            (1, "failed bad input".to_owned()),
            (2, "panicked boom".to_owned()),
            (3, "ok 3".to_owned()),
            (4, "cancelled".to_owned()),
            (5, "ok 5".to_owned()),
        ]
    );
    assert_eq!(
        settled
            .successes()
            .map(|(_, value)| *value)
            .collect::<Vec<_>>(),
        [0, 3, 5]
    );
    assert_eq!(ids(settled.failures().map(|(id, _)| id)), [1, 2, 4]);
}

#[tokio::test(start_paused = true)]
async fn settled_outcomes_of_a_group_without_failures_are_all_successes() {
    let group = TaskGroup::<u64, &str>::new();
    for n in 0..10_u64 {
        group
            .spawn(async move {
                sleep(Duration::from_millis(10 * (10 - n))).await;
                Ok(n)
            })
            .unwrap();
    }
    let settled = group.join_settled().await;
    assert!(!settled.is_cancelled());
    let outcomes: Vec<(u64, u64)> = settled
        .into_iter()
        .map(|(id, outcome)| (id.as_u64(), outcome.unwrap()))
        .collect();
    assert_eq!(outcomes, (0..10).map(|n| (n, n)).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn settled_unit_outcomes_carry_the_ids_of_their_tasks() {
    // `()` results take no memory; their ids must still be kept for `join_settled`.
    let group = TaskGroup::<(), &str>::builder()
        .fail_fast(false)
        .build()
        .unwrap();
    for n in 0..6_u64 {
        group
            .spawn(async move {
                sleep(Duration::from_millis(10 * (6 - n))).await;
                match n % 3 {
                    0 => Err("third"),
                    _ => Ok(()),
                }
            })
            .unwrap();
    }
    let settled = group.join_settled().await;
    let described: Vec<(u64, String)> = settled
        .outcomes()
        .iter()
        .map(|(id, outcome)| (id.as_u64(), describe(outcome)))
        .collect();
    assert_eq!(
        described,
        [
            (0, "failed third".to_owned()),
            (1, "ok ()".to_owned()),
            (2, "ok ()".to_owned()),
            (3, "failed third".to_owned()),
            (4, "ok ()".to_owned()),
            (5, "ok ()".to_owned()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_fail_fast_failure_settles_siblings_as_cancelled_and_queued_tasks_as_not_started() {
    let drops = DropCounter::new();
    let started = Flag::default();
    let group = TaskGroup::<u32, &str>::builder()
        .max_concurrency(2)
        .build()
        .unwrap();
    group
        .spawn(async {
            sleep(Duration::from_millis(10)).await;
            Err("boom")
        })
        .unwrap();
    group.spawn(pending()).unwrap();
    for _ in 0..5 {
        let guard = drops.guard();
        let started = started.clone();
        group
            .spawn(async move {
                let _guard = guard;
                started.set();
                Ok(1)
            })
            .unwrap();
    }
    let settled = within(group.join_settled()).await;
    assert!(
        !settled.is_cancelled(),
        "a failure, not a cancel, stopped it"
    );
    assert_eq!(settled.dropped_queued(), 5);
    assert_eq!(drops.dropped(), 5, "the queued futures are dropped");
    assert!(!started.is_set(), "no queued task ran");
    let described: Vec<String> = settled
        .outcomes()
        .iter()
        .map(|(_, outcome)| describe(outcome))
        .collect();
    assert_eq!(
        described,
        [
            "failed boom",
            "cancelled",
            "not started",
            "not started",
            "not started",
            "not started",
            "not started",
        ]
    );
    assert_eq!(
        settled
            .outcomes()
            .iter()
            .filter(|(_, outcome)| outcome.as_ref().is_err_and(TaskError::is_not_started))
            .count(),
        settled.dropped_queued()
    );
}

#[tokio::test(start_paused = true)]
async fn join_reports_how_many_queued_tasks_a_cancel_dropped() {
    let group = TaskGroup::<u32, &str>::builder()
        .max_concurrency(1)
        .build()
        .unwrap();
    group.spawn(pending()).unwrap();
    for n in 0..4 {
        group.spawn(async move { Ok(n) }).unwrap();
    }
    group.cancel();
    let error = within(group.join()).await.unwrap_err();
    assert!(error.is_cancelled());
    assert!(error.failures().is_empty());
    assert_eq!(error.dropped_queued(), 4);
    assert_eq!(
        error.to_string(),
        "the task group was cancelled before all its tasks finished; 4 queued tasks never started, see TaskGroup::join_settled"
    );
}

#[tokio::test(start_paused = true)]
async fn queued_tasks_dropped_during_a_grace_period_are_counted_and_running_ones_finish() {
    let group = TaskGroup::<u32, &str>::builder()
        .max_concurrency(1)
        .grace_period(Duration::from_secs(1))
        .build()
        .unwrap();
    let token = group.token();
    // Watches the token and finishes cleanly within the grace period.
    group
        .spawn(async move {
            token.cancelled().await;
            Ok(7)
        })
        .unwrap();
    for n in 0..3 {
        group.spawn(async move { Ok(n) }).unwrap();
    }
    group.cancel();
    let settled = within(group.join_settled()).await;
    assert!(settled.is_cancelled());
    assert_eq!(settled.dropped_queued(), 3);
    let described: Vec<String> = settled
        .outcomes()
        .iter()
        .map(|(_, outcome)| describe(outcome))
        .collect();
    assert_eq!(
        described,
        ["ok 7", "not started", "not started", "not started"]
    );
}

#[tokio::test(start_paused = true)]
async fn aborted_tasks_and_outcomes_taken_by_join_next_are_left_out_of_settled() {
    let mut group = TaskGroup::<u32, &str>::builder()
        .fail_fast(false)
        .build()
        .unwrap();
    group.spawn(async { Ok(0) }).unwrap();
    let aborted = group.spawn(pending()).unwrap();
    group
        .spawn(async {
            sleep(Duration::from_millis(10)).await;
            Err("late")
        })
        .unwrap();
    assert!(group.abort(aborted));
    assert_eq!(group.join_next().await.unwrap().unwrap(), 0);
    let settled = group.join_settled().await;
    assert!(!settled.is_cancelled());
    let described: Vec<(u64, String)> = settled
        .outcomes()
        .iter()
        .map(|(id, outcome)| (id.as_u64(), describe(outcome)))
        .collect();
    assert_eq!(described, [(2, "failed late".to_owned())]);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_join_settled_future_aborts_every_task() {
    let mut drops = DropCounter::new();
    let group = TaskGroup::<(), &str>::new();
    for _ in 0..3 {
        let guard = drops.guard();
        group
            .spawn(async move {
                let _guard = guard;
                pending::<()>().await;
                Ok(())
            })
            .unwrap();
    }
    let timed_out = tokio::time::timeout(Duration::from_millis(10), group.join_settled()).await;
    assert!(timed_out.is_err());
    drops.wait_for(3).await;
}
