//! Shutdown behaviour driven by `trigger()`, with virtual time: no real signals here.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;
use uno_signal::{Failure, Shutdown, ShutdownReason, SignalError};

fn manual(grace_period: Duration) -> Shutdown {
    Shutdown::builder()
        .signals([])
        .grace_period(grace_period)
        .install()
        .expect("a shutdown without signals always installs")
}

/// Work that winds down `cleanup` after the token fires.
fn polite(shutdown: &Shutdown, cleanup: Duration) -> impl Future<Output = ()> + Send + 'static {
    let token = shutdown.token();
    async move {
        token.cancelled().await;
        tokio::time::sleep(cleanup).await;
    }
}

#[tokio::test(start_paused = true)]
async fn run_returns_when_all_work_finished_before_any_shutdown() {
    let shutdown = manual(Duration::from_secs(5));
    shutdown
        .spawn("short", tokio::time::sleep(Duration::from_secs(1)))
        .unwrap();
    shutdown
        .spawn("longer", tokio::time::sleep(Duration::from_secs(2)))
        .unwrap();

    let report = shutdown.run().await;

    assert_eq!(report.reason(), None);
    assert_eq!(report.finished(), ["short", "longer"]);
    assert!(report.is_clean());
    assert!(!shutdown.is_triggered());
}

#[tokio::test(start_paused = true)]
async fn run_without_work_returns_at_once() {
    let shutdown = manual(Duration::from_secs(5));
    let started = Instant::now();

    let report = shutdown.run().await;

    assert_eq!(started.elapsed(), Duration::ZERO);
    assert!(report.finished().is_empty() && report.is_clean());
}

#[tokio::test(start_paused = true)]
async fn trigger_cancels_the_token_and_wait_says_why() {
    let shutdown = manual(Duration::from_secs(5));
    let token = shutdown.token();
    assert!(!token.is_cancelled());
    assert_eq!(shutdown.reason(), None);

    shutdown.trigger();

    assert!(token.is_cancelled());
    assert!(
        shutdown.token().is_cancelled(),
        "tokens made later are cancelled too"
    );
    assert_eq!(shutdown.wait().await, ShutdownReason::Triggered);
    assert_eq!(shutdown.reason(), Some(ShutdownReason::Triggered));
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_handed_out_token_does_not_begin_the_shutdown() {
    let shutdown = manual(Duration::from_secs(5));
    let token = shutdown.token();

    token.cancel();

    assert!(!shutdown.is_triggered());
    assert!(!shutdown.token().is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn work_that_finishes_within_the_grace_period_is_reported_finished() {
    let shutdown = manual(Duration::from_secs(5));
    shutdown
        .spawn("flush", polite(&shutdown, Duration::from_secs(2)))
        .unwrap();

    shutdown.trigger();
    let started = Instant::now();
    let report = shutdown.run().await;

    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(report.reason(), Some(ShutdownReason::Triggered));
    assert_eq!(report.finished(), ["flush"]);
    assert!(report.is_clean());
}

#[tokio::test(start_paused = true)]
async fn grace_period_expiry_aborts_and_names_unfinished_work() {
    let shutdown = manual(Duration::from_secs(5));
    let (held, dropped) = oneshot::channel::<()>();
    shutdown
        .spawn("ignores-token", async move {
            let _held = held;
            std::future::pending::<()>().await;
        })
        .unwrap();
    shutdown
        .spawn("slow-cleanup", polite(&shutdown, Duration::from_secs(60)))
        .unwrap();
    shutdown
        .spawn("quick", polite(&shutdown, Duration::from_secs(1)))
        .unwrap();

    shutdown.trigger();
    let started = Instant::now();
    let report = shutdown.run().await;

    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(report.finished(), ["quick"]);
    assert_eq!(report.aborted(), ["ignores-token", "slow-cleanup"]);
    assert!(!report.is_clean());
    assert!(
        dropped.await.is_err(),
        "the aborted task is dropped, releasing what it held"
    );
}

#[tokio::test(start_paused = true)]
async fn grace_period_counts_from_when_the_shutdown_began_not_from_run() {
    let shutdown = manual(Duration::from_secs(5));
    shutdown
        .spawn("stubborn", std::future::pending::<()>())
        .unwrap();

    shutdown.trigger();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = Instant::now();
    let report = shutdown.run().await;

    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(report.aborted(), ["stubborn"]);
}

#[tokio::test(start_paused = true)]
async fn zero_grace_period_aborts_unfinished_work_at_once() {
    let shutdown = manual(Duration::ZERO);
    shutdown
        .spawn("cleanup", polite(&shutdown, Duration::from_secs(1)))
        .unwrap();

    shutdown.trigger();
    let started = Instant::now();
    let report = shutdown.run().await;

    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(report.aborted(), ["cleanup"]);
}

#[tokio::test(start_paused = true)]
async fn endless_grace_period_waits_for_the_work() {
    let shutdown = manual(Duration::MAX);
    shutdown
        .spawn("cleanup", polite(&shutdown, Duration::from_secs(3600)))
        .unwrap();

    shutdown.trigger();
    let report = shutdown.run().await;

    assert_eq!(report.finished(), ["cleanup"]);
}

#[derive(Debug, thiserror::Error)]
#[error("disk full")]
struct DiskFull;

/// Panics; its `()` return type gives the work an `Outcome` output type.
fn crash() {
    panic!("boom");
}

#[tokio::test(start_paused = true)]
async fn work_errors_and_panics_are_reported_by_name() {
    let shutdown = manual(Duration::from_secs(5));
    shutdown
        .spawn("writer", async { Err::<(), _>(DiskFull) })
        .unwrap();
    shutdown
        .spawn("crasher", async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            crash();
        })
        .unwrap();
    shutdown
        .spawn("fine", async { Ok::<(), DiskFull>(()) })
        .unwrap();
    shutdown
        .spawn("text-error", async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Err::<(), _>("plain strings work as errors too".to_owned())
        })
        .unwrap();

    let report = shutdown.run().await;

    assert_eq!(report.finished(), ["fine"]);
    let failed: Vec<(&str, String)> = report
        .failed()
        .iter()
        .map(|(name, failure)| (name.as_str(), failure.to_string()))
        .collect();
    assert_eq!(
        failed,
        [
            ("writer", "returned an error: disk full".to_owned()),
            ("crasher", "panicked: boom".to_owned()),
            (
                "text-error",
                "returned an error: plain strings work as errors too".to_owned()
            ),
        ]
    );
    assert!(matches!(report.failed()[1].1, Failure::Panic(_)));
    assert!(!report.is_clean());
    let shown = report.to_string();
    assert!(
        shown.contains("writer returned an error: disk full"),
        "{shown}"
    );
}

#[tokio::test(start_paused = true)]
async fn spawn_after_the_shutdown_began_is_refused() {
    let shutdown = manual(Duration::from_secs(5));
    shutdown.trigger();

    let refused = shutdown.spawn("late", async {});

    match refused {
        Err(SignalError::ShuttingDown { name }) => assert_eq!(name, "late"),
        other => panic!("expected ShuttingDown, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn trigger_twice_keeps_the_first_reason_and_start() {
    let shutdown = manual(Duration::from_secs(5));
    shutdown
        .spawn("stubborn", std::future::pending::<()>())
        .unwrap();
    shutdown.trigger();
    tokio::time::sleep(Duration::from_secs(4)).await;
    shutdown.trigger();

    let started = Instant::now();
    let report = shutdown.run().await;

    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(report.aborted(), ["stubborn"]);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_run_future_loses_no_outcome() {
    let shutdown = manual(Duration::from_secs(5));
    shutdown
        .spawn("early", tokio::time::sleep(Duration::from_secs(1)))
        .unwrap();
    shutdown
        .spawn("late", polite(&shutdown, Duration::from_secs(1)))
        .unwrap();

    // Give up on `run` after the early work finished but before the shutdown.
    let gave_up = tokio::time::timeout(Duration::from_secs(2), shutdown.run()).await;
    assert!(gave_up.is_err());

    shutdown.trigger();
    let report = shutdown.run().await;

    assert_eq!(report.finished(), ["early", "late"]);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_shutdown_cancels_its_token_and_aborts_its_work() {
    let shutdown = manual(Duration::from_secs(5));
    let token = shutdown.token();
    let (held, dropped) = oneshot::channel::<()>();
    shutdown
        .spawn("held", async move {
            let _held = held;
            std::future::pending::<()>().await;
        })
        .unwrap();

    drop(shutdown);

    assert!(token.is_cancelled());
    assert!(dropped.await.is_err());
}

#[tokio::test(start_paused = true)]
async fn two_shutdowns_in_one_process_are_independent() {
    let first = manual(Duration::from_secs(5));
    let second = manual(Duration::from_secs(5));

    first.trigger();

    assert!(first.token().is_cancelled());
    assert!(!second.token().is_cancelled());
    assert!(!second.is_triggered());
}

/// Many tasks spawned and winding down while the shutdown is triggered from another
/// task: every one is reported exactly once.
async fn concurrent_work_is_each_reported_once() {
    let shutdown = Arc::new(manual(Duration::from_secs(30)));
    let cleaned = Arc::new(AtomicUsize::new(0));
    for index in 0..50 {
        let token = shutdown.token();
        let cleaned = Arc::clone(&cleaned);
        shutdown
            .spawn(format!("task-{index}"), async move {
                token.cancelled().await;
                tokio::task::yield_now().await;
                cleaned.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    let trigger = tokio::spawn({
        let shutdown = Arc::clone(&shutdown);
        async move { shutdown.trigger() }
    });

    let report = shutdown.run().await;
    trigger.await.unwrap();

    let mut finished = report.finished().to_vec();
    finished.sort();
    finished.dedup();
    assert_eq!(finished.len(), 50);
    assert_eq!(cleaned.load(Ordering::SeqCst), 50);
    assert!(report.is_clean());
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_work_is_each_reported_once_on_current_thread() {
    concurrent_work_is_each_reported_once().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_work_is_each_reported_once_on_multi_thread() {
    concurrent_work_is_each_reported_once().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_returns_in_every_waiter_on_multi_thread() {
    let shutdown = Arc::new(manual(Duration::from_secs(5)));
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let shutdown = Arc::clone(&shutdown);
            tokio::spawn(async move { shutdown.wait().await })
        })
        .collect();

    shutdown.trigger();

    for waiter in waiters {
        assert_eq!(waiter.await.unwrap(), ShutdownReason::Triggered);
    }
}

async fn concurrent_runs_report_each_work_once() {
    let shutdown = Arc::new(manual(Duration::from_secs(30)));
    for index in 0..10 {
        shutdown
            .spawn(format!("task-{index}"), polite(&shutdown, Duration::ZERO))
            .unwrap();
    }
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let shutdown = Arc::clone(&shutdown);
            tokio::spawn(async move { shutdown.run().await })
        })
        .collect();

    shutdown.trigger();
    let started = Instant::now();

    let mut finished = Vec::new();
    for run in runs {
        finished.extend(run.await.unwrap().finished().iter().cloned());
    }
    finished.sort();
    let expected: Vec<String> = {
        let mut names: Vec<String> = (0..10).map(|index| format!("task-{index}")).collect();
        names.sort();
        names
    };
    assert_eq!(finished, expected);
    // Neither run waited for the grace period: none missed a completion. (On the
    // paused clock this is exact; on the real one it only has to be short of 30 s.)
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn concurrent_runs_report_each_work_once_on_current_thread() {
    concurrent_runs_report_each_work_once().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_report_each_work_once_on_multi_thread() {
    concurrent_runs_report_each_work_once().await;
}

#[test]
fn a_shutdown_without_signals_needs_no_io_driver() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let shutdown = manual(Duration::from_secs(1));
        shutdown.trigger();
        assert_eq!(shutdown.wait().await, ShutdownReason::Triggered);
    });
}
