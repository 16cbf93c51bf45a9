//! Every setting at the edges of its type: building either succeeds or is refused, and a
//! built breaker trips, opens, probes and closes without panicking, overflowing or
//! hanging (paused time; an open duration of "forever" is cut short by the test).

use std::time::Duration;

use proptest::prelude::*;
use uno_breaker::{CircuitBreaker, State};

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        Just(Duration::MAX),
        Just(Duration::from_secs(u64::MAX / 2)),
        Just(Duration::from_secs(i64::MAX as u64 - 1)),
        (1..u64::MAX).prop_map(Duration::from_secs),
        (1..u64::MAX).prop_map(Duration::from_nanos),
    ]
}

fn count() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(u32::MAX),
        Just(u32::MAX - 1),
        1..10_u32
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(1.0),
        Just(-1.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        0.0..10.0_f64,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_setting_at_its_edges_builds_or_is_refused_and_runs(
        consecutive in proptest::option::of(count()),
        rate in proptest::option::of((float(), count(), duration())),
        open in prop_oneof![
            duration().prop_map(|d| (d, 1.0, d)),
            (duration(), float(), duration()),
        ],
        half_open_calls in count(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut builder = CircuitBreaker::<&'static str>::builder()
                .open_for_growing(open.0, open.1, open.2)
                .half_open_calls(half_open_calls);
            if let Some(n) = consecutive {
                builder = builder.consecutive_failures(n);
            }
            if let Some((ratio, min_calls, window)) = rate {
                builder = builder.failure_rate(ratio, min_calls, window);
            }
            let Ok(breaker) = builder.build() else {
                return;
            };
            // Up to 1,000 calls: a threshold of u32::MAX would only make this slow.
            for round in 0..1_000 {
                let failed = round % 4 != 3;
                let _ = breaker
                    .call(async move { if failed { Err("down") } else { Ok(()) } })
                    .await;
                if breaker.state() == State::Open {
                    break;
                }
            }
            // Wait out several open periods (a "forever" one is cut short here), probing
            // with failures so that a growing duration reaches its cap.
            for _ in 0..5 {
                let wait = tokio::time::timeout(Duration::from_secs(3600), async {
                    while breaker.state() == State::Open {
                        let retry_after = breaker
                            .call(async { Ok(()) })
                            .await
                            .err()
                            .and_then(|err| err.retry_after())
                            .unwrap_or(Duration::ZERO);
                        tokio::time::sleep(retry_after).await;
                    }
                });
                if wait.await.is_err() {
                    return;
                }
                let _ = breaker.call(async { Err::<(), _>("still down") }).await;
            }
            let _ = breaker.state();
        });
    }
}
