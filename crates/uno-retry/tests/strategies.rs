//! Exact delay sequences per strategy and jitter kind, seen through `delays()` and
//! through real runs on tokio's paused clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use uno_retry::{BackoffStrategy, Jitter, RetryPolicy};

fn ms(values: &[u64]) -> Vec<Duration> {
    values.iter().copied().map(Duration::from_millis).collect()
}

fn policy(strategy: BackoffStrategy, initial_ms: u64, attempts: u32) -> RetryPolicy<()> {
    RetryPolicy::builder(strategy, Duration::from_millis(initial_ms))
        .max_attempts(attempts)
        .build()
        .unwrap()
}

#[test]
fn constant_waits_the_same_every_time() {
    let delays: Vec<_> = policy(BackoffStrategy::Constant, 250, 5).delays().collect();
    assert_eq!(delays, ms(&[250, 250, 250, 250]));
}

#[test]
fn linear_grows_by_the_initial_delay() {
    let delays: Vec<_> = policy(BackoffStrategy::Linear, 100, 6).delays().collect();
    assert_eq!(delays, ms(&[100, 200, 300, 400, 500]));
}

#[test]
fn exponential_doubles_by_default_and_follows_the_factor() {
    let delays: Vec<_> = policy(BackoffStrategy::Exponential, 100, 6)
        .delays()
        .collect();
    assert_eq!(delays, ms(&[100, 200, 400, 800, 1600]));

    let tripling: RetryPolicy<()> = RetryPolicy::exponential(Duration::from_millis(10))
        .factor(3.0)
        .max_attempts(5)
        .build()
        .unwrap();
    assert_eq!(
        tripling.delays().collect::<Vec<_>>(),
        ms(&[10, 30, 90, 270])
    );

    let gentle: RetryPolicy<()> = RetryPolicy::exponential(Duration::from_millis(100))
        .factor(1.5)
        .max_attempts(4)
        .build()
        .unwrap();
    assert_eq!(gentle.delays().collect::<Vec<_>>(), ms(&[100, 150, 225]));
}

#[test]
fn fibonacci_follows_the_fibonacci_numbers() {
    let delays: Vec<_> = policy(BackoffStrategy::Fibonacci, 10, 9).delays().collect();
    assert_eq!(delays, ms(&[10, 10, 20, 30, 50, 80, 130, 210]));
}

#[test]
fn max_delay_caps_every_strategy() {
    for strategy in [
        BackoffStrategy::Constant,
        BackoffStrategy::Linear,
        BackoffStrategy::Exponential,
        BackoffStrategy::Fibonacci,
        BackoffStrategy::DecorrelatedJitter,
    ] {
        let policy: RetryPolicy<()> = RetryPolicy::builder(strategy, Duration::from_millis(100))
            .max_attempts(40)
            .max_delay(Duration::from_millis(350))
            .seed(3)
            .build()
            .unwrap();
        let delays: Vec<_> = policy.delays().collect();
        assert_eq!(delays.len(), 39);
        assert!(
            delays.iter().all(|d| *d <= Duration::from_millis(350)),
            "{strategy:?}: {delays:?}"
        );
        if strategy != BackoffStrategy::Constant {
            assert!(
                delays.contains(&Duration::from_millis(350)),
                "{strategy:?} never reached the cap: {delays:?}"
            );
        }
    }
}

/// The documented draws (whole milliseconds here), reproduced with the same seeded
/// generator.
fn uniform(rng: &mut fastrand::Rng, low: Duration, high: Duration) -> Duration {
    let low = low.as_nanos().div_ceil(1_000_000);
    let high = high.as_nanos() / 1_000_000;
    Duration::from_millis(u64::try_from(rng.u128(low..=high)).unwrap())
}

#[test]
fn full_jitter_draws_uniformly_below_the_capped_delay() {
    let policy: RetryPolicy<()> = RetryPolicy::exponential(Duration::from_millis(100))
        .max_attempts(8)
        .max_delay(Duration::from_secs(1))
        .jitter(Jitter::Full)
        .seed(42)
        .build()
        .unwrap();
    let mut rng = fastrand::Rng::with_seed(42);
    let expected: Vec<_> = [100, 200, 400, 800, 1000, 1000, 1000]
        .into_iter()
        .map(|base| uniform(&mut rng, Duration::ZERO, Duration::from_millis(base)))
        .collect();
    assert_eq!(policy.delays().collect::<Vec<_>>(), expected);
    assert_eq!(
        policy.delays().collect::<Vec<_>>(),
        expected,
        "a seeded policy repeats its sequence"
    );
}

#[test]
fn equal_jitter_keeps_at_least_half_the_delay() {
    let policy: RetryPolicy<()> = RetryPolicy::linear(Duration::from_millis(100))
        .max_attempts(6)
        .jitter(Jitter::Equal)
        .seed(7)
        .build()
        .unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    let expected: Vec<_> = [100, 200, 300, 400, 500]
        .into_iter()
        .map(|base| {
            let base = Duration::from_millis(base);
            uniform(&mut rng, base / 2, base)
        })
        .collect();
    assert_eq!(policy.delays().collect::<Vec<_>>(), expected);
}

#[test]
fn decorrelated_jitter_draws_between_base_and_three_times_the_previous() {
    let base = Duration::from_millis(100);
    let cap = Duration::from_secs(2);
    let policy: RetryPolicy<()> = RetryPolicy::decorrelated_jitter(base)
        .max_attempts(12)
        .max_delay(cap)
        .seed(9)
        .build()
        .unwrap();
    let mut rng = fastrand::Rng::with_seed(9);
    let mut previous = base;
    let expected: Vec<_> = (0..11)
        .map(|_| {
            previous = uniform(&mut rng, base, previous * 3).min(cap);
            previous
        })
        .collect();
    assert_eq!(policy.delays().collect::<Vec<_>>(), expected);
}

#[test]
fn unseeded_jitter_differs_between_sequences() {
    let policy: RetryPolicy<()> = RetryPolicy::constant(Duration::from_secs(3600))
        .max_attempts(5)
        .jitter(Jitter::Full)
        .build()
        .unwrap();
    let first: Vec<_> = policy.delays().collect();
    let second: Vec<_> = policy.delays().collect();
    // Four draws from an hour in nanoseconds colliding would be astronomically rare.
    assert_ne!(first, second);
}

#[test]
fn unlimited_policies_yield_delays_forever() {
    // Without a max_delay, an unlimited policy is capped at a minute rather than
    // growing to centuries.
    let policy: RetryPolicy<()> = RetryPolicy::exponential(Duration::from_secs(1))
        .unlimited_attempts()
        .build()
        .unwrap();
    assert_eq!(
        policy.delays().nth(100_000).unwrap(),
        uno_retry::UNLIMITED_MAX_DELAY
    );
    assert_eq!(policy.delays().nth(3).unwrap(), Duration::from_secs(8));
    // An initial delay above the cap is kept; an explicit max_delay wins.
    let slow: RetryPolicy<()> = RetryPolicy::constant(Duration::from_secs(600))
        .unlimited_attempts()
        .build()
        .unwrap();
    assert_eq!(slow.delays().nth(10).unwrap(), Duration::from_secs(600));
    let policy: RetryPolicy<()> = RetryPolicy::exponential(Duration::from_secs(1))
        .unlimited_attempts()
        .max_delay(Duration::MAX)
        .build()
        .unwrap();
    let last = policy.delays().nth(100_000).unwrap();
    assert_eq!(
        last,
        Duration::MAX,
        "the exponential saturates instead of overflowing"
    );
}

#[test]
fn a_growing_strategy_from_zero_is_refused_and_constant_zero_is_allowed() {
    for strategy in [
        BackoffStrategy::Linear,
        BackoffStrategy::Exponential,
        BackoffStrategy::Fibonacci,
        BackoffStrategy::DecorrelatedJitter,
    ] {
        let built = RetryPolicy::<()>::builder(strategy, Duration::ZERO).build();
        let error = built.unwrap_err();
        assert_eq!(error, uno_retry::Error::ZeroInitialDelay { strategy });
        assert!(
            error.to_string().contains("constant(Duration::ZERO)"),
            "{error}"
        );
    }
    assert!(RetryPolicy::<()>::constant(Duration::ZERO).build().is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_run_sleeps_exactly_the_policy_delays() {
    for (strategy, jitter) in [
        (BackoffStrategy::Constant, Jitter::None),
        (BackoffStrategy::Linear, Jitter::Equal),
        (BackoffStrategy::Exponential, Jitter::Full),
        (BackoffStrategy::Fibonacci, Jitter::None),
        (BackoffStrategy::DecorrelatedJitter, Jitter::None),
    ] {
        let policy = RetryPolicy::builder(strategy, Duration::from_millis(100))
            .max_attempts(6)
            .max_delay(Duration::from_secs(1))
            .jitter(jitter)
            .seed(1234)
            .build()
            .unwrap();
        let starts = Arc::new(Mutex::new(Vec::new()));
        let began = Instant::now();
        let result: Result<(), &str> = policy
            .run(|| {
                starts.lock().unwrap().push(began.elapsed());
                async { Err("no") }
            })
            .await;
        assert_eq!(result, Err("no"));
        let starts = starts.lock().unwrap();
        let waited: Vec<_> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(waited, policy.delays().collect::<Vec<_>>(), "{strategy:?}");
        assert_eq!(
            began.elapsed(),
            *starts.last().unwrap(),
            "no sleep after the last attempt"
        );
    }
}
