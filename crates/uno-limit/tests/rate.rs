//! Behaviour of the rate limits: exact admission times under paused time, FIFO order,
//! cancellation, `retry_after`, closing, bad settings, the per-key limiter's memory,
//! and a concurrency limit combined with a rate.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use uno_limit::{BuildError, FullPolicy, KeyedRateLimiter, LimitError, Limiter, RateLimiter};

const MS: Duration = Duration::from_millis(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Lets spawned tasks run until they block (paused time does not move meanwhile).
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// Spawns `callers` tasks that each `acquire` once, in spawn order, and returns when
/// (in virtual time since `start`) each was admitted, indexed by caller.
async fn admission_times(rate: &RateLimiter, callers: usize) -> Vec<Duration> {
    let start = Instant::now();
    let times = Arc::new(Mutex::new(vec![Duration::MAX; callers]));
    let mut handles = Vec::new();
    for caller in 0..callers {
        let rate = rate.clone();
        let times = times.clone();
        handles.push(tokio::spawn(async move {
            rate.acquire().await.unwrap();
            times.lock().unwrap()[caller] = start.elapsed();
        }));
        // Each caller reaches the limiter before the next one is spawned.
        settle().await;
    }
    for handle in handles {
        handle.await.unwrap();
    }
    Arc::try_unwrap(times).unwrap().into_inner().unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_burst_goes_at_once_then_calls_come_one_interval_apart() {
    let rate = RateLimiter::builder()
        .rate(10, Duration::from_secs(1))
        .burst(3)
        .build()
        .unwrap();
    let times = admission_times(&rate, 6).await;
    assert_eq!(times, [ms(0), ms(0), ms(0), ms(100), ms(200), ms(300)]);
}

#[tokio::test(start_paused = true)]
async fn the_default_burst_is_the_count() {
    let rate = RateLimiter::new(4, Duration::from_secs(1)).unwrap();
    assert_eq!(rate.burst(), 4);
    let times = admission_times(&rate, 6).await;
    assert_eq!(times, [ms(0), ms(0), ms(0), ms(0), ms(250), ms(500)]);
}

#[tokio::test(start_paused = true)]
async fn an_idle_limiter_regains_its_burst_at_the_steady_rate() {
    let rate = RateLimiter::builder()
        .rate(10, Duration::from_secs(1))
        .burst(3)
        .build()
        .unwrap();
    for _ in 0..3 {
        rate.try_acquire().unwrap();
    }
    assert!(rate.try_acquire().is_err());
    // 200 ms of idleness earns two calls back, not three.
    tokio::time::advance(ms(200)).await;
    rate.try_acquire().unwrap();
    rate.try_acquire().unwrap();
    assert_eq!(
        rate.try_acquire(),
        Err(LimitError::Limited {
            retry_after: ms(100)
        })
    );
    // A long idle spell earns no more than the burst.
    tokio::time::advance(Duration::from_secs(3600)).await;
    for _ in 0..3 {
        rate.try_acquire().unwrap();
    }
    assert!(rate.try_acquire().is_err());
}

#[tokio::test(start_paused = true)]
async fn try_acquire_reports_when_a_call_would_conform() {
    let rate = RateLimiter::new(1, Duration::from_secs(2)).unwrap();
    rate.try_acquire().unwrap();
    assert_eq!(
        rate.try_acquire(),
        Err(LimitError::Limited {
            retry_after: Duration::from_secs(2)
        })
    );
    tokio::time::advance(ms(500)).await;
    assert_eq!(
        rate.try_acquire(),
        Err(LimitError::Limited {
            retry_after: ms(1500)
        })
    );
    tokio::time::advance(ms(1500)).await;
    assert_eq!(rate.try_acquire(), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn waiters_are_admitted_in_fifo_order() {
    let rate = RateLimiter::builder()
        .rate(1, ms(10))
        .burst(1)
        .build()
        .unwrap();
    rate.try_acquire().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for caller in 0..50 {
        let waiter = rate.clone();
        let order = order.clone();
        handles.push(tokio::spawn(async move {
            waiter.acquire().await.unwrap();
            order.lock().unwrap().push(caller);
        }));
        settle().await;
        assert_eq!(rate.waiting(), caller + 1);
    }
    for handle in handles {
        handle.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
    assert_eq!(rate.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn try_acquire_does_not_overtake_a_waiter_whose_slot_has_come() {
    let rate = RateLimiter::builder()
        .rate(1, ms(100))
        .burst(1)
        .build()
        .unwrap();
    rate.try_acquire().unwrap();
    let waiter = tokio::spawn({
        let rate = rate.clone();
        async move { rate.acquire().await }
    });
    settle().await;
    // The waiter's slot comes at 100 ms; before it runs again, try_acquire must not
    // take the slot from under it.
    tokio::time::advance(ms(100)).await;
    assert_eq!(
        rate.try_acquire(),
        Err(LimitError::Limited {
            retry_after: ms(100)
        })
    );
    // Nor may a newcomer to acquire.
    assert!(
        tokio::time::timeout(Duration::ZERO, rate.acquire())
            .await
            .is_err()
    );
    waiter.await.unwrap().unwrap();
    assert_eq!(
        rate.try_acquire(),
        Err(LimitError::Limited {
            retry_after: ms(100)
        })
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_takes_nothing_and_the_next_one_gets_its_slot() {
    let rate = RateLimiter::builder()
        .rate(1, ms(100))
        .burst(1)
        .build()
        .unwrap();
    let start = Instant::now();
    rate.try_acquire().unwrap();
    let first = tokio::spawn({
        let rate = rate.clone();
        async move { rate.acquire().await }
    });
    settle().await;
    let second = tokio::spawn({
        let rate = rate.clone();
        async move {
            rate.acquire().await.unwrap();
            start.elapsed()
        }
    });
    settle().await;
    assert_eq!(rate.waiting(), 2);
    tokio::time::sleep(ms(50)).await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    // The cancelled head spent no slot: the second waiter takes the 100 ms slot, not
    // the 200 ms one.
    assert_eq!(second.await.unwrap(), ms(100));
    assert_eq!(rate.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_acquire_that_never_waited_takes_nothing() {
    let rate = RateLimiter::builder()
        .rate(1, ms(100))
        .burst(1)
        .build()
        .unwrap();
    rate.try_acquire().unwrap();
    for _ in 0..100 {
        // Polled once, then dropped: queued, never admitted.
        let acquire = rate.acquire();
        assert!(tokio::time::timeout(Duration::ZERO, acquire).await.is_err());
    }
    assert_eq!(rate.waiting(), 0);
    tokio::time::advance(ms(100)).await;
    assert_eq!(rate.try_acquire(), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn closing_fails_waiters_and_later_calls() {
    let rate = RateLimiter::builder()
        .rate(1, Duration::from_secs(60))
        .burst(1)
        .build()
        .unwrap();
    rate.try_acquire().unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let rate = rate.clone();
            tokio::spawn(async move { rate.acquire().await })
        })
        .collect();
    settle().await;
    rate.close();
    rate.close();
    for waiter in waiters {
        assert_eq!(waiter.await.unwrap(), Err(LimitError::Closed));
    }
    assert!(rate.is_closed());
    assert_eq!(rate.try_acquire(), Err(LimitError::Closed));
    let mut polled = false;
    let run = rate.run(async { polled = true }).await;
    assert_eq!(run, Err(LimitError::Closed));
    assert!(!polled, "work refused by a closed limiter must not run");
}

#[tokio::test(start_paused = true)]
async fn run_waits_for_its_slot_then_runs() {
    let rate = RateLimiter::builder()
        .rate(2, ms(100))
        .burst(1)
        .build()
        .unwrap();
    let start = Instant::now();
    let mut outputs = Vec::new();
    for item in 0..3 {
        outputs.push(
            rate.run(async move { (item, start.elapsed()) })
                .await
                .unwrap(),
        );
    }
    assert_eq!(outputs, [(0, ms(0)), (1, ms(50)), (2, ms(100))]);
}

#[test]
fn bad_settings_are_refused_at_build() {
    let period = Duration::from_secs(1);
    let invalid = |result: Result<RateLimiter, BuildError>| {
        assert!(
            matches!(result, Err(BuildError::InvalidConfig { .. })),
            "{result:?}"
        );
    };
    invalid(RateLimiter::new(0, period));
    invalid(RateLimiter::new(1, Duration::ZERO));
    invalid(RateLimiter::builder().rate(1, period).burst(0).build());
    invalid(RateLimiter::builder().burst(3).build());
    invalid(RateLimiter::new(u32::MAX, Duration::from_nanos(1)));
    invalid(RateLimiter::new(u32::MAX, period)); // above one call per nanosecond
    invalid(RateLimiter::new(1, Duration::MAX));
    invalid(
        RateLimiter::builder()
            .rate(1, Duration::from_secs(86_400))
            .burst(u32::MAX)
            .build(),
    );
    // The finest rate and the largest burst a second allows are fine.
    let fine = RateLimiter::builder()
        .rate(1, Duration::from_nanos(1))
        .burst(u32::MAX)
        .build();
    assert_eq!(fine.unwrap().burst(), u32::MAX);
    let keyed: Result<KeyedRateLimiter<u8>, _> = KeyedRateLimiter::new(0, period);
    assert!(matches!(keyed, Err(BuildError::InvalidConfig { .. })));
    let no_rate = Limiter::builder().limit(1).burst(2).build();
    assert!(
        matches!(no_rate, Err(BuildError::InvalidConfig { .. })),
        "{no_rate:?}"
    );
}

#[test]
fn errors_say_what_to_do() {
    let message = LimitError::Limited {
        retry_after: ms(250),
    }
    .to_string();
    assert!(message.contains("250ms"), "{message}");
    assert!(message.contains("retry"), "{message}");
    let Err(BuildError::InvalidConfig { reason }) = RateLimiter::new(0, Duration::from_secs(1))
    else {
        panic!("a zero count must be refused");
    };
    assert!(reason.contains("at least 1"), "{reason}");
}

#[test]
fn concurrent_callers_on_threads_never_get_more_than_the_burst() {
    // Real time: a rate slow enough that nothing refills during the test.
    let rate = RateLimiter::builder()
        .rate(1, Duration::from_secs(3600))
        .burst(100)
        .build();
    let rate = rate.unwrap();
    let admitted: usize = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let rate = &rate;
                scope.spawn(move || (0..1000).filter(|_| rate.try_acquire().is_ok()).count())
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .sum()
    });
    assert_eq!(admitted, 100);
}

mod keyed {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn each_key_has_its_own_rate() {
        let per_key = KeyedRateLimiter::new(2, Duration::from_secs(1)).unwrap();
        per_key.try_acquire("a").unwrap();
        per_key.try_acquire("a").unwrap();
        assert_eq!(
            per_key.try_acquire("a"),
            Err(LimitError::Limited {
                retry_after: ms(500)
            })
        );
        per_key.try_acquire("b").unwrap();
        tokio::time::advance(ms(500)).await;
        per_key.try_acquire("a").unwrap();
        assert!(per_key.try_acquire("a").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_of_one_key_go_in_fifo_order_at_the_rate_while_other_keys_pass() {
        let per_key: KeyedRateLimiter<&str> = RateLimiter::builder()
            .rate(1, ms(10))
            .burst(1)
            .build_keyed()
            .unwrap();
        let start = Instant::now();
        per_key.try_acquire("busy").unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut handles = Vec::new();
        for caller in 0..20_u64 {
            let per_key = per_key.clone();
            let order = order.clone();
            handles.push(tokio::spawn(async move {
                per_key.acquire("busy").await.unwrap();
                order.lock().unwrap().push((caller, start.elapsed()));
            }));
            settle().await;
        }
        // Another key is not held up by the queue.
        per_key.acquire("quiet").await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        for handle in handles {
            handle.await.unwrap();
        }
        let expected: Vec<_> = (0..20)
            .map(|caller| (caller, ms(10 * (caller + 1))))
            .collect();
        assert_eq!(*order.lock().unwrap(), expected);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_keyed_waiter_takes_nothing() {
        let per_key: KeyedRateLimiter<u8> = RateLimiter::builder()
            .rate(1, ms(100))
            .burst(1)
            .build_keyed()
            .unwrap();
        per_key.try_acquire(7).unwrap();
        let waiter = tokio::spawn({
            let per_key = per_key.clone();
            async move { per_key.acquire(7).await }
        });
        settle().await;
        // While it waits, try_acquire reports the slot after the queue.
        assert_eq!(
            per_key.try_acquire(7),
            Err(LimitError::Limited {
                retry_after: ms(200)
            })
        );
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        tokio::time::advance(ms(100)).await;
        assert_eq!(per_key.try_acquire(7), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_million_keys_seen_once_leave_only_the_recent_ones_behind() {
        let per_key = KeyedRateLimiter::<u64>::new(1, ms(10)).unwrap();
        let mut most = 0;
        for key in 0..1_000_000_u64 {
            per_key.try_acquire(key).unwrap();
            if key % 100 == 99 {
                // 100 new keys a millisecond: about 1,000 are busy at any time.
                tokio::time::advance(MS).await;
                most = most.max(per_key.tracked_keys());
            }
        }
        assert!(most <= 4 * 1024, "tracked {most} keys at most");
        tokio::time::advance(ms(10)).await;
        // A new key triggers no sweep below the threshold, but the count stays bounded.
        per_key.try_acquire(u64::MAX).unwrap();
        assert!(per_key.tracked_keys() <= 4 * 1024);
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_with_waiters_is_never_swept() {
        let per_key: KeyedRateLimiter<u64> = RateLimiter::builder()
            .rate(1, Duration::from_secs(1))
            .burst(1)
            .build_keyed()
            .unwrap();
        per_key.try_acquire(0).unwrap();
        let waiter = tokio::spawn({
            let per_key = per_key.clone();
            async move { per_key.acquire(0).await }
        });
        settle().await;
        // At one second key 0's schedule has caught up with now (so it looks idle),
        // but its waiter has not run yet. A sweep now must keep the key, or a
        // newcomer would take the waiter's slot.
        tokio::time::advance(Duration::from_secs(1)).await;
        for key in 1..2000 {
            per_key.try_acquire(key).unwrap();
        }
        assert!(matches!(
            per_key.try_acquire(0),
            Err(LimitError::Limited { .. })
        ));
        waiter.await.unwrap().unwrap();
        assert!(matches!(
            per_key.try_acquire(0),
            Err(LimitError::Limited { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn closing_fails_keyed_waiters() {
        let per_key = KeyedRateLimiter::new(1, Duration::from_secs(60)).unwrap();
        per_key.try_acquire("k").unwrap();
        let waiter = tokio::spawn({
            let per_key = per_key.clone();
            async move { per_key.run("k", async { "ran" }).await }
        });
        settle().await;
        per_key.close();
        assert_eq!(waiter.await.unwrap(), Err(LimitError::Closed));
        assert_eq!(per_key.try_acquire("other"), Err(LimitError::Closed));
    }
}

mod combined {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_limiter_with_a_rate_keeps_both_the_cap_and_the_rate() {
        // At most 2 at once, at most one start every 10 ms; each call takes 50 ms.
        let limiter = Limiter::builder()
            .limit(2)
            .rate(100, Duration::from_secs(1))
            .burst(1);
        let limiter = limiter.build().unwrap();
        let start = Instant::now();
        let starts = Arc::new(Mutex::new(Vec::new()));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let limiter = limiter.clone();
                let starts = starts.clone();
                tokio::spawn(async move {
                    limiter
                        .run(async {
                            starts.lock().unwrap().push(start.elapsed());
                            tokio::time::sleep(ms(50)).await;
                        })
                        .await
                        .unwrap();
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        // Two start 10 ms apart (the rate), the next two when a permit frees (the cap).
        assert_eq!(*starts.lock().unwrap(), [ms(0), ms(10), ms(50), ms(60)]);
    }

    #[tokio::test(start_paused = true)]
    async fn reject_reports_the_rate_and_returns_the_permit() {
        let limiter = Limiter::builder()
            .limit(5)
            .on_full(FullPolicy::Reject)
            .rate(1, ms(100))
            .build()
            .unwrap();
        assert_eq!(limiter.run(async { 1 }).await, Ok(1));
        assert_eq!(
            limiter.run(async { 2 }).await,
            Err(LimitError::Limited {
                retry_after: ms(100)
            })
        );
        assert!(matches!(
            limiter.try_acquire(),
            Err(LimitError::Limited { .. })
        ));
        assert_eq!(limiter.in_flight(), 0);
        assert!(limiter.rate_limiter().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_covers_the_permit_and_the_rate_together() {
        let limiter = Limiter::builder()
            .limit(1)
            .on_full(FullPolicy::Timeout(ms(150)))
            .rate(1, ms(200))
            .build()
            .unwrap();
        let start = Instant::now();
        let held = limiter.acquire().await.unwrap();
        let waiter = tokio::spawn({
            let limiter = limiter.clone();
            async move {
                let result = limiter.run(async {}).await;
                (result, start.elapsed())
            }
        });
        settle().await;
        // The permit frees at 100 ms, but the next rate slot is at 200 ms: 150 ms
        // after the call began, the whole wait is over, not 150 ms after the permit.
        tokio::time::sleep(ms(100)).await;
        drop(held);
        let (result, elapsed) = waiter.await.unwrap();
        assert_eq!(result, Err(LimitError::Timeout { timeout: ms(150) }));
        assert_eq!(elapsed, ms(150));
        assert_eq!(limiter.in_flight(), 0);
        // A timeout longer than tokio's clock can hold waits as Wait does.
        let patient = Limiter::builder()
            .limit(1)
            .on_full(FullPolicy::Timeout(Duration::MAX))
            .rate(1, ms(200))
            .build()
            .unwrap();
        patient.run(async {}).await.unwrap();
        let before = Instant::now();
        patient.run(async {}).await.unwrap();
        assert_eq!(before.elapsed(), ms(200));
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_a_caller_waiting_for_its_rate_slot_returns_the_permit() {
        let limiter = Limiter::builder()
            .limit(3)
            .rate(1, Duration::from_secs(10))
            .build()
            .unwrap();
        limiter.run(async {}).await.unwrap();
        let waiter = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.run(async {}).await }
        });
        settle().await;
        assert_eq!(
            limiter.in_flight(),
            1,
            "it holds its permit while it waits for the rate"
        );
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        assert_eq!(limiter.in_flight(), 0);
        assert_eq!(limiter.rate_limiter().unwrap().waiting(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wrapped_function_keeps_to_the_rate() {
        let limiter = Limiter::builder()
            .limit(8)
            .rate(10, Duration::from_secs(1))
            .burst(1)
            .build();
        let limiter = limiter.unwrap();
        let start = Instant::now();
        let stamp = limiter.wrap(move |item: u32| async move { (item, start.elapsed()) });
        let outputs = futures_util::future::join_all((0..3).map(&stamp)).await;
        let outputs: Vec<_> = outputs.into_iter().map(Result::unwrap).collect();
        assert_eq!(outputs, [(0, ms(0)), (1, ms(100)), (2, ms(200))]);
    }
}

#[cfg(feature = "quanta")]
#[test]
fn the_quanta_clock_limits_in_real_time() {
    use uno_limit::RateClock;
    let rate = RateLimiter::builder()
        .rate(1, Duration::from_secs(3600))
        .burst(2)
        .clock(RateClock::Quanta)
        .build()
        .unwrap();
    rate.try_acquire().unwrap();
    rate.try_acquire().unwrap();
    let Err(LimitError::Limited { retry_after }) = rate.try_acquire() else {
        panic!("the burst is spent");
    };
    assert!(retry_after > Duration::from_secs(3500) && retry_after <= Duration::from_secs(3600));
}
