//! Loom models of the adaptive limiter's permit accounting: every interleaving of
//! callers taking permits and reporting outcomes that move the limit up and down (the
//! limiter's lock, its atomics, and the debt it keeps while the limit is below what is
//! handed out) ends with exactly `limit()` permits in circulation and nothing in
//! flight.
//!
//! Run by `cargo xtask ci` as
//! `RUSTFLAGS="--cfg uno_loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p uno-limit --test loom --release`
//! (in a target directory of its own); a normal build compiles this file to nothing.
#![cfg(uno_loom)]

use loom::sync::Arc;
use loom::thread;
use uno_limit::{AdaptiveLimiter, LimitAlgorithm, Outcome, Sample};

/// Success raises the limit by one, failure halves it (at least 1): the AIMD shape,
/// without latency, so that each model's outcome depends only on the interleaving.
struct Steps(usize);

impl LimitAlgorithm for Steps {
    fn initial_limit(&self) -> usize {
        self.0
    }

    fn update(&mut self, sample: &Sample) -> usize {
        self.0 = if sample.outcome() == Outcome::Success {
            self.0 + 1
        } else {
            (self.0 / 2).max(1)
        };
        self.0
    }
}

/// Takes every permit the limiter has in circulation now and checks that there are
/// exactly `limit()`; gives them back without reporting.
fn assert_permits_match_the_limit(limiter: &AdaptiveLimiter) {
    let limit = limiter.limit();
    let taken: Vec<_> = (0..limit)
        .map(|n| {
            limiter
                .try_acquire()
                .unwrap_or_else(|error| panic!("permit {n} of {limit}: {error}"))
        })
        .collect();
    assert!(
        limiter.try_acquire().is_err(),
        "more permits in circulation than the limit {limit}"
    );
    for permit in taken {
        permit.ignore();
    }
    assert_eq!(limiter.in_flight(), 0);
}

/// Two callers each hold a permit of a limit of 2; one reports a failure (the limit
/// falls, and the permits out are more than it), the other a success (it rises), in
/// every order and at every step of each.
#[test]
fn the_limit_moving_both_ways_under_two_callers_keeps_its_permits_right() {
    loom::model(|| {
        let limiter = Arc::new(AdaptiveLimiter::new(Steps(2)));
        let failing = limiter.try_acquire().unwrap();
        let succeeding = limiter.try_acquire().unwrap();
        assert!(limiter.try_acquire().is_err());

        let one = thread::spawn(move || failing.failure());
        let two = thread::spawn(move || succeeding.success());
        one.join().unwrap();
        two.join().unwrap();

        // 2 halved is 1 and plus one is 2, or 2 plus one is 3 and halved is 1.
        let limit = limiter.limit();
        assert!(limit == 1 || limit == 2, "limit {limit}");
        assert_permits_match_the_limit(&limiter);
    });
}

/// A caller takes a permit while another reports a failure that drops the limit below
/// what is out: the new permit is owed back, and once both are returned the count is
/// the limit again.
#[test]
fn a_permit_taken_while_the_limit_falls_is_paid_back() {
    loom::model(|| {
        let limiter = Arc::new(AdaptiveLimiter::new(Steps(4)));
        let held = limiter.try_acquire().unwrap();
        let reporter = thread::spawn(move || held.failure());
        let taker = {
            let limiter = Arc::clone(&limiter);
            thread::spawn(move || {
                if let Ok(permit) = limiter.try_acquire() {
                    permit.success();
                }
            })
        };
        reporter.join().unwrap();
        taker.join().unwrap();

        assert_permits_match_the_limit(&limiter);
    });
}
