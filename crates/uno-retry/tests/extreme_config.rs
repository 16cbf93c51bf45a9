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

fn count() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0_u32), Just(1), Just(u32::MAX), 1..100_u32]
}

fn ratio() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(-1.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        0.0..10.0_f64,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A budget at any ttl, reserve and ratio is built or refused with a clear error;
    /// built, a policy that holds it runs, deposits and withdraws, and the window turns
    /// over without overflowing.
    #[test]
    fn every_budget_setting_at_its_edges_builds_or_is_refused_and_runs(
        ttl in duration(),
        min_per_second in count(),
        ratio in ratio(),
        initial in duration(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let budget = match uno_retry::RetryBudget::new(ttl, min_per_second, ratio) {
                Ok(budget) => budget,
                Err(error) => {
                    let refused = ttl.is_zero()
                        || !(ratio >= 0.0 && ratio.is_finite())
                        || (min_per_second == 0 && ratio == 0.0);
                    assert!(refused, "refused {ttl:?} / {min_per_second} / {ratio}: {error}");
                    return;
                }
            };
            assert_eq!(budget.ttl(), ttl);
            let _ = budget.available();
            let Ok(policy) = RetryPolicy::<std::io::Error>::constant(initial)
                .max_attempts(5)
                .budget(budget.clone())
                .build()
            else {
                return;
            };
            for _ in 0..3 {
                let run = policy.run(|| async { Err::<(), _>(std::io::Error::other("no")) });
                let _ = tokio::time::timeout(Duration::from_secs(3600), run).await;
                // Let the window turn over, up to entirely.
                tokio::time::advance(ttl.min(Duration::from_secs(86_400 * 365))).await;
                let _ = budget.available();
            }
        });
    }

    /// A delay hint (Retry-After) at the edges of `Duration`, with or without a cap
    /// and an elapsed limit, and with unlimited attempts: the run sleeps as long as
    /// the hint says, capped, never panics, and a "forever" is cut short here.
    #[test]
    fn delay_hints_at_their_edges_are_capped_and_never_overflow(
        hint in proptest::option::of(duration()),
        max_delay in proptest::option::of(duration()),
        max_elapsed in proptest::option::of(duration()),
        unlimited in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut builder = RetryPolicy::<std::io::Error>::constant(Duration::ZERO)
                .delay_hint(move |_error| hint)
                .notify(|_attempt, _error, _delay| {})
                .retry_if(|_error| true);
            if unlimited {
                builder = builder.unlimited_attempts();
            }
            if let Some(max_delay) = max_delay {
                builder = builder.max_delay(max_delay);
            }
            if let Some(max_elapsed) = max_elapsed {
                builder = builder.max_elapsed(max_elapsed);
            }
            let Ok(policy) = builder.build() else {
                assert!(max_elapsed == Some(Duration::ZERO));
                return;
            };
            let mut attempts = 0_u32;
            let run = policy.run(|| {
                attempts += 1;
                let done = attempts >= 100;
                async move { if done { Ok(()) } else { Err(std::io::Error::other("no")) } }
            });
            let _ = tokio::time::timeout(Duration::from_secs(3600), run).await;
        });
    }
}
