//! The exit path: failed work begins the shutdown, drains are awaited within the grace
//! period and reported when they do not finish, and the report gives the exit code.
//! Virtual time, no real signals (see child_process.rs for those).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use uno_signal::{Drain, OnFailure, Shutdown, ShutdownReason};

fn manual(grace_period: Duration) -> uno_signal::ShutdownBuilder {
    Shutdown::builder().signals([]).grace_period(grace_period)
}

#[tokio::test(start_paused = true)]
async fn work_that_fails_begins_the_shutdown_and_the_report_names_it() {
    let shutdown = manual(Duration::from_secs(5)).install().unwrap();
    let token = shutdown.token();
    shutdown
        .spawn("server", async move { token.cancelled().await })
        .unwrap();
    shutdown
        .spawn("database", async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Err::<(), _>(std::io::Error::other("connection refused"))
        })
        .unwrap();

    let report = shutdown.run().await;

    assert_eq!(
        report.reason(),
        Some(ShutdownReason::Failed {
            name: "database".to_owned()
        })
    );
    assert_eq!(report.finished(), ["server"]);
    assert_eq!(report.failed().len(), 1);
    assert_eq!(report.exit_code(), 1);
    assert!(
        report
            .to_string()
            .starts_with("shut down after the failure of \"database\"")
    );
}

#[tokio::test(start_paused = true)]
async fn work_that_panics_begins_the_shutdown_too() {
    let shutdown = manual(Duration::from_secs(5)).install().unwrap();
    let token = shutdown.token();
    shutdown
        .spawn("server", async move { token.cancelled().await })
        .unwrap();
    shutdown
        .spawn("indexer", async {
            tokio::task::yield_now().await;
            if true {
                panic!("index corrupt");
            }
        })
        .unwrap();

    let report = shutdown.run().await;

    assert_eq!(
        report.reason(),
        Some(ShutdownReason::Failed {
            name: "indexer".to_owned()
        })
    );
    assert_eq!(report.failed()[0].0, "indexer");
    assert!(report.failed()[0].1.to_string().contains("index corrupt"));
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test(start_paused = true)]
async fn work_spawned_to_continue_on_failure_only_records_it() {
    let shutdown = manual(Duration::from_secs(5)).install().unwrap();
    shutdown
        .spawn_with("optional cache warmup", OnFailure::Continue, async {
            Err::<(), _>("cache unreachable")
        })
        .unwrap();
    shutdown
        .spawn("batch job", tokio::time::sleep(Duration::from_secs(2)))
        .unwrap();

    let report = shutdown.run().await;

    assert!(!shutdown.is_triggered());
    assert_eq!(report.reason(), None);
    assert_eq!(report.finished(), ["batch job"]);
    assert_eq!(report.failed()[0].0, "optional cache warmup");
    assert_eq!(report.exit_code(), 1, "a failure makes the exit unclean");
}

#[tokio::test(start_paused = true)]
async fn a_clean_triggered_shutdown_exits_with_zero_and_an_unclean_one_with_one() {
    let shutdown = manual(Duration::from_secs(1)).install().unwrap();
    shutdown.trigger();
    assert_eq!(shutdown.run().await.exit_code(), 0);

    let shutdown = manual(Duration::from_secs(1)).install().unwrap();
    shutdown
        .spawn("stuck", std::future::pending::<()>())
        .unwrap();
    shutdown.trigger();
    let report = shutdown.run().await;
    assert_eq!(report.aborted(), ["stuck"]);
    assert_eq!(report.exit_code(), 1);
}

/// A drain that finishes `after` a delay, counting what is left until then.
struct Flusher {
    left: Arc<AtomicUsize>,
}

impl Flusher {
    fn start(items: usize, after: Duration) -> Flusher {
        let left = Arc::new(AtomicUsize::new(items));
        let flushing = Arc::clone(&left);
        #[allow(clippy::disallowed_methods, reason = "stands for a background flusher")]
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            flushing.store(0, Ordering::Release);
        });
        Flusher { left }
    }
}

impl Drain for Flusher {
    fn name(&self) -> String {
        "exporter".to_owned()
    }

    fn wait(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {
            while self.left.load(Ordering::Acquire) > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    }

    fn remaining(&self) -> Vec<String> {
        match self.left.load(Ordering::Acquire) {
            0 => Vec::new(),
            left => vec![format!("{left} spans")],
        }
    }
}

#[tokio::test(start_paused = true)]
async fn run_waits_for_a_drain_after_the_work_within_the_grace_period() {
    let shutdown = manual(Duration::from_secs(5))
        .drain(Flusher::start(12, Duration::from_secs(3)))
        .install()
        .unwrap();
    let started = Instant::now();
    shutdown.trigger();

    let report = shutdown.run().await;

    assert!(report.is_clean(), "{report}");
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_drain_that_outlasts_the_grace_period_is_reported_and_the_exit_stays_bounded() {
    let shutdown = manual(Duration::from_secs(2))
        .drain(Flusher::start(12, Duration::from_secs(3600)))
        .install()
        .unwrap();
    let started = Instant::now();
    shutdown.trigger();

    let report = shutdown.run().await;

    assert_eq!(started.elapsed(), Duration::from_secs(2));
    let [unfinished] = report.unfinished_drains() else {
        panic!("one unfinished drain expected: {report}");
    };
    assert_eq!(unfinished.name(), "exporter");
    assert_eq!(unfinished.remaining(), ["12 spans"]);
    assert_eq!(report.exit_code(), 1);
    assert!(
        report
            .to_string()
            .contains("not drained within the grace period: exporter (12 spans)")
    );
}

#[tokio::test(start_paused = true)]
async fn the_work_and_the_drains_share_one_grace_period() {
    let shutdown = manual(Duration::from_secs(4))
        .drain(Flusher::start(1, Duration::from_secs(3)))
        .install()
        .unwrap();
    let token = shutdown.token();
    shutdown
        .spawn("slow to stop", async move {
            token.cancelled().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        })
        .unwrap();
    let started = Instant::now();
    shutdown.trigger();

    let report = shutdown.run().await;

    // The work took 2 s, the drain was done at 3 s: both inside the 4 s.
    assert!(report.is_clean(), "{report}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(3) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_huge_grace_period_waits_for_drains_without_overflowing() {
    let shutdown = manual(Duration::MAX)
        .drain(Flusher::start(1, Duration::from_secs(30)))
        .install()
        .unwrap();
    shutdown.trigger();
    assert!(shutdown.run().await.is_clean());
}

#[cfg(feature = "resource")]
mod resource {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::manual;

    static CLEANED: AtomicBool = AtomicBool::new(false);

    struct SlowToClose(Duration);

    impl uno_resource::AsyncResource for SlowToClose {
        type Error = std::convert::Infallible;

        async fn initialize(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }

        async fn cleanup(&mut self) -> Result<(), Self::Error> {
            tokio::time::sleep(self.0).await;
            CLEANED.store(true, Ordering::Release);
            Ok(())
        }
    }

    /// Each test in this module uses the process-wide cleanup tracker; nextest runs
    /// every test in its own process.
    #[tokio::test(start_paused = true)]
    async fn run_waits_for_the_cleanup_of_a_resource_dropped_in_a_task() {
        let shutdown = manual(Duration::from_secs(5)).install().unwrap();
        let token = shutdown.token();
        shutdown
            .spawn("uses a resource", async move {
                let resource = uno_resource::Managed::open(SlowToClose(Duration::from_secs(1)))
                    .await
                    .unwrap();
                token.cancelled().await;
                drop(resource); // no close: cleaned up in the background
            })
            .unwrap();
        shutdown.trigger();

        let report = shutdown.run().await;

        assert!(report.is_clean(), "{report}");
        assert!(CLEANED.load(Ordering::Acquire));
    }
}
