//! Every `Shutdown` setting at the edges of its type: installing, triggering and
//! running never panics, overflows or hangs (paused time).

use std::time::Duration;

use proptest::prelude::*;
use uno_signal::{ForceExit, Shutdown, SignalExit};

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        Just(Duration::MAX),
        Just(Duration::from_secs(u64::MAX / 2)),
        (1..u64::MAX).prop_map(Duration::from_secs),
        (1..u64::MAX).prop_map(Duration::from_nanos),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_grace_period_and_exit_setting_runs_to_an_end(
        grace_period in duration(),
        code in any::<u8>(),
        never in any::<bool>(),
        success in any::<bool>(),
        stubborn in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let shutdown = Shutdown::builder()
                .signals([])
                .grace_period(grace_period)
                .force_exit(if never { ForceExit::Never } else { ForceExit::Code(code) })
                .signal_exit(if success { SignalExit::Success } else { SignalExit::Conventional })
                .install()
                .unwrap();
            let token = shutdown.token();
            shutdown.spawn("polite", async move { token.cancelled().await }).unwrap();
            if stubborn {
                // Never stops by itself: aborted when the grace period ends, or cut
                // short here when the grace period is "forever".
                shutdown.spawn("stubborn", std::future::pending::<()>()).unwrap();
            }
            shutdown.trigger();
            let run = tokio::time::timeout(Duration::from_secs(3600), shutdown.run()).await;
            if let Ok(report) = run {
                assert!(report.exit_code() == 0 || report.exit_code() == 1);
            }
        });
    }
}
