//! Property tests: delays stay within `[0, max_delay]`, runs never exceed
//! `max_attempts`, and `max_elapsed` is never overshot.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use tokio::time::Instant;
use uno_retry::{BackoffStrategy, Jitter, RetryPolicy};

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

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

proptest! {
    #[test]
    fn every_delay_stays_within_zero_and_max_delay(
        strategy in strategy(),
        jitter in jitter(),
        initial_nanos in 0u64..=10_000_000_000,
        extra_nanos in 0u64..=u64::MAX / 2,
        factor in 1.0f64..1_000.0,
        attempts in 1u32..300,
        seed in any::<u64>(),
    ) {
        let initial = Duration::from_nanos(initial_nanos);
        let max_delay = initial + Duration::from_nanos(extra_nanos);
        let policy: RetryPolicy<()> = RetryPolicy::builder(strategy, initial)
            .factor(factor)
            .jitter(jitter)
            .max_delay(max_delay)
            .max_attempts(attempts)
            .seed(seed)
            .build()
            .unwrap();
        let delays: Vec<_> = policy.delays().collect();
        prop_assert_eq!(delays.len(), attempts as usize - 1);
        for delay in delays {
            prop_assert!(delay <= max_delay, "{:?} > {:?}", delay, max_delay);
        }
    }

    #[test]
    fn uncapped_delays_saturate_without_panicking(
        strategy in strategy(),
        jitter in jitter(),
        initial_secs in 0u64..=u64::MAX,
        factor in 1.0f64..=f64::MAX,
        seed in any::<u64>(),
    ) {
        let policy: RetryPolicy<()> = RetryPolicy::builder(strategy, Duration::from_secs(initial_secs))
            .factor(factor)
            .jitter(jitter)
            .max_attempts(200)
            .seed(seed)
            .build()
            .unwrap();
        prop_assert_eq!(policy.delays().count(), 199);
    }

    #[test]
    fn a_run_never_makes_more_than_max_attempts_calls(
        strategy in strategy(),
        jitter in jitter(),
        attempts in 1u32..20,
        failures in 0u32..40,
        seed in any::<u64>(),
    ) {
        let policy = RetryPolicy::builder(strategy, Duration::from_millis(10))
            .jitter(jitter)
            .max_attempts(attempts)
            .max_delay(Duration::from_secs(5))
            .seed(seed)
            .build()
            .unwrap();
        let calls = AtomicU32::new(0);
        let result = paused_runtime().block_on(policy.run(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { if n < failures { Err(n) } else { Ok(n) } }
        }));
        let calls = calls.load(Ordering::SeqCst);
        prop_assert!(calls <= attempts);
        prop_assert_eq!(calls, (failures + 1).min(attempts));
        prop_assert_eq!(result.is_ok(), failures < attempts);
    }

    #[test]
    fn no_attempt_starts_after_max_elapsed(
        strategy in strategy(),
        jitter in jitter(),
        initial_ms in 1u64..2_000,
        max_elapsed_ms in 1u64..60_000,
        seed in any::<u64>(),
    ) {
        let max_elapsed = Duration::from_millis(max_elapsed_ms);
        let policy = RetryPolicy::builder(strategy, Duration::from_millis(initial_ms))
            .jitter(jitter)
            .unlimited_attempts()
            .max_elapsed(max_elapsed)
            .seed(seed)
            .build()
            .unwrap();
        let runtime = paused_runtime();
        let (last_start, total) = runtime.block_on(async {
            let began = Instant::now();
            let mut last_start = Duration::ZERO;
            let _ = policy
                .run(|| {
                    last_start = began.elapsed();
                    async { Err::<(), _>(()) }
                })
                .await;
            (last_start, began.elapsed())
        });
        prop_assert!(last_start <= max_elapsed);
        prop_assert!(total <= max_elapsed, "ran {:?} of {:?}", total, max_elapsed);
    }
}
