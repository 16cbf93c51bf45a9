//! The `# Cancel safety` promises of `Shutdown::run` and `Shutdown::wait`, checked at
//! the poll level: each is polled once by hand (still pending) and dropped, and the
//! shutdown goes on as the docs promise.

use std::time::Duration;

use tokio_test::{assert_pending, task};
use uno_signal::{Shutdown, ShutdownReason};

fn shutdown() -> Shutdown {
    Shutdown::builder()
        .signals([])
        .grace_period(Duration::from_secs(60))
        .install()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_run_dropped_after_its_first_poll_loses_no_outcome_and_stops_no_work() {
    let shutdown = shutdown();
    shutdown
        .spawn("fast", async { Ok::<_, std::io::Error>(()) })
        .unwrap();
    shutdown
        .spawn("slow", async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<_, std::io::Error>(())
        })
        .unwrap();
    // "fast" finishes before `run` is first polled.
    tokio::task::yield_now().await;

    let mut run = task::spawn(shutdown.run());
    assert_pending!(run.poll());
    drop(run);

    // "slow" kept running, and the next call reports both: the outcome the dropped
    // call had collected ("fast") is not lost.
    let report = shutdown.run().await;
    assert_eq!(report.finished(), ["fast", "slow"]);
    assert!(report.aborted().is_empty() && report.failed().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_wait_dropped_after_its_first_poll_has_no_effect_on_the_shutdown() {
    let shutdown = shutdown();
    let mut waiting = task::spawn(shutdown.wait());
    assert_pending!(waiting.poll());
    drop(waiting);
    assert!(!shutdown.is_triggered());

    shutdown.trigger();
    assert_eq!(shutdown.wait().await, ShutdownReason::Triggered);
}
