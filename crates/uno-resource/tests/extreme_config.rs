//! Every `ResourcePool`, `CleanupTracker` and `Managed` setting at the edges of its
//! type: building and using the thing once never panics, aborts, overflows or hangs.

use std::convert::Infallible;
use std::time::Duration;

use proptest::prelude::*;
use uno_resource::{
    AsyncResource, BuildError, CleanupTracker, Error, MAX_POOL_SIZE, Managed, ResourcePool,
};

#[derive(Debug)]
struct Quick;

impl AsyncResource for Quick {
    type Error = Infallible;

    async fn initialize(&mut self) -> Result<(), Infallible> {
        Ok(())
    }

    async fn cleanup(&mut self) -> Result<(), Infallible> {
        tokio::task::yield_now().await;
        Ok(())
    }

    async fn is_healthy(&mut self) -> bool {
        true
    }
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

/// The attack: `max_size(1 << 40)` aborted the process (deadpool reserves a slot per
/// resource up front) and `max_size(usize::MAX)` panicked.
#[test]
fn sizes_deadpool_cannot_hold_are_refused_at_build() {
    paused_runtime().block_on(async {
        for size in [MAX_POOL_SIZE + 1, 1 << 40, usize::MAX] {
            let built = ResourcePool::builder(|| Quick).max_size(size).build();
            match built {
                Err(error) => {
                    assert_eq!(error, BuildError::MaxSizeTooLarge { size });
                    assert!(error.to_string().contains("max size"), "{error}");
                }
                Ok(_) => panic!("max_size({size}) was accepted"),
            }
        }
        let largest = ResourcePool::builder(|| Quick)
            .max_size(MAX_POOL_SIZE)
            .build();
        assert!(largest.is_ok(), "the documented maximum is accepted");
    });
}

/// The durations the sweep draws from: the edges, and values near them.
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        Just(Duration::from_secs(1)),
        Just(Duration::MAX),
        Just(Duration::from_secs(u64::MAX / 2)),
        Just(Duration::from_secs(u64::MAX)),
        (1..u64::MAX).prop_map(Duration::from_secs),
        (1..u64::MAX).prop_map(Duration::from_nanos),
    ]
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(MAX_POOL_SIZE),
        Just(MAX_POOL_SIZE + 1),
        Just(usize::MAX),
        1..64_usize,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A pool with any settings builds or is refused with the `BuildError` naming the
    /// bad setting; built, it hands out a resource, takes it back, and closes.
    #[test]
    fn every_pool_setting_at_its_edges_builds_or_is_refused_and_never_hangs(
        max_size in size(),
        acquire in proptest::option::of(duration()),
        initialize in proptest::option::of(duration()),
        health_check in proptest::option::of(duration()),
        cleanup in duration(),
    ) {
        paused_runtime().block_on(async {
            let mut builder = ResourcePool::builder(|| Quick).max_size(max_size).cleanup_timeout(cleanup);
            if let Some(acquire) = acquire {
                builder = builder.acquire_timeout(acquire);
            }
            if let Some(initialize) = initialize {
                builder = builder.initialize_timeout(initialize);
            }
            if let Some(health_check) = health_check {
                builder = builder.health_check_timeout(health_check);
            }
            let pool = match builder.build() {
                Ok(pool) => pool,
                Err(refused) => {
                    let zero = [acquire, initialize, health_check, Some(cleanup)]
                        .into_iter()
                        .flatten()
                        .any(|d| d.is_zero());
                    let expected = if max_size == 0 {
                        BuildError::ZeroMaxSize
                    } else if max_size > MAX_POOL_SIZE {
                        BuildError::MaxSizeTooLarge { size: max_size }
                    } else {
                        assert!(zero, "refused without a bad setting: {refused}");
                        BuildError::ZeroTimeout
                    };
                    assert_eq!(refused, expected);
                    return;
                }
            };
            let first = pool.acquire().await.unwrap();
            drop(first);
            let again = pool.acquire().await.unwrap(); // an idle one, health-checked
            drop(again);
            pool.close().await.unwrap();
        });
    }

    /// A tracker with any positive cleanup timeout cleans up a dropped resource, and
    /// `Managed::close` under it returns.
    #[test]
    fn every_cleanup_timeout_cleans_up_and_never_hangs(cleanup in duration()) {
        if cleanup.is_zero() {
            return Ok(());
        }
        paused_runtime().block_on(async {
            let tracker = CleanupTracker::with_cleanup_timeout(cleanup);
            let dropped = Managed::open_in(Quick, &tracker).await.unwrap();
            drop(dropped);
            tracker.wait().await;
            let closed = Managed::open_in(Quick, &tracker).await.unwrap();
            closed.close().await.unwrap();
            assert!(tracker.take_failures().is_empty());
        });
    }
}

/// A resource whose `initialize`, `is_healthy` and `cleanup` each take `delay`.
#[derive(Debug)]
struct Slow {
    delay: Duration,
}

impl AsyncResource for Slow {
    type Error = Infallible;

    async fn initialize(&mut self) -> Result<(), Infallible> {
        tokio::time::sleep(self.delay).await;
        Ok(())
    }

    async fn cleanup(&mut self) -> Result<(), Infallible> {
        tokio::time::sleep(self.delay).await;
        Ok(())
    }

    async fn is_healthy(&mut self) -> bool {
        tokio::time::sleep(self.delay).await;
        true
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every timeout of a pool at its edges, where it matters: acquiring from a full
    /// pool, and a resource whose initialize, health check and cleanup take an hour.
    /// A timeout past tokio's clock range means "no timeout" (tokio's own timers turn
    /// it into a deadline decades away); none of them panics or overflows.
    #[test]
    fn pool_timeouts_at_their_edges_time_out_or_wait_without_panicking(
        acquire in duration(),
        initialize in duration(),
        health_check in duration(),
        cleanup in duration(),
    ) {
        if [acquire, initialize, health_check, cleanup].iter().any(Duration::is_zero) {
            return Ok(());
        }
        let hour = Duration::from_secs(3600);
        paused_runtime().block_on(async {
            let pool = ResourcePool::builder(move || Slow { delay: hour })
                .max_size(1)
                .acquire_timeout(acquire)
                .initialize_timeout(initialize)
                .health_check_timeout(health_check)
                .cleanup_timeout(cleanup)
                .build()
                .unwrap();
            // Initialising takes an hour: a shorter initialize timeout fails it.
            let first = match pool.acquire().await {
                Ok(first) => {
                    assert!(initialize >= hour, "{initialize:?} let an hour-long initialize finish");
                    first
                }
                Err(Error::InitializeTimeout(timeout)) => {
                    assert_eq!(timeout, initialize);
                    assert!(initialize < hour);
                    pool.close().await.unwrap();
                    return;
                }
                Err(other) => panic!("unexpected acquire error: {other}"),
            };
            // The pool is full: a second acquire waits up to the acquire timeout,
            // which the test cuts short at a day.
            let day = Duration::from_secs(86_400);
            match tokio::time::timeout(day, pool.acquire()).await {
                Ok(Err(Error::AcquireTimeout(timeout))) => {
                    assert_eq!(timeout, acquire);
                    assert!(acquire < day);
                }
                Ok(other) => panic!("a full pool handed out a resource or failed otherwise: {other:?}"),
                Err(_elapsed) => assert!(acquire >= day, "{acquire:?} did not time out"),
            }
            drop(first);
            // The idle resource's health check takes an hour: a shorter timeout
            // discards it and another one is initialised.
            let again = tokio::time::timeout(day, pool.acquire()).await;
            assert!(matches!(again, Ok(Ok(_))), "{again:?}");
            drop(again);
            // Closing waits for cleanups, each bounded by the cleanup timeout (an hour
            // is needed; a day cuts a "forever" short).
            let closed = tokio::time::timeout(day, pool.close()).await;
            assert!(closed.is_ok() || cleanup >= day);
        });
    }
}
