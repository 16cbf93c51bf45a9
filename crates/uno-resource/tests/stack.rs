//! Behaviour of `ResourceStack`: reverse-order close, every cleanup runs, errors aggregated.

mod common;

use common::{Behaviour, Log, ProbeError};
use uno_resource::{CleanupTracker, Error, ResourceStack};

fn stack(tracker: &CleanupTracker) -> ResourceStack<ProbeError> {
    ResourceStack::with_tracker(tracker)
}

#[tokio::test]
async fn closes_resources_in_reverse_order_of_entry() {
    let log = Log::new();
    let mut stack = stack(&CleanupTracker::new());
    for name in ["first", "second", "third"] {
        stack.enter(log.probe(name)).await.unwrap();
    }
    assert_eq!(stack.len(), 3);
    stack.close().await.unwrap();
    assert_eq!(log.cleaned(), ["third", "second", "first"]);
    assert!(stack.is_empty());
}

#[tokio::test]
async fn every_cleanup_runs_when_some_fail_and_the_failures_are_aggregated() {
    let log = Log::new();
    let mut stack = stack(&CleanupTracker::new());
    stack
        .enter(log.probe("first").cleanup(Behaviour::Fail))
        .await
        .unwrap();
    stack.enter(log.probe("second")).await.unwrap();
    stack
        .enter(log.probe("third").cleanup(Behaviour::Panic))
        .await
        .unwrap();
    let error = stack.close().await.unwrap_err();
    assert_eq!(log.cleanups_started(), 3);
    assert_eq!(log.cleaned(), ["second"]);
    let Error::Multiple(errors) = &error else {
        panic!("expected several failures, got {error:?}");
    };
    assert!(matches!(&errors[0], Error::CleanupPanicked(message) if message.contains("third")));
    assert!(matches!(&errors[1], Error::Cleanup(ProbeError(name)) if name == "first"));
    assert!(
        error
            .to_string()
            .starts_with("2 resource cleanups failed: ")
    );
}

#[tokio::test]
async fn a_single_failure_is_returned_as_itself() {
    let log = Log::new();
    let mut stack = stack(&CleanupTracker::new());
    stack
        .enter(log.probe("first").cleanup(Behaviour::Fail))
        .await
        .unwrap();
    stack.enter(log.probe("second")).await.unwrap();
    let error = stack.close().await.unwrap_err();
    assert!(matches!(error, Error::Cleanup(ProbeError(name)) if name == "first"));
}

#[tokio::test]
async fn close_is_idempotent() {
    let log = Log::new();
    let mut stack = stack(&CleanupTracker::new());
    stack.enter(log.probe("a")).await.unwrap();
    stack.close().await.unwrap();
    stack.close().await.unwrap();
    assert_eq!(log.cleanups_started(), 1);
}

async fn dropped_unclosed_stack_closes_everything_in_reverse_order() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let mut stack = stack(&tracker);
    for name in ["first", "second", "third"] {
        stack.enter(log.probe(name)).await.unwrap();
    }
    drop(stack);
    tracker.wait().await;
    assert_eq!(log.cleaned(), ["third", "second", "first"]);
}

#[tokio::test(flavor = "current_thread")]
async fn dropped_unclosed_stack_closes_in_reverse_order_current_thread() {
    dropped_unclosed_stack_closes_everything_in_reverse_order().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_unclosed_stack_closes_in_reverse_order_multi_thread() {
    dropped_unclosed_stack_closes_everything_in_reverse_order().await;
}

#[tokio::test]
async fn stack_dropped_by_a_failing_scope_reports_cleanup_failures_to_the_tracker() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let mut stack = stack(&tracker);
    stack
        .enter(log.probe("first").cleanup(Behaviour::Fail))
        .await
        .unwrap();
    stack.enter(log.probe("second")).await.unwrap();
    drop(stack);
    tracker.wait().await;
    assert_eq!(log.cleaned(), ["second"]);
    let failures = tracker.take_failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].to_string(),
        "resource cleanup failed: probe first failed"
    );
}

#[test]
fn dropped_without_a_runtime_the_stack_still_closes_in_reverse_order() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stack = runtime.block_on(async {
        let mut stack = stack(&tracker);
        stack.enter(log.probe("first")).await.unwrap();
        stack.enter(log.probe("second")).await.unwrap();
        stack
    });
    drop(runtime);
    drop(stack);
    assert_eq!(log.cleaned(), ["second", "first"]);
}

#[tokio::test]
async fn failing_enter_leaves_the_stack_unchanged_and_skips_cleanup() {
    let log = Log::new();
    let mut stack = stack(&CleanupTracker::new());
    stack.enter(log.probe("first")).await.unwrap();
    let error = stack
        .enter(log.probe("broken").initialize(Behaviour::Fail))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Initialize(ProbeError(name)) if name == "broken"));
    assert_eq!(stack.len(), 1);
    stack.close().await.unwrap();
    assert_eq!(log.cleaned(), ["first"]);
}

#[tokio::test]
async fn keys_reach_only_their_own_stack_and_only_until_close() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let mut one = stack(&tracker);
    let mut other = stack(&tracker);
    let key = one.enter(log.probe("one")).await.unwrap();
    let other_key = other.enter(log.probe("other")).await.unwrap();
    assert_eq!(one[key].name, "one");
    one[key].name.push('!');
    assert_eq!(one.get(key).map(|probe| probe.name.as_str()), Some("one!"));
    assert!(one.get(other_key).is_none());
    one.close().await.unwrap();
    assert!(one.get(key).is_none());
    let reused = one.enter(log.probe("again")).await.unwrap();
    assert!(
        one.get(key).is_none(),
        "an old key must not reach a new resource"
    );
    assert_eq!(one[reused].name, "again");
    one.close().await.unwrap();
    other.close().await.unwrap();
}

#[tokio::test]
async fn a_boxed_error_stack_holds_resources_of_different_types() {
    struct Other;
    impl uno_resource::AsyncResource for Other {
        type Error = std::io::Error;
        async fn initialize(&mut self) -> Result<(), std::io::Error> {
            Ok(())
        }
        async fn cleanup(&mut self) -> Result<(), std::io::Error> {
            Err(std::io::Error::other("disk gone"))
        }
    }
    let log = Log::new();
    let mut stack = ResourceStack::new();
    stack.enter(log.probe("probe")).await.unwrap();
    stack.enter(Other).await.unwrap();
    let error = stack.close().await.unwrap_err();
    assert_eq!(error.to_string(), "resource cleanup failed: disk gone");
    assert_eq!(log.cleaned(), ["probe"]);
}

#[tokio::test]
async fn deferred_cleanups_run_in_reverse_order_with_the_resources() {
    let log = Log::new();
    let mut stack = stack(&CleanupTracker::new());
    stack.enter(log.probe("first")).await.unwrap();
    let order = log.order.clone();
    stack.defer(async move {
        order.lock().unwrap().push("deferred".to_owned());
        Ok::<_, ProbeError>(())
    });
    stack.enter(log.probe("last")).await.unwrap();
    assert!(
        log.cleaned().is_empty(),
        "a deferred cleanup waits for close"
    );
    stack.close().await.unwrap();
    assert_eq!(log.cleaned(), ["last", "deferred", "first"]);
}

#[tokio::test]
async fn a_failing_deferred_cleanup_is_aggregated_with_the_others() {
    let log = Log::new();
    let mut stack = stack(&CleanupTracker::new());
    stack.enter(log.probe("first")).await.unwrap();
    stack.defer(async { Err(ProbeError("deferred".to_owned())) });
    let error = stack.close().await.unwrap_err();
    assert!(matches!(error, Error::Cleanup(ProbeError(name)) if name == "deferred"));
    assert_eq!(log.cleaned(), ["first"]);
}
