//! Settings that could never work are refused by `build`, with a message that names the
//! setting and says what to use instead.

use std::time::Duration;

use uno_breaker::{BuildError, CircuitBreaker, CircuitBreakerBuilder};

fn builder() -> CircuitBreakerBuilder<std::io::Error> {
    CircuitBreaker::builder()
}

/// Checks the house style of an error message and that it names `setting`.
fn refused(
    result: Result<CircuitBreaker<std::io::Error>, BuildError>,
    setting: &str,
) -> BuildError {
    let error = result.unwrap_err();
    let message = error.to_string();
    assert!(message.contains(setting), "{message:?} names {setting}");
    assert!(
        !message.ends_with('.'),
        "{message:?} has no trailing period"
    );
    assert!(
        message.starts_with(|c: char| c.is_lowercase()),
        "{message:?} starts lowercase"
    );
    assert!(message.contains("; "), "{message:?} says what to do");
    error
}

#[test]
fn a_zero_consecutive_failure_threshold_is_refused() {
    let error = refused(
        builder().consecutive_failures(0).build(),
        "consecutive_failures",
    );
    assert_eq!(error, BuildError::ZeroConsecutiveFailures);
}

#[test]
fn a_failure_ratio_outside_zero_to_one_or_nan_is_refused() {
    let window = Duration::from_secs(60);
    for ratio in [-0.1, 1.1, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let error = refused(builder().failure_rate(ratio, 10, window).build(), "ratio");
        assert!(matches!(error, BuildError::InvalidFailureRatio { .. }));
    }
    for ratio in [0.0, 0.5, 1.0] {
        assert!(builder().failure_rate(ratio, 10, window).build().is_ok());
    }
}

#[test]
fn zero_min_calls_is_refused() {
    let result = builder()
        .failure_rate(0.5, 0, Duration::from_secs(60))
        .build();
    assert_eq!(refused(result, "min_calls"), BuildError::ZeroMinCalls);
}

#[test]
fn a_zero_window_is_refused() {
    let result = builder().failure_rate(0.5, 10, Duration::ZERO).build();
    assert_eq!(refused(result, "window"), BuildError::ZeroWindow);
}

#[test]
fn a_zero_open_duration_is_refused() {
    let error = refused(builder().open_for(Duration::ZERO).build(), "open duration");
    assert_eq!(error, BuildError::ZeroOpenDuration);
    let result = builder()
        .open_for_growing(Duration::ZERO, 2.0, Duration::from_secs(1))
        .build();
    assert_eq!(
        refused(result, "open duration"),
        BuildError::ZeroOpenDuration
    );
}

#[test]
fn a_growth_factor_below_one_or_not_finite_is_refused() {
    for factor in [0.5, -1.0, f64::NAN, f64::INFINITY] {
        let result = builder()
            .open_for_growing(Duration::from_secs(1), factor, Duration::from_secs(60))
            .build();
        assert!(matches!(
            refused(result, "factor"),
            BuildError::InvalidGrowthFactor { .. }
        ));
    }
}

#[test]
fn a_longest_open_duration_below_the_first_is_refused() {
    let result = builder()
        .open_for_growing(Duration::from_secs(10), 2.0, Duration::from_secs(1))
        .build();
    assert!(matches!(
        refused(result, "longest open duration"),
        BuildError::MaxOpenBelowInitial { .. }
    ));
}

#[test]
fn zero_half_open_calls_is_refused() {
    let error = refused(builder().half_open_calls(0).build(), "half_open_calls");
    assert_eq!(error, BuildError::ZeroHalfOpenCalls);
}
