//! The `metrics` feature: an exit reports how long its work and drain phases took and
//! what the grace period cut.
#![cfg(feature = "metrics")]

use std::time::Duration;

use uno_signal::Shutdown;
use uno_testkit::metrics::recorded_paused;

#[test]
fn an_exit_reports_its_phases_and_what_the_grace_period_cut() {
    let (metrics, (), _runtime) = recorded_paused(async {
        let shutdown = Shutdown::builder()
            .signals([])
            .grace_period(Duration::from_secs(5))
            .install()
            .unwrap();
        let token = shutdown.token();
        // Winds down 2 s after the shutdown begins.
        shutdown
            .spawn("polite", async move {
                token.cancelled().await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            })
            .unwrap();
        // Never winds down: aborted when the 5 s run out.
        shutdown
            .spawn("stuck", std::future::pending::<()>())
            .unwrap();
        shutdown.trigger();
        let report = shutdown.run().await;
        assert_eq!(report.aborted(), ["stuck"]);
    });
    assert_eq!(
        metrics.histograms["uno_shutdown_phase_seconds{phase=work}"],
        [5.0]
    );
    assert_eq!(
        metrics.histograms["uno_shutdown_phase_seconds{phase=drains}"],
        [0.0]
    );
    assert_eq!(metrics.counter("uno_shutdown_aborted_total"), 1);
    assert_eq!(metrics.counter("uno_shutdown_unfinished_drains_total"), 0);
}

#[test]
fn work_that_finished_before_any_shutdown_times_no_phase() {
    let (metrics, (), _runtime) = recorded_paused(async {
        let shutdown = Shutdown::builder().signals([]).install().unwrap();
        shutdown
            .spawn("short", tokio::time::sleep(Duration::from_secs(1)))
            .unwrap();
        assert!(shutdown.run().await.is_clean());
    });
    assert!(metrics.histograms.is_empty(), "{metrics:#?}");
    assert_eq!(metrics.counter("uno_shutdown_aborted_total"), 0);
}
