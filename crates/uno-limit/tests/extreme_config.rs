//! Every limiter setting at the edges of its type: building and using the limiter
//! once never panics, overflows or hangs (paused time).

use std::time::Duration;

use proptest::prelude::*;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use uno_limit::{
    AdaptiveLimiter, Aimd, BuildError, FullPolicy, Gradient2, KeyedLimiter, KeyedRateLimiter,
    LimitAlgorithm, LimitError, Limiter, Outcome, RateLimiter, Sample,
};

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

/// Bounds that nest (`min <= initial <= max`), drawn from the edges of what tokio's
/// semaphore holds, so that both algorithms build and the limiter runs at them.
fn nested_bounds() -> impl Strategy<Value = (usize, usize, usize)> {
    let edge = prop_oneof![
        Just(1_usize),
        Just(2),
        Just(Semaphore::MAX_PERMITS - 1),
        Just(Semaphore::MAX_PERMITS),
        1..1_000_usize,
        1..=Semaphore::MAX_PERMITS,
    ];
    [edge.clone(), edge.clone(), edge].prop_map(|mut bounds| {
        bounds.sort_unstable();
        (bounds[0], bounds[1], bounds[2])
    })
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        Just(Outcome::Success),
        Just(Outcome::Failure),
        Just(Outcome::Dropped)
    ]
}

/// Reports a few outcomes through the limiter, then acquires once more under the
/// limiter's policy with every permit of a limit of 1 held.
async fn exercise_adaptive(limiter: &AdaptiveLimiter) {
    for _ in 0..3 {
        limiter.acquire().await.unwrap().success();
        limiter.acquire().await.unwrap().failure();
        limiter.acquire().await.unwrap().dropped();
    }
    let held = limiter.acquire().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(1), limiter.acquire()).await;
    drop(second);
    drop(held);
    assert!(limiter.limit() >= 1);
    assert_eq!(limiter.in_flight(), 0);
    assert!(limiter.acquire_timeout(Duration::MAX).await.is_ok());
    assert!(limiter.acquire_timeout(Duration::ZERO).await.is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Valid bounds at the semaphore's edges with any full policy: the algorithms
    /// build, and the limiter learns, waits and times out without panicking.
    #[test]
    fn adaptive_limiters_at_the_edges_of_their_bounds_and_policies_run(
        (min, initial, max) in nested_bounds(),
        on_full in policy(),
        threshold in duration(),
        queue in size(),
        window in size(),
    ) {
        paused_runtime().block_on(async {
            let aimd = Aimd::builder()
                .initial_limit(initial)
                .min_limit(min)
                .max_limit(max)
                .latency_threshold(threshold.max(Duration::from_nanos(1)))
                .build()
                .unwrap();
            let gradient = Gradient2::builder()
                .initial_limit(initial)
                .min_limit(min)
                .max_limit(max)
                .queue_size(queue)
                .long_window(window.max(1))
                .build()
                .unwrap();
            match AdaptiveLimiter::with_policy(aimd, on_full) {
                Ok(limiter) => exercise_adaptive(&limiter).await,
                Err(error) => assert_eq!(on_full, FullPolicy::Timeout(Duration::ZERO), "{error}"),
            }
            match AdaptiveLimiter::with_policy(gradient, on_full) {
                Ok(limiter) => exercise_adaptive(&limiter).await,
                Err(error) => assert_eq!(on_full, FullPolicy::Timeout(Duration::ZERO), "{error}"),
            }
        });
    }

    /// Samples made by hand (`Sample::new` is public for driving an algorithm
    /// directly) with extreme latencies and in-flight counts keep both algorithms
    /// within their bounds.
    #[test]
    fn algorithms_driven_by_extreme_samples_stay_within_their_bounds(
        (min, initial, max) in nested_bounds(),
        samples in proptest::collection::vec((duration(), size(), outcome()), 1..20),
    ) {
        paused_runtime().block_on(async {
            let mut aimd = Aimd::builder()
                .initial_limit(initial)
                .min_limit(min)
                .max_limit(max)
                .build()
                .unwrap();
            let mut gradient = Gradient2::builder()
                .initial_limit(initial)
                .min_limit(min)
                .max_limit(max)
                .build()
                .unwrap();
            for (latency, in_flight, outcome) in samples {
                let sample = Sample::new(Instant::now(), latency, in_flight, outcome);
                // Above 2^53 the bounds round when computed in f64; the limits stay
                // exactly within them all the same.
                for limit in [aimd.update(&sample), gradient.update(&sample)] {
                    assert!((min..=max).contains(&limit), "{limit} outside {min}..={max}");
                }
                tokio::time::advance(Duration::from_millis(1)).await;
            }
        });
    }

    /// `Limiter::new` and `KeyedLimiter::new` at any size build or are refused.
    #[test]
    fn plain_constructors_at_any_size_build_or_are_refused(limit in size()) {
        paused_runtime().block_on(async {
            let refused = limit == 0 || limit > Semaphore::MAX_PERMITS;
            match Limiter::new(limit) {
                Ok(limiter) => exercise(&limiter).await,
                Err(error) => assert!(refused, "refused {limit}: {error}"),
            }
            match KeyedLimiter::<u8>::new(limit) {
                Ok(limiter) => {
                    let held = limiter.acquire(1).await.unwrap();
                    assert!(limiter.try_acquire(1).is_err() || limit > 1);
                    drop(held);
                    assert_eq!(limiter.in_flight(&1), 0);
                }
                Err(error) => assert!(refused, "refused {limit}: {error}"),
            }
        });
    }
}

fn count() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(u32::MAX),
        Just(u32::MAX - 1),
        1..10_000_u32
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Any count, period and burst: built or refused with `InvalidConfig`; once built,
    /// a burst goes through, the next call reports a `retry_after` no longer than the
    /// interval, and a waiter is admitted (or cut short here) without panicking or
    /// overflowing, alone, per key, and combined with a concurrency limit.
    #[test]
    fn a_rate_at_any_setting_builds_or_is_refused(
        count in count(),
        period in duration(),
        burst in count(),
        on_full in policy(),
    ) {
        paused_runtime().block_on(async {
            let built = RateLimiter::builder().rate(count, period).burst(burst).build();
            let rate = match built {
                Ok(rate) => rate,
                Err(BuildError::InvalidConfig { .. }) => return,
                Err(other) => panic!("unexpected {other:?}"),
            };
            assert_eq!(rate.burst(), burst);
            for _ in 0..burst.min(1_000) {
                rate.try_acquire().unwrap();
            }
            if burst <= 1_000 {
                let Err(LimitError::Limited { retry_after }) = rate.try_acquire() else {
                    panic!("the burst is spent");
                };
                assert!(retry_after <= rate.interval());
            }
            let waited = tokio::time::timeout(Duration::from_secs(3600), rate.acquire()).await;
            assert!(waited.is_err() || waited.unwrap().is_ok());
            assert_eq!(rate.waiting(), 0);

            let keyed: KeyedRateLimiter<u8> = RateLimiter::builder()
                .rate(count, period)
                .burst(burst)
                .build_keyed()
                .unwrap();
            keyed.try_acquire(1).unwrap();
            let waited = tokio::time::timeout(Duration::from_secs(3600), keyed.acquire(1)).await;
            assert!(waited.is_err() || waited.unwrap().is_ok());

            if let Ok(limiter) = Limiter::builder()
                .limit(1)
                .on_full(on_full)
                .rate(count, period)
                .burst(burst)
                .build()
            {
                let first = tokio::time::timeout(Duration::from_secs(3600), limiter.run(async {})).await;
                drop(first);
                let second = tokio::time::timeout(Duration::from_secs(3600), limiter.run(async {})).await;
                drop(second);
                assert_eq!(limiter.in_flight(), 0);
            }
        });
    }
}
