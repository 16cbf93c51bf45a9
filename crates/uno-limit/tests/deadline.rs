//! Every limiter under the caller's deadline (uno-deadline), on paused time: a wait
//! ends at the deadline with `LimitError::DeadlinePassed`, leaves nothing behind, and
//! the policy's own timeout still applies when it comes first.

use std::time::Duration;

use tokio::time::Instant;
use uno_deadline::within;
use uno_limit::{
    AdaptiveLimiter, Aimd, FullPolicy, KeyedLimiter, KeyedRateLimiter, LimitError, Limiter,
    RateLimiter,
};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test(start_paused = true)]
async fn a_full_limiter_waits_until_the_deadline_and_says_so() {
    let limiter = Limiter::new(1).unwrap();
    let held = limiter.acquire().await.unwrap();
    let start = Instant::now();
    let outcome = within(secs(2), limiter.run(async { "ran" })).await;
    assert_eq!(outcome, Ok(Err(LimitError::DeadlinePassed)));
    assert_eq!(start.elapsed(), secs(2));
    assert_eq!(limiter.waiting(), 0);
    drop(held);
    assert_eq!(limiter.in_flight(), 0);
    // A limiter with room runs the work under the deadline as usual.
    assert_eq!(
        within(secs(2), limiter.run(async { "ran" })).await,
        Ok(Ok("ran"))
    );
}

#[tokio::test(start_paused = true)]
async fn the_earlier_of_the_policy_timeout_and_the_deadline_decides_the_error() {
    let limiter = Limiter::builder()
        .limit(1)
        .on_full(FullPolicy::Timeout(secs(5)))
        .build()
        .unwrap();
    let _held = limiter.acquire().await.unwrap();
    let start = Instant::now();
    assert_eq!(
        within(secs(2), limiter.acquire())
            .await
            .unwrap()
            .unwrap_err(),
        LimitError::DeadlinePassed
    );
    assert_eq!(start.elapsed(), secs(2));
    let refused = within(secs(60), limiter.acquire())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused, LimitError::Timeout { timeout: secs(5) });
    assert_eq!(start.elapsed(), secs(7));
    // Reject never waits, deadline or not.
    let bulkhead = Limiter::builder()
        .limit(1)
        .on_full(FullPolicy::Reject)
        .build()
        .unwrap();
    let _busy = bulkhead.acquire().await.unwrap();
    let rejected = within(secs(2), bulkhead.acquire())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(rejected, LimitError::Full { limit: 1 });
}

#[tokio::test(start_paused = true)]
async fn a_deadline_already_passed_fails_a_full_limiter_at_once() {
    let limiter = Limiter::new(1).unwrap();
    let start = Instant::now();
    let outcome = within(Duration::ZERO, async {
        let _held = limiter.acquire().await.unwrap(); // room: admitted even so
        limiter.acquire().await.map(drop)
    })
    .await;
    assert_eq!(outcome, Ok(Err(LimitError::DeadlinePassed)));
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_keyed_limiter_stops_at_the_deadline_and_forgets_the_key() {
    let per_key = KeyedLimiter::new(1).unwrap();
    let held = per_key.acquire("tenant").await.unwrap();
    let outcome = within(secs(1), per_key.acquire("tenant")).await.unwrap();
    assert_eq!(outcome.map(drop), Err(LimitError::DeadlinePassed));
    drop(held);
    assert_eq!(per_key.active_keys(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_adaptive_limiter_stops_at_the_deadline() {
    let aimd = Aimd::builder()
        .initial_limit(1)
        .min_limit(1)
        .max_limit(4)
        .build()
        .unwrap();
    let limiter = AdaptiveLimiter::new(aimd);
    let _held = limiter.acquire().await.unwrap();
    let outcome = within(secs(1), limiter.acquire()).await.unwrap();
    assert_eq!(outcome.map(drop), Err(LimitError::DeadlinePassed));
    assert_eq!(limiter.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_rate_limiter_stops_at_the_deadline_and_the_next_waiter_keeps_its_slot() {
    let rate = RateLimiter::builder()
        .rate(1, secs(10))
        .burst(1)
        .build()
        .unwrap();
    rate.try_acquire().unwrap();
    let start = Instant::now();
    let outcome = within(secs(2), rate.acquire()).await;
    assert_eq!(outcome, Ok(Err(LimitError::DeadlinePassed)));
    assert_eq!(start.elapsed(), secs(2));
    assert_eq!(rate.waiting(), 0);
    // The cut-short waiter took nothing: the slot at 10 s is still there.
    rate.acquire().await.unwrap();
    assert_eq!(start.elapsed(), secs(10));

    let per_key: KeyedRateLimiter<u8> = RateLimiter::builder()
        .rate(1, secs(10))
        .burst(1)
        .build_keyed()
        .unwrap();
    per_key.try_acquire(1).unwrap();
    let outcome = within(secs(2), per_key.acquire(1)).await;
    assert_eq!(outcome, Ok(Err(LimitError::DeadlinePassed)));
}

#[tokio::test(start_paused = true)]
async fn a_rated_limiter_stops_at_the_deadline_while_waiting_for_its_slot() {
    let limiter = Limiter::builder()
        .limit(4)
        .rate(1, secs(10))
        .build()
        .unwrap();
    limiter.run(async {}).await.unwrap();
    let outcome = within(secs(2), limiter.run(async {})).await;
    assert_eq!(outcome, Ok(Err(LimitError::DeadlinePassed)));
    assert_eq!(limiter.in_flight(), 0);
}

#[test]
fn the_error_says_what_happened_and_what_to_do() {
    let message = LimitError::DeadlinePassed.to_string();
    assert!(message.contains("deadline passed"), "{message}");
    assert!(message.contains("more time"), "{message}");
}
