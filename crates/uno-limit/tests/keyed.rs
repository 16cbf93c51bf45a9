//! Behaviour of `KeyedLimiter`: per-key bounds, independence of keys, cleanup of idle
//! keys, cancellation and closing.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uno_limit::{BuildError, FullPolicy, KeyedLimiter, LimitError};

#[tokio::test]
async fn zero_limit_per_key_is_refused() {
    assert_eq!(
        KeyedLimiter::<u32>::new(0).unwrap_err(),
        BuildError::ZeroLimit
    );
    assert!(matches!(
        KeyedLimiter::<u32>::with_policy(1, FullPolicy::Timeout(Duration::ZERO)).unwrap_err(),
        BuildError::InvalidConfig { .. }
    ));
}

#[tokio::test]
async fn each_key_has_its_own_limit() {
    let limiter = KeyedLimiter::new(2).unwrap();
    let _a1 = limiter.try_acquire("a").unwrap();
    let _a2 = limiter.try_acquire("a").unwrap();
    assert_eq!(
        limiter.try_acquire("a").unwrap_err(),
        LimitError::Full { limit: 2 }
    );
    let b = limiter.try_acquire("b").unwrap();
    assert_eq!(b.key(), &"b");
    assert_eq!(
        (
            limiter.in_flight(&"a"),
            limiter.in_flight(&"b"),
            limiter.in_flight(&"c")
        ),
        (2, 1, 0)
    );
    assert_eq!(limiter.active_keys(), 2);
}

#[tokio::test]
async fn memory_does_not_grow_with_the_number_of_keys_ever_seen() {
    let limiter = KeyedLimiter::new(1).unwrap();
    for key in 0..100_000u64 {
        let output = limiter.run(key, async move { key * 2 }).await.unwrap();
        assert_eq!(output, key * 2);
        assert_eq!(
            limiter.active_keys(),
            0,
            "key {key} was kept after it became idle"
        );
    }
    // Held permits keep exactly their keys.
    let held: Vec<_> = (0..10u64)
        .map(|key| limiter.try_acquire(key).unwrap())
        .collect();
    assert_eq!(limiter.active_keys(), 10);
    drop(held);
    assert_eq!(limiter.active_keys(), 0);
}

/// Counts one running operation of a key until dropped (also when cancelled).
struct RunningUnder<'a> {
    running: &'a Mutex<HashMap<u32, usize>>,
    key: u32,
}

impl<'a> RunningUnder<'a> {
    fn enter(running: &'a Mutex<HashMap<u32, usize>>, key: u32, most: &AtomicUsize) -> Self {
        let mut counts = running.lock().unwrap();
        let count = counts.entry(key).or_default();
        *count += 1;
        most.fetch_max(*count, Ordering::SeqCst);
        RunningUnder { running, key }
    }
}

impl Drop for RunningUnder<'_> {
    fn drop(&mut self) {
        *self.running.lock().unwrap().get_mut(&self.key).unwrap() -= 1;
    }
}

async fn per_key_bound_holds_and_idle_keys_are_removed_under_concurrency() {
    const LIMIT: usize = 3;
    let limiter = KeyedLimiter::new(LIMIT).unwrap();
    let running: Arc<Mutex<HashMap<u32, usize>>> = Arc::default();
    let most = Arc::new(AtomicUsize::new(0));
    let mut rng = fastrand::Rng::with_seed(7);
    let mut handles = Vec::new();
    for _ in 0..5_000 {
        let key = rng.u32(0..50);
        let limiter = limiter.clone();
        let running = running.clone();
        let most = most.clone();
        handles.push(tokio::spawn(async move {
            limiter
                .run(key, async {
                    let _running = RunningUnder::enter(&running, key, &most);
                    tokio::task::yield_now().await;
                })
                .await
        }));
        if rng.u8(..) < 60 {
            let victim = rng.usize(..handles.len());
            handles[victim].abort();
        }
    }
    for handle in handles {
        match handle.await {
            Ok(result) => result.unwrap(),
            Err(error) => assert!(error.is_cancelled()),
        }
    }
    assert!(most.load(Ordering::SeqCst) <= LIMIT);
    assert_eq!(limiter.active_keys(), 0, "idle keys were kept");
    assert_eq!(limiter.waiting(), 0);
}

#[tokio::test]
async fn per_key_bound_and_cleanup_current_thread() {
    per_key_bound_holds_and_idle_keys_are_removed_under_concurrency().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn per_key_bound_and_cleanup_multi_thread() {
    per_key_bound_holds_and_idle_keys_are_removed_under_concurrency().await;
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_waiter_leaves_nothing_behind() {
    let limiter = KeyedLimiter::new(1).unwrap();
    let held = limiter.acquire("host").await.unwrap();
    let wait = tokio::time::timeout(Duration::from_secs(1), limiter.acquire("host")).await;
    assert!(wait.is_err());
    assert_eq!(limiter.waiting(), 0);
    assert_eq!(limiter.active_keys(), 1);
    drop(held);
    assert_eq!(limiter.active_keys(), 0);
}

#[tokio::test]
async fn waiters_of_one_key_are_served_in_fifo_order() {
    let limiter = KeyedLimiter::new(1).unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let held = limiter.acquire("k").await.unwrap();
    let mut tasks = Vec::new();
    for id in 0..10 {
        let waiter = limiter.clone();
        let order = order.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = waiter.acquire("k").await.unwrap();
            order.lock().unwrap().push(id);
        }));
        while limiter.waiting() < id + 1 {
            tokio::task::yield_now().await;
        }
    }
    // Another key is not held up by the queue.
    assert!(limiter.try_acquire("other").is_ok());
    drop(held);
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..10).collect::<Vec<_>>());
    assert_eq!(limiter.active_keys(), 0);
}

#[tokio::test(start_paused = true)]
async fn reject_and_timeout_modes_apply_per_key() {
    let reject = KeyedLimiter::with_policy(1, FullPolicy::Reject).unwrap();
    let _held = reject.acquire(1).await.unwrap();
    assert_eq!(
        reject.acquire(1).await.unwrap_err(),
        LimitError::Full { limit: 1 }
    );
    assert!(reject.acquire(2).await.is_ok());

    let timeout = Duration::from_secs(1);
    let patient = KeyedLimiter::with_policy(1, FullPolicy::Timeout(timeout)).unwrap();
    let _held = patient.acquire(1).await.unwrap();
    assert_eq!(
        patient.run(1, async {}).await,
        Err(LimitError::Timeout { timeout })
    );
    assert_eq!(
        patient
            .acquire_timeout(1, Duration::ZERO)
            .await
            .unwrap_err(),
        LimitError::Timeout {
            timeout: Duration::ZERO
        }
    );
    assert_eq!(patient.active_keys(), 1);
}

#[tokio::test]
async fn close_fails_waiters_and_new_calls_but_running_work_finishes() {
    let limiter = KeyedLimiter::new(1).unwrap();
    let held = limiter.acquire("k").await.unwrap();
    let waiter = tokio::spawn({
        let limiter = limiter.clone();
        async move { limiter.acquire("k").await.map(drop) }
    });
    while limiter.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    limiter.close();
    assert!(limiter.is_closed());
    assert_eq!(waiter.await.unwrap(), Err(LimitError::Closed));
    assert_eq!(limiter.run("new", async {}).await, Err(LimitError::Closed));
    assert_eq!(limiter.try_acquire("k").unwrap_err(), LimitError::Closed);
    assert_eq!(held.key(), &"k");
    drop(held);
    assert_eq!(limiter.active_keys(), 0);
}

/// Records how many permits of its key were held when it was dropped.
struct InFlightProbe {
    limiter: KeyedLimiter<&'static str>,
    seen: Arc<AtomicUsize>,
}

impl Drop for InFlightProbe {
    fn drop(&mut self) {
        self.seen
            .store(self.limiter.in_flight(&"k"), Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn cancelled_work_is_dropped_before_its_permit_is_released() {
    let limiter = KeyedLimiter::new(1).unwrap();
    let seen = Arc::new(AtomicUsize::new(usize::MAX));
    let probe = InFlightProbe {
        limiter: limiter.clone(),
        seen: seen.clone(),
    };
    let run = limiter.run("k", async move {
        let _probe = probe;
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(1), run)
            .await
            .is_err()
    );
    assert_eq!(seen.load(Ordering::SeqCst), 1);
    assert_eq!(limiter.active_keys(), 0);
}
