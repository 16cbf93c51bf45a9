//! Behaviour of `using`: the body runs between initialize and cleanup, whatever happens.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

mod common;

use std::time::Duration;

use common::{Behaviour, Log, ProbeError};
use uno_resource::{CleanupTracker, Error, using, using_in};

#[tokio::test]
async fn cleans_up_after_ok_and_returns_the_value() {
    let log = Log::new();
    let value = using(log.probe("a"), async |probe| {
        assert_eq!(probe.log.initialized(), 1);
        assert_eq!(probe.log.cleanups_started(), 0);
        Ok::<_, ProbeError>(7)
    })
    .await
    .unwrap();
    assert_eq!(value, 7);
    assert_eq!(log.cleanups_finished(), 1);
}

#[tokio::test]
async fn cleans_up_after_err_and_returns_the_body_error() {
    let log = Log::new();
    let error = using(log.probe("a"), async |_probe| {
        Err::<(), _>(ProbeError("body".to_owned()))
    })
    .await
    .unwrap_err();
    assert!(matches!(
        &error,
        Error::Body { error: ProbeError(name), cleanup: None } if name == "body"
    ));
    assert_eq!(error.into_body_error(), Some(ProbeError("body".to_owned())));
    assert_eq!(log.cleanups_finished(), 1);
}

#[tokio::test]
async fn keeps_a_cleanup_error_beside_the_body_error() {
    let log = Log::new();
    let error = using(log.probe("a").cleanup(Behaviour::Fail), async |_probe| {
        Err::<(), _>(ProbeError("body".to_owned()))
    })
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "probe body failed (and then resource cleanup failed: probe a failed)"
    );
    let Error::Body { error, cleanup } = &error else {
        panic!("expected a body error, got {error:?}");
    };
    assert_eq!(error, &ProbeError("body".to_owned()));
    assert!(matches!(cleanup.as_deref(), Some(Error::Cleanup(ProbeError(name))) if name == "a"));
}

#[tokio::test]
async fn reports_a_failed_cleanup_after_a_successful_body() {
    let log = Log::new();
    let error = using(log.probe("a").cleanup(Behaviour::Fail), async |_probe| {
        Ok::<_, ProbeError>(())
    })
    .await
    .unwrap_err();
    assert!(matches!(error, Error::Cleanup(ProbeError(name)) if name == "a"));
}

#[tokio::test]
async fn failing_initialize_skips_body_and_cleanup() {
    let log = Log::new();
    let mut body_ran = false;
    let error = using(log.probe("a").initialize(Behaviour::Fail), async |_probe| {
        body_ran = true;
        Ok::<_, ProbeError>(())
    })
    .await
    .unwrap_err();
    assert!(matches!(error, Error::Initialize(ProbeError(_))));
    assert!(!body_ran);
    assert_eq!(log.cleanups_started(), 0);
}

async fn cleans_up_after_a_panic_then_resumes_it() {
    let log = Log::new();
    let probe = log.probe("a");
    let task = tokio::spawn(async move {
        using(probe, async |_probe| -> Result<(), ProbeError> {
            panic!("the body panicked");
        })
        .await
    });
    let panic = task.await.unwrap_err().into_panic();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"the body panicked"));
    // The panic resumed only after the cleanup finished.
    assert_eq!(log.cleanups_finished(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn cleans_up_after_a_panic_then_resumes_it_current_thread() {
    cleans_up_after_a_panic_then_resumes_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleans_up_after_a_panic_then_resumes_it_multi_thread() {
    cleans_up_after_a_panic_then_resumes_it().await;
}

#[tokio::test(start_paused = true)]
async fn cancelled_mid_body_cleans_up_exactly_once_on_the_tracker() {
    let log = Log::new();
    let tracker = CleanupTracker::new();
    let run = using_in(log.probe("a"), &tracker, async |_probe| {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, ProbeError>(())
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(1), run)
            .await
            .is_err()
    );
    tracker.wait().await;
    assert_eq!(log.cleanups_started(), 1);
    assert_eq!(log.cleanups_finished(), 1);
}

#[tokio::test(start_paused = true)]
async fn hanging_cleanup_after_the_body_is_bounded_and_reported() {
    let log = Log::new();
    let tracker = CleanupTracker::with_cleanup_timeout(Duration::from_secs(2));
    let error = using_in(
        log.probe("a").cleanup(Behaviour::Hang),
        &tracker,
        async |_probe| Ok::<_, ProbeError>(()),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::CleanupTimeout(after) if after == Duration::from_secs(2)));
}
