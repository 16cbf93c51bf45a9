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

/// Returns the scripted limits in turn (`None` panics), then keeps the last one.
struct Looping {
    initial: usize,
    script: Vec<Option<usize>>,
    next: usize,
    last: usize,
}

impl LimitAlgorithm for Looping {
    fn initial_limit(&self) -> usize {
        self.initial
    }

    fn update(&mut self, _sample: &Sample) -> usize {
        let step = self.script.get(self.next).copied();
        self.next += 1;
        match step {
            Some(Some(limit)) => {
                self.last = limit;
                limit
            }
            Some(None) => panic!("the algorithm failed on update {}", self.next),
            None => self.last,
        }
    }
}

/// A script that halves the limit `lowerings` times (so that each time more permits
/// are out than the new limit), panics on the next update, then goes on with `after`.
fn lowering_script(initial: usize, lowerings: usize, after: &[usize]) -> Vec<Option<usize>> {
    let halved = std::iter::successors(Some(initial), |limit| Some((limit / 2).max(1)));
    halved
        .skip(1)
        .take(lowerings)
        .map(Some)
        .chain(std::iter::once(None))
        .chain(after.iter().map(|&limit| Some(limit)))
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// The property: an algorithm that panics on its Nth update (N =
    /// `lowerings + 1`) while the limit is being lowered; from then on no acquire ever
    /// leaves more permits out than the limit, whatever the order of acquires and
    /// reports.
    #[test]
    fn after_a_panic_while_lowering_in_flight_never_exceeds_the_limit_on_acquire(
        initial in 2..12_usize,
        lowerings in 1..5_usize,
        after in proptest::collection::vec(1..12_usize, 0..6),
        // true: try to acquire; false: report the oldest permit as a success.
        steps in proptest::collection::vec(proptest::bool::ANY, 1..60),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let script = lowering_script(initial, lowerings, &after);
            let limiter = AdaptiveLimiter::new(Looping { initial, script, next: 0, last: 1 });
            // Fill the limit, so that each lowering leaves a reduction to pay off.
            let mut held: std::collections::VecDeque<_> =
                (0..initial).map(|_| limiter.try_acquire().unwrap()).collect();
            let mut panics = 0;
            for acquire in steps {
                if acquire {
                    if let Ok(permit) = limiter.try_acquire() {
                        assert!(
                            limiter.in_flight() <= limiter.limit(),
                            "granted a permit with {} in flight under a limit of {} (after {panics} panics)",
                            limiter.in_flight(),
                            limiter.limit(),
                        );
                        held.push_back(permit);
                    }
                } else if let Some(permit) = held.pop_front() {
                    let limit_before = limiter.limit();
                    if catch_unwind(AssertUnwindSafe(|| permit.success())).is_err() {
                        panics += 1;
                        assert_eq!(limiter.limit(), limit_before, "a failed update keeps the limit");
                    }
                }
            }
            // Once every permit is back, exactly the limit can be held again.
            while let Some(permit) = held.pop_front() {
                permit.ignore();
            }
            let limit = limiter.limit();
            let refill: Vec<_> = (0..limit).map(|_| limiter.try_acquire().unwrap()).collect();
            assert!(limiter.try_acquire().is_err(), "only {limit} permits fit a limit of {limit}");
            drop(refill);
            assert_eq!(limiter.in_flight(), 0);
        });
    }
}
