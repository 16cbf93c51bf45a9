//! Tasks stopped by their runtime shutting down: the group reports them, never success.

mod support;

use std::convert::Infallible;
use std::future::pending;

use tokio::runtime::{Builder, Runtime};
use uno_taskgroup::{TaskError, TaskGroup, TaskId};

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

/// Spawns, on `runtime`, one task that finishes and `stuck` tasks that never do, lets
/// the finished one end, then shuts `runtime` down. Returns the ids of the stuck tasks.
fn spawn_then_shut_down(
    runtime: Runtime,
    group: &TaskGroup<u32, Infallible>,
    stuck: usize,
) -> Vec<TaskId> {
    let ids = runtime.block_on(async {
        group.spawn(async { Ok(1) }).unwrap();
        let ids: Vec<_> = (0..stuck)
            .map(|_| group.spawn(pending()).unwrap())
            .collect();
        // The finished task leaves the group once it has run.
        while group.len() > stuck {
            tokio::task::yield_now().await;
        }
        ids
    });
    drop(runtime);
    ids
}

fn a_group_whose_tasks_died_with_their_runtime_is_not_a_success(runtime: Runtime) {
    let group = TaskGroup::<u32, Infallible>::new();
    let stuck = spawn_then_shut_down(runtime, &group, 2);
    let error = current_thread()
        .block_on(support::within(group.join()))
        .unwrap_err();
    assert!(!error.is_cancelled());
    // Fail-fast: the first task the runtime dropped fails the group, its sibling is
    // then aborted by the group.
    assert!(!error.failures().is_empty());
    for (id, failure) in error.failures() {
        assert!(stuck.contains(id));
        assert!(matches!(failure, TaskError::RuntimeShutdown), "{failure:?}");
    }
    let message = error.to_string();
    assert!(
        message.contains("stopped by its runtime shutting down"),
        "{message}"
    );
}

#[test]
fn a_group_whose_tasks_died_with_their_runtime_is_not_a_success_current_thread() {
    a_group_whose_tasks_died_with_their_runtime_is_not_a_success(current_thread());
}

#[test]
fn a_group_whose_tasks_died_with_their_runtime_is_not_a_success_multi_thread() {
    a_group_whose_tasks_died_with_their_runtime_is_not_a_success(multi_thread());
}

fn without_fail_fast_every_task_stopped_by_the_runtime_is_reported(runtime: Runtime) {
    let group = TaskGroup::<u32, Infallible>::builder()
        .fail_fast(false)
        .build()
        .unwrap();
    let stuck = spawn_then_shut_down(runtime, &group, 3);
    let error = current_thread()
        .block_on(support::within(group.join()))
        .unwrap_err();
    assert!(!error.is_cancelled());
    let mut reported: Vec<TaskId> = error.failures().iter().map(|(id, _)| *id).collect();
    reported.sort();
    assert_eq!(reported, stuck);
    assert!(
        error
            .failures()
            .iter()
            .all(|(_, failure)| matches!(failure, TaskError::RuntimeShutdown))
    );
}

#[test]
fn without_fail_fast_every_task_stopped_by_the_runtime_is_reported_current_thread() {
    without_fail_fast_every_task_stopped_by_the_runtime_is_reported(current_thread());
}

#[test]
fn without_fail_fast_every_task_stopped_by_the_runtime_is_reported_multi_thread() {
    without_fail_fast_every_task_stopped_by_the_runtime_is_reported(multi_thread());
}

#[test]
fn queued_tasks_started_on_a_shut_down_runtime_are_reported() {
    let group = TaskGroup::<u32, Infallible>::builder()
        .max_concurrency(1)
        .fail_fast(false)
        .build()
        .unwrap();
    let runtime = current_thread();
    let ids: Vec<_> =
        runtime.block_on(async { (0..3).map(|_| group.spawn(pending()).unwrap()).collect() });
    drop(runtime);
    let error = current_thread()
        .block_on(support::within(group.join()))
        .unwrap_err();
    let reported: Vec<TaskId> = error.failures().iter().map(|(id, _)| *id).collect();
    assert_eq!(reported, ids);
}

#[test]
fn tasks_aborted_by_the_owner_before_the_runtime_shut_down_are_not_failures() {
    let group = TaskGroup::<u32, Infallible>::new();
    let runtime = current_thread();
    runtime.block_on(async {
        let stuck = group.spawn(pending()).unwrap();
        group.spawn(async { Ok(2) }).unwrap();
        assert!(group.abort(stuck));
        while !group.is_empty() {
            tokio::task::yield_now().await;
        }
    });
    drop(runtime);
    assert_eq!(current_thread().block_on(group.join()).unwrap(), [2]);
}
