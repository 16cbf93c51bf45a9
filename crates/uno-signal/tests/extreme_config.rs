//! Every `Shutdown` setting at the edges of its type: installing, triggering and
//! running never panics, overflows or hangs (paused time).

use std::time::Duration;

use proptest::prelude::*;
use std::future::Future;
use std::pin::Pin;

use uno_signal::{Drain, ForceExit, Shutdown, SignalExit};

/// A drain that finishes after `takes` (never, for `None`).
struct SlowDrain {
    takes: Option<Duration>,
}

impl Drain for SlowDrain {
    fn name(&self) -> String {
        "slow".to_owned()
    }

    fn wait(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let takes = self.takes;
        Box::pin(async move {
            match takes {
                Some(takes) => tokio::time::sleep(takes).await,
                None => std::future::pending().await,
            }
        })
    }

    fn remaining(&self) -> Vec<String> {
        vec!["something".to_owned()]
    }
}

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
        drain in proptest::option::of(proptest::option::of(duration())),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut builder = Shutdown::builder();
            if let Some(takes) = drain {
                builder = builder.drain(SlowDrain { takes });
            }
            let shutdown = builder
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
