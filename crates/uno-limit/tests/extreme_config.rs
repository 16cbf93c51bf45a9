//! Every limiter setting at the edges of its type: building and using the limiter
//! once never panics, overflows or hangs (paused time).

use std::time::Duration;

use proptest::prelude::*;
use uno_limit::{AdaptiveLimiter, Aimd, FullPolicy, Gradient2, KeyedLimiter, Limiter};

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(usize::MAX),
        Just(usize::MAX >> 3),
        Just((usize::MAX >> 3) + 1),
        1..1_000_usize,
    ]
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

fn ratio() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(0.0),
        Just(1.0),
        Just(-1.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::MAX),
        0.0..1.0_f64,
    ]
}

fn policy() -> impl Strategy<Value = FullPolicy> {
    prop_oneof![
        Just(FullPolicy::Wait),
        Just(FullPolicy::Reject),
        duration().prop_map(FullPolicy::Timeout),
    ]
}

/// Acquires once, then once more under `policy` with the one permit held when the
/// limit is 1 (a timeout then runs out, or is forever and is cut short here).
async fn exercise(limiter: &Limiter) {
    let held = limiter.acquire().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(1), limiter.acquire()).await;
    drop(second);
    drop(held);
    assert_eq!(limiter.in_flight(), 0);
    assert!(limiter.acquire_timeout(Duration::MAX).await.is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn a_limiter_at_any_size_and_policy_builds_or_is_refused(limit in size(), on_full in policy()) {
        paused_runtime().block_on(async {
            match Limiter::builder().limit(limit).on_full(on_full).build() {
                Ok(limiter) => exercise(&limiter).await,
                Err(error) => assert!(
                    limit == 0 || limit > usize::MAX >> 3 || on_full == FullPolicy::Timeout(Duration::ZERO),
                    "refused {limit} / {on_full:?}: {error}"
                ),
            }
        });
    }

    #[test]
    fn a_keyed_limiter_at_any_size_builds_or_is_refused(limit in size(), on_full in policy()) {
        paused_runtime().block_on(async {
            match KeyedLimiter::<u8>::with_policy(limit, on_full) {
                Ok(limiter) => {
                    let held = limiter.acquire(1).await.unwrap();
                    let _ = tokio::time::timeout(Duration::from_secs(1), limiter.acquire(1)).await;
                    drop(held);
                    assert!(limiter.acquire_timeout(2, Duration::MAX).await.is_ok());
                }
                Err(error) => assert!(
                    limit == 0 || limit > usize::MAX >> 3 || on_full == FullPolicy::Timeout(Duration::ZERO),
                    "refused {limit}: {error}"
                ),
            }
        });
    }

    #[test]
    fn adaptive_algorithms_at_any_setting_build_or_are_refused(
        initial in size(),
        min in size(),
        max in size(),
        backoff in ratio(),
        threshold in duration(),
        smoothing in ratio(),
        tolerance in ratio(),
        window in size(),
        queue in size(),
    ) {
        paused_runtime().block_on(async {
            let aimd = Aimd::builder()
                .initial_limit(initial)
                .min_limit(min)
                .max_limit(max)
                .backoff_ratio(backoff)
                .latency_threshold(threshold)
                .build();
            if let Ok(aimd) = aimd {
                let limiter = AdaptiveLimiter::new(aimd);
                for _ in 0..3 {
                    limiter.acquire().await.unwrap().success();
                    limiter.acquire().await.unwrap().failure();
                }
                assert!(limiter.limit() >= 1);
            }
            let gradient = Gradient2::builder()
                .initial_limit(initial)
                .min_limit(min)
                .max_limit(max)
                .smoothing(smoothing)
                .rtt_tolerance(tolerance)
                .long_window(window)
                .queue_size(queue)
                .build();
            if let Ok(gradient) = gradient {
                let limiter = AdaptiveLimiter::new(gradient);
                for _ in 0..3 {
                    limiter.acquire().await.unwrap().success();
                    limiter.acquire().await.unwrap().dropped();
                }
                assert!(limiter.limit() >= 1);
            }
        });
    }
}
