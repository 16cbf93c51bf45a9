//! Settings that could never work are rejected when the policy or budget is built,
//! with errors that say what to change.

use std::time::Duration;

use uno_retry::{Error, RetryBudget, RetryPolicy, RetryPolicyBuilder};

fn builder() -> RetryPolicyBuilder<std::io::Error> {
    RetryPolicy::exponential(Duration::from_millis(100))
}

#[test]
fn zero_attempts_are_rejected() {
    let error = builder().max_attempts(0).build().unwrap_err();
    assert_eq!(error, Error::ZeroMaxAttempts);
    assert!(error.to_string().contains("use max_attempts(1)"), "{error}");
}

#[test]
fn factors_below_one_or_not_finite_are_rejected() {
    for factor in [0.5, 0.0, -2.0, f64::NAN, f64::INFINITY] {
        let error = builder().factor(factor).build().unwrap_err();
        assert!(
            matches!(error, Error::InvalidFactor { .. }),
            "{factor}: {error:?}"
        );
        assert!(error.to_string().contains("at least 1.0"), "{error}");
    }
    assert!(
        builder().factor(1.0).build().is_ok(),
        "a factor of 1 is constant"
    );
}

#[test]
fn max_delay_below_the_initial_delay_is_rejected() {
    let error = builder()
        .max_delay(Duration::from_millis(50))
        .build()
        .unwrap_err();
    assert_eq!(
        error,
        Error::MaxDelayBelowInitial {
            max_delay: Duration::from_millis(50),
            initial: Duration::from_millis(100),
        }
    );
    assert_eq!(
        error.to_string(),
        "max_delay (50ms) is shorter than the initial delay (100ms); \
         raise max_delay or lower the initial delay"
    );
    assert!(
        builder()
            .max_delay(Duration::from_millis(100))
            .build()
            .is_ok()
    );
}

#[test]
fn zero_time_limits_are_rejected() {
    let error = builder().max_elapsed(Duration::ZERO).build().unwrap_err();
    assert_eq!(error, Error::ZeroMaxElapsed);
    let error = builder()
        .attempt_timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(error, Error::ZeroAttemptTimeout);
}

#[test]
fn zero_initial_delays_are_allowed() {
    let policy = RetryPolicy::<()>::constant(Duration::ZERO).build().unwrap();
    assert!(policy.delays().all(|delay| delay.is_zero()));
}

#[test]
fn unusable_budgets_are_rejected() {
    let ten = Duration::from_secs(10);
    assert_eq!(
        RetryBudget::new(Duration::ZERO, 1, 0.2).unwrap_err(),
        Error::ZeroBudgetTtl
    );
    for ratio in [-0.1, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            RetryBudget::new(ten, 1, ratio).unwrap_err(),
            Error::InvalidRetryRatio { .. }
        ));
    }
    let error = RetryBudget::new(ten, 0, 0.0).unwrap_err();
    assert_eq!(error, Error::EmptyBudget);
    assert!(error.to_string().contains("raise one of them"), "{error}");
}

#[test]
fn error_messages_are_lowercase_without_a_trailing_period() {
    let errors = [
        Error::ZeroMaxAttempts,
        Error::InvalidFactor { factor: 0.5 },
        Error::MaxDelayBelowInitial {
            max_delay: Duration::ZERO,
            initial: Duration::from_secs(1),
        },
        Error::ZeroMaxElapsed,
        Error::ZeroAttemptTimeout,
        Error::ZeroBudgetTtl,
        Error::InvalidRetryRatio { ratio: -1.0 },
        Error::EmptyBudget,
        Error::AttemptTimedOut {
            timeout: Duration::from_secs(1),
        },
    ];
    for error in errors {
        let message = error.to_string();
        assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
        assert!(!message.ends_with('.'), "{message}");
    }
}
