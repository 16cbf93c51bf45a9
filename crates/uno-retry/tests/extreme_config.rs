//! Every policy setting at the edges of its type: building and running never panics,
//! overflows or hangs (paused time; a run that would sleep "forever" is cut short by
//! the test).

use std::time::Duration;

use proptest::prelude::*;
use uno_retry::{BackoffStrategy, Jitter, RetryPolicy};

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

fn strategy() -> impl Strategy<Value = BackoffStrategy> {
    prop_oneof![
        Just(BackoffStrategy::Constant),
        Just(BackoffStrategy::Linear),
        Just(BackoffStrategy::Exponential),
        Just(BackoffStrategy::Fibonacci),
        Just(BackoffStrategy::DecorrelatedJitter),
    ]
}

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![Just(Jitter::None), Just(Jitter::Full), Just(Jitter::Equal)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_policy_setting_at_its_edges_builds_or_is_refused_and_runs(
        strategy in strategy(),
        initial in duration(),
        max_delay in proptest::option::of(duration()),
        max_elapsed in proptest::option::of(duration()),
        attempt_timeout in proptest::option::of(duration()),
        max_attempts in prop_oneof![Just(0_u32), Just(1), Just(u32::MAX), 1..10_u32],
        factor in prop_oneof![Just(0.0), Just(1.0), Just(-1.0), Just(f64::NAN), Just(f64::INFINITY), Just(f64::MAX), 0.5..10.0_f64],
        jitter in jitter(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut builder = RetryPolicy::<std::io::Error>::builder(strategy, initial)
                .max_attempts(max_attempts)
                .factor(factor)
                .jitter(jitter)
                .seed(7);
            if let Some(max_delay) = max_delay {
                builder = builder.max_delay(max_delay);
            }
            if let Some(max_elapsed) = max_elapsed {
                builder = builder.max_elapsed(max_elapsed);
            }
            if let Some(timeout) = attempt_timeout {
                builder = builder.attempt_timeout(timeout);
            }
            let Ok(policy) = builder.build() else {
                return;
            };
            // Three delays, read without sleeping.
            let _ = policy.delays().take(3).count();
            // Up to 1,000 attempts: `u32::MAX` attempts a nanosecond apart are what
            // such a policy asks for, and would only make this test slow.
            let mut attempts = 0_u32;
            let run = policy.run(|| {
                attempts += 1;
                let give_up = attempts >= 1_000;
                async move {
                    if give_up {
                        Ok(())
                    } else {
                        Err(std::io::Error::other("no"))
                    }
                }
            });
            // A policy whose next delay is centuries away is cut short here.
            let _ = tokio::time::timeout(Duration::from_secs(3600), run).await;
        });
    }
}
