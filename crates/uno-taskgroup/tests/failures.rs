//! Failures: fail-fast cancellation, aggregated errors, panics, nested groups.

mod support;

use std::future::pending;
use std::time::Duration;

use support::{DropCounter, Flag, within};
use tokio::time::sleep;
use uno_taskgroup::{GroupError, TaskError, TaskGroup};

async fn first_error_cancels_every_sibling() {
    let drops = DropCounter::new();
    let group = TaskGroup::<(), &str>::new();
    let ran_after_failure = Flag::default();
    for _ in 0..10 {
        let guard = drops.guard();
        let flag = ran_after_failure.clone();
        group
            .spawn(async move {
                let _guard = guard;
                sleep(Duration::from_secs(3600)).await;
                flag.set();
                Ok(())
            })
            .unwrap();
    }
    let failing = group
        .spawn(async {
            sleep(Duration::from_millis(10)).await;
            Err("boom")
        })
        .unwrap();

    let error = within(group.join()).await.unwrap_err();
    // Every sibling was dropped before `join` returned.
    assert_eq!(drops.dropped(), 10);
    assert!(!ran_after_failure.is_set());
    assert!(!error.is_cancelled());
    assert!(matches!(error.failures(), [(id, TaskError::Failed("boom"))] if *id == failing));
    assert_eq!(
        error.to_string(),
        format!("the task group failed: task {failing} failed: boom")
    );
}

#[tokio::test(start_paused = true)]
async fn first_error_cancels_every_sibling_current_thread() {
    first_error_cancels_every_sibling().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn first_error_cancels_every_sibling_multi_thread() {
    first_error_cancels_every_sibling().await;
}

#[tokio::test(start_paused = true)]
async fn every_failure_during_the_grace_period_is_reported_with_its_task_id() {
    let group = TaskGroup::<(), String>::builder()
        .grace_period(Duration::from_secs(1))
        .build()
        .unwrap();
    let mut cleanup_ids = Vec::new();
    for n in 0..3_u64 {
        let token = group.token();
        let id = group
            .spawn(async move {
                token.cancelled().await;
                sleep(Duration::from_millis(10 * (n + 1))).await;
                Err(format!("cleanup {n} failed"))
            })
            .unwrap();
        cleanup_ids.push(id);
    }
    let first = group
        .spawn(async {
            sleep(Duration::from_millis(5)).await;
            Err("first".to_owned())
        })
        .unwrap();

    let error = within(group.join()).await.unwrap_err();
    let reported: Vec<_> = error
        .failures()
        .iter()
        .map(|(id, error)| (*id, error.failed().cloned().unwrap()))
        .collect();
    assert_eq!(
        reported,
        [
            (first, "first".to_owned()),
            (cleanup_ids[0], "cleanup 0 failed".to_owned()),
            (cleanup_ids[1], "cleanup 1 failed".to_owned()),
            (cleanup_ids[2], "cleanup 2 failed".to_owned()),
        ]
    );
    assert!(
        error
            .to_string()
            .ends_with("(and 3 more failures, see GroupError::failures)")
    );
}

async fn without_fail_fast_every_task_runs_and_every_failure_is_reported() {
    let group = TaskGroup::<u32, u32>::builder()
        .fail_fast(false)
        .build()
        .unwrap();
    let finished = Flag::default();
    let mut failing = Vec::new();
    for n in 0..6_u32 {
        let finished = finished.clone();
        let id = group
            .spawn(async move {
                sleep(Duration::from_millis(u64::from(n))).await;
                if n == 5 {
                    finished.set();
                }
                if n % 2 == 0 { Err(n) } else { Ok(n) }
            })
            .unwrap();
        if n % 2 == 0 {
            failing.push(id);
        }
    }
    let error = within(group.join()).await.unwrap_err();
    assert!(
        finished.is_set(),
        "the last task ran although others failed"
    );
    let mut reported: Vec<_> = error
        .into_failures()
        .into_iter()
        .map(|(id, error)| (id, error.into_failed().unwrap()))
        .collect();
    reported.sort();
    let expected: Vec<_> = failing.into_iter().zip([0, 2, 4]).collect();
    assert_eq!(reported, expected);
}

#[tokio::test(start_paused = true)]
async fn without_fail_fast_every_failure_is_reported_current_thread() {
    without_fail_fast_every_task_runs_and_every_failure_is_reported().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_fail_fast_every_failure_is_reported_multi_thread() {
    without_fail_fast_every_task_runs_and_every_failure_is_reported().await;
}

async fn a_panic_is_reported_and_cancels_the_siblings() {
    let mut drops = DropCounter::new();
    let group = TaskGroup::<(), &str>::new();
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
    let panicking = group
        .spawn(async {
            tokio::task::yield_now().await;
            panic!("task exploded");
        })
        .unwrap();

    let error = within(group.join()).await.unwrap_err();
    drops.wait_for(5).await;
    assert!(error.has_panic());
    match error.failures() {
        [(id, TaskError::Panicked(panic))] => {
            assert_eq!(*id, panicking);
            assert_eq!(panic.message(), Some("task exploded"));
        }
        other => panic!("expected one panic, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        format!("the task group failed: task {panicking} panicked: task exploded")
    );

    let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| error.resume_panic()))
        .expect_err("resume_panic re-raises the task's panic");
    assert_eq!(resumed.downcast_ref::<&str>(), Some(&"task exploded"));
}

#[tokio::test(start_paused = true)]
async fn a_panic_is_reported_and_cancels_the_siblings_current_thread() {
    a_panic_is_reported_and_cancels_the_siblings().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panic_is_reported_and_cancels_the_siblings_multi_thread() {
    a_panic_is_reported_and_cancels_the_siblings().await;
}

#[tokio::test(start_paused = true)]
async fn resume_panic_returns_an_error_without_panics_unchanged() {
    let group = TaskGroup::<(), &str>::new();
    group.spawn(async { Err("plain") }).unwrap();
    let error = group.join().await.unwrap_err().resume_panic();
    assert!(matches!(
        error.failures(),
        [(_, TaskError::Failed("plain"))]
    ));
}

#[tokio::test(start_paused = true)]
async fn an_inner_failure_appears_in_the_outer_group_error() {
    let outer = TaskGroup::<(), GroupError<&str>>::new();
    let mut inner_failing = None;
    let inner = TaskGroup::<(), &str>::new();
    inner.spawn(async { Ok(()) }).unwrap();
    inner_failing.replace(inner.spawn(async { Err("inner boom") }).unwrap());
    let inner_task = outer
        .spawn(async move { inner.join().await.map(|_| ()) })
        .unwrap();

    let error = within(outer.join()).await.unwrap_err();
    let [(outer_id, TaskError::Failed(inner_error))] = error.failures() else {
        panic!("expected the inner group's failure, got {error:?}");
    };
    assert_eq!(*outer_id, inner_task);
    assert!(matches!(
        inner_error.failures(),
        [(id, TaskError::Failed("inner boom"))] if Some(*id) == inner_failing
    ));
    assert!(error.to_string().contains("inner boom"), "{error}");
}

async fn an_outer_failure_cancels_the_inner_groups_tasks() {
    let mut drops = DropCounter::new();
    // The grace period lets the linked inner group see the cancellation and report it;
    // the unlinked one ignores it and is aborted when the grace period ends.
    let outer = TaskGroup::<(), &str>::builder()
        .grace_period(Duration::from_millis(100))
        .build()
        .unwrap();
    let outer_token = outer.token();
    let inner_result = std::sync::Arc::new(std::sync::Mutex::new(None));

    // One inner group is linked to the outer token: its own join sees the cancellation.
    let guards: Vec<_> = (0..3).map(|_| drops.guard()).collect();
    let result_slot = std::sync::Arc::clone(&inner_result);
    outer
        .spawn(async move {
            let inner = TaskGroup::<(), &str>::builder()
                .parent_token(&outer_token)
                .build()
                .unwrap();
            for guard in guards {
                inner
                    .spawn(async move {
                        let _guard = guard;
                        pending::<()>().await;
                        Ok(())
                    })
                    .unwrap();
            }
            let result = inner.join().await;
            *result_slot.lock().unwrap() = Some(result.map_err(|error| error.is_cancelled()));
            Ok(())
        })
        .unwrap();
    // Another is only owned by an outer task: dropping that task drops the group.
    let guards: Vec<_> = (0..3).map(|_| drops.guard()).collect();
    outer
        .spawn(async move {
            let inner = TaskGroup::<(), &str>::new();
            for guard in guards {
                inner
                    .spawn(async move {
                        let _guard = guard;
                        pending::<()>().await;
                        Ok(())
                    })
                    .unwrap();
            }
            inner.join().await.map(|_| ()).map_err(|_| "inner")
        })
        .unwrap();
    outer
        .spawn(async {
            sleep(Duration::from_millis(10)).await;
            Err("outer boom")
        })
        .unwrap();

    let error = within(outer.join()).await.unwrap_err();
    assert!(matches!(
        error.failures(),
        [(_, TaskError::Failed("outer boom"))]
    ));
    drops.wait_for(6).await;
    let seen = inner_result.lock().unwrap().take();
    assert_eq!(
        seen,
        Some(Err(true)),
        "the linked inner group reports its cancellation"
    );
}

#[tokio::test(start_paused = true)]
async fn an_outer_failure_cancels_the_inner_groups_tasks_current_thread() {
    an_outer_failure_cancels_the_inner_groups_tasks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outer_failure_cancels_the_inner_groups_tasks_multi_thread() {
    an_outer_failure_cancels_the_inner_groups_tasks().await;
}

#[test]
fn errors_and_handles_cross_threads() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<GroupError<std::io::Error>>();
    send_sync::<TaskError<std::io::Error>>();
    send_sync::<uno_taskgroup::PanicPayload>();
    send_sync::<uno_taskgroup::SpawnError>();
    send_sync::<uno_taskgroup::BuildError>();
    send_sync::<TaskGroup<u8, std::io::Error>>();
    send_sync::<uno_taskgroup::Spawner<u8, std::io::Error>>();
}

#[tokio::test(start_paused = true)]
async fn a_group_error_is_a_standard_error_whose_message_names_the_first_failure() {
    let group = TaskGroup::<(), std::io::Error>::new();
    group
        .spawn(async { Err(std::io::Error::other("disk on fire")) })
        .unwrap();
    let error: Box<dyn std::error::Error + Send + Sync> =
        Box::new(within(group.join()).await.unwrap_err());
    // The message names the failure, so it is not returned as a source too (a report
    // would print it twice); the failures are reached through the group's error.
    assert_eq!(
        error.to_string(),
        "the task group failed: task 0 failed: disk on fire"
    );
    assert!(error.source().is_none());
    let group_error = error
        .downcast_ref::<GroupError<std::io::Error>>()
        .expect("a GroupError");
    let failed = group_error.failures()[0]
        .1
        .failed()
        .expect("the task's own error");
    assert_eq!(failed.to_string(), "disk on fire");
}

/// A task future that returns `Ok` and then panics when it is dropped.
struct PanicsWhenDropped(u32);

impl std::future::Future for PanicsWhenDropped {
    type Output = Result<u32, std::convert::Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::task::Poll::Ready(Ok(self.0))
    }
}

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("dropped badly");
    }
}

async fn a_task_that_panics_when_dropped_after_returning_ok_is_a_panic(fail_fast: bool) {
    let group = TaskGroup::<u32, std::convert::Infallible>::builder()
        .fail_fast(fail_fast)
        .build()
        .unwrap();
    group.spawn(async { Ok(1) }).unwrap();
    let panicking = group.spawn(PanicsWhenDropped(2)).unwrap();
    group.spawn(async { Ok(3) }).unwrap();
    let error = within(group.join()).await.unwrap_err();
    assert!(!error.is_cancelled());
    match error.failures() {
        [(id, TaskError::Panicked(panic))] => {
            assert_eq!(*id, panicking);
            assert_eq!(panic.message(), Some("dropped badly"));
        }
        other => panic!("expected one panic, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_that_panics_when_dropped_after_returning_ok_is_a_panic_current_thread() {
    a_task_that_panics_when_dropped_after_returning_ok_is_a_panic(true).await;
    a_task_that_panics_when_dropped_after_returning_ok_is_a_panic(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_that_panics_when_dropped_after_returning_ok_is_a_panic_multi_thread() {
    a_task_that_panics_when_dropped_after_returning_ok_is_a_panic(true).await;
    a_task_that_panics_when_dropped_after_returning_ok_is_a_panic(false).await;
}

/// A task future that panics when polled, and again when it is dropped.
struct PanicsTwice;

impl std::future::Future for PanicsTwice {
    type Output = Result<u32, std::convert::Infallible>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        panic!("first panic");
    }
}

impl Drop for PanicsTwice {
    fn drop(&mut self) {
        panic!("second panic");
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_that_panics_again_when_dropped_reports_its_first_panic() {
    let group = TaskGroup::<u32, std::convert::Infallible>::new();
    let panicking = group.spawn(PanicsTwice).unwrap();
    let error = within(group.join()).await.unwrap_err();
    match error.failures() {
        [(id, TaskError::Panicked(panic))] => {
            assert_eq!(*id, panicking);
            assert_eq!(panic.message(), Some("first panic"));
        }
        other => panic!("expected one panic, got {other:?}"),
    }
}
