//! A `LimitAlgorithm` that panics never breaks the limit: the permit it was learning
//! from still pays off a pending reduction, and the panic reaches the reporter.

use std::panic::{AssertUnwindSafe, catch_unwind};

use uno_limit::{AdaptiveLimiter, LimitAlgorithm, Sample};

/// Returns the scripted limits in turn, and panics when the script says `None`.
struct Scripted {
    initial: usize,
    script: Vec<Option<usize>>,
}

impl LimitAlgorithm for Scripted {
    fn initial_limit(&self) -> usize {
        self.initial
    }

    fn update(&mut self, _sample: &Sample) -> usize {
        match self.script.remove(0) {
            Some(limit) => limit,
            None => panic!("the algorithm failed"),
        }
    }
}

/// The attack: the limit fell from 3 to 1 with 3 permits out (a debt of 2, of which
/// the first returned permit pays one). The next report's `update` panicked, its
/// permit went back to the semaphore instead of paying the rest, and a second permit
/// was granted under a limit of 1.
#[tokio::test]
async fn a_panic_while_the_limit_is_lowered_still_pays_off_the_reduction() {
    let limiter = AdaptiveLimiter::new(Scripted {
        initial: 3,
        script: vec![Some(1), None],
    });
    let first = limiter.acquire().await.unwrap();
    let second = limiter.acquire().await.unwrap();
    let third = limiter.acquire().await.unwrap();

    first.success(); // the limit falls to 1; this permit pays one of the two owed
    assert_eq!(limiter.limit(), 1);
    let panicked = catch_unwind(AssertUnwindSafe(|| second.success()));
    assert!(
        panicked.is_err(),
        "the algorithm's panic reaches the reporter"
    );

    assert_eq!(limiter.limit(), 1, "a failed update keeps the limit");
    assert_eq!(limiter.in_flight(), 1);
    assert!(
        limiter.try_acquire().is_err(),
        "one permit is out under a limit of 1: no other may be granted"
    );
    third.success_without_update();
}

trait Release {
    fn success_without_update(self);
}

impl Release for uno_limit::AdaptivePermit {
    /// Drops the permit without a report, so the exhausted script is not consulted.
    fn success_without_update(self) {
        self.ignore();
    }
}

#[tokio::test]
async fn after_a_panic_the_limiter_keeps_working() {
    let limiter = AdaptiveLimiter::new(Scripted {
        initial: 2,
        script: vec![None, Some(2)],
    });
    let permit = limiter.acquire().await.unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| permit.success())).is_err());
    assert_eq!(limiter.in_flight(), 0);
    let a = limiter.acquire().await.unwrap();
    let b = limiter.acquire().await.unwrap();
    assert!(limiter.try_acquire().is_err());
    a.success();
    b.ignore();
    assert_eq!(limiter.limit(), 2);
}
