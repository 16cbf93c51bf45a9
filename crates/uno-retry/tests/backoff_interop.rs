//! With the `backoff` feature, a policy's delays drive code written against the
//! `backoff` crate's `Backoff` trait.
#![cfg(feature = "backoff")]

use std::time::Duration;

use backoff::backoff::Backoff;
use uno_retry::RetryPolicy;

#[test]
fn delays_implement_backoff_and_end_with_the_attempts() {
    let policy: RetryPolicy<()> = RetryPolicy::exponential(Duration::from_millis(100))
        .max_attempts(4)
        .build()
        .unwrap();
    let mut delays = policy.delays();
    let ms = Duration::from_millis;
    assert_eq!(delays.next_backoff(), Some(ms(100)));
    assert_eq!(delays.next_backoff(), Some(ms(200)));
    Backoff::reset(&mut delays);
    assert_eq!(delays.next_backoff(), Some(ms(100)), "reset starts over");
    assert_eq!(delays.next_backoff(), Some(ms(200)));
    assert_eq!(delays.next_backoff(), Some(ms(400)));
    assert_eq!(
        delays.next_backoff(),
        None,
        "three retries for four attempts"
    );
}

#[test]
fn backoff_retry_makes_as_many_calls_as_max_attempts() {
    let policy: RetryPolicy<()> = RetryPolicy::constant(Duration::ZERO)
        .max_attempts(3)
        .build()
        .unwrap();
    let mut calls = 0;
    let result: Result<(), backoff::Error<&str>> = backoff::retry(policy.delays(), || {
        calls += 1;
        Err(backoff::Error::transient("down"))
    });
    assert!(result.is_err());
    assert_eq!(calls, 3);
}
