//! Work started with `Shutdown::spawn` inherits the deadline of the code that starts
//! it (uno-deadline), on paused time.

use std::time::Duration;

use tokio::time::{Instant, sleep};
use uno_signal::{Failure, Shutdown};

#[tokio::test(start_paused = true)]
async fn work_spawned_under_a_deadline_is_cut_short_at_it_and_reported() {
    let shutdown = Shutdown::builder()
        .signals([])
        .grace_period(Duration::from_secs(30))
        .install()
        .unwrap();
    let start = Instant::now();
    uno_deadline::within(Duration::from_secs(2), async {
        shutdown
            .spawn("verify", async move {
                assert_eq!(
                    uno_deadline::current(),
                    Some(start + Duration::from_secs(2))
                );
                sleep(Duration::from_secs(60)).await;
            })
            .unwrap();
    })
    .await
    .unwrap();
    let report = shutdown.run().await;
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    let [(name, failure)] = report.failed() else {
        panic!("one failure expected: {report:?}");
    };
    assert_eq!(name, "verify");
    assert!(matches!(failure, Failure::DeadlinePassed), "{failure}");
    assert!(failure.to_string().contains("deadline"));
}
