//! Behaviour of the fixed `Limiter`: the bound, fairness, cancellation, panics,
//! closing and the full policies.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uno_limit::{BuildError, FullPolicy, LimitError, Limiter};

/// Counts operations running now and remembers the most ever seen at once.
#[derive(Default)]
struct HighWater {
    running: AtomicUsize,
    most: AtomicUsize,
}

/// Holds one place in a `HighWater` until dropped, so a cancelled operation is counted
/// out too.
struct Running<'a>(&'a HighWater);

impl HighWater {
    fn enter(&self) -> Running<'_> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        Running(self)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn never_more_than_the_limit_with_random_cancellations(seed: u64) {
    const LIMIT: usize = 7;
    let limiter = Limiter::new(LIMIT).unwrap();
    let high_water = Arc::new(HighWater::default());
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut handles = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        let limiter = limiter.clone();
        let high_water = high_water.clone();
        let work_yields = rng.usize(0..4);
        let run = async move {
            limiter
                .run(async {
                    let _running = high_water.enter();
                    for _ in 0..work_yields {
                        tokio::task::yield_now().await;
                    }
                })
                .await
        };
        handles.push(tokio::spawn(run));
        // Cancel a random earlier task: it may be waiting, running or done.
        if rng.u8(..) < 80 {
            let victim = rng.usize(..handles.len());
            handles[victim].abort();
        }
    }
    let mut finished = 0;
    for handle in handles {
        match handle.await {
            Ok(result) => {
                result.unwrap();
                finished += 1;
            }
            Err(error) => assert!(error.is_cancelled(), "a task panicked: {error}"),
        }
    }
    assert!(finished > 0);
    let most = high_water.most.load(Ordering::SeqCst);
    assert!(most <= LIMIT, "{most} ran at once under a limit of {LIMIT}");
    assert_eq!(
        limiter.in_flight(),
        0,
        "a cancelled caller left a permit behind"
    );
    assert_eq!(
        limiter.waiting(),
        0,
        "a cancelled caller is still counted as waiting"
    );
    // Every permit came back: the limiter still admits LIMIT at once.
    let permits: Vec<_> = (0..LIMIT).map(|_| limiter.try_acquire().unwrap()).collect();
    assert_eq!(permits.len(), LIMIT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn never_more_than_the_limit_run_under_random_cancellation_multi_thread() {
    never_more_than_the_limit_with_random_cancellations(0x5eed).await;
}

#[tokio::test]
async fn never_more_than_the_limit_run_under_random_cancellation_current_thread() {
    never_more_than_the_limit_with_random_cancellations(42).await;
}

async fn waiters_are_served_in_fifo_order() {
    let limiter = Limiter::new(1).unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let held = limiter.acquire().await.unwrap();
    let mut tasks = Vec::new();
    for id in 0..20 {
        let waiter = limiter.clone();
        let order = order.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = waiter.acquire().await.unwrap();
            order.lock().unwrap().push(id);
        }));
        // Queue the waiters one by one, so their order is known.
        while limiter.waiting() < id + 1 {
            tokio::task::yield_now().await;
        }
    }
    drop(held);
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
}

#[tokio::test]
async fn waiters_are_served_in_fifo_order_current_thread() {
    waiters_are_served_in_fifo_order().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waiters_are_served_in_fifo_order_multi_thread() {
    waiters_are_served_in_fifo_order().await;
}

#[tokio::test]
async fn zero_limit_is_refused_with_a_clear_error() {
    assert_eq!(Limiter::new(0).unwrap_err(), BuildError::ZeroLimit);
    assert!(BuildError::ZeroLimit.to_string().contains("at least 1"));
    let unset = Limiter::builder().build().unwrap_err();
    assert!(matches!(unset, BuildError::InvalidConfig { .. }));
    let zero_timeout = Limiter::builder()
        .limit(1)
        .on_full(FullPolicy::Timeout(Duration::ZERO))
        .build()
        .unwrap_err();
    assert!(matches!(zero_timeout, BuildError::InvalidConfig { .. }));
    assert!(matches!(
        Limiter::new(usize::MAX).unwrap_err(),
        BuildError::LimitTooLarge { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn a_waiter_cancelled_while_waiting_leaves_no_permit_behind() {
    let limiter = Limiter::new(1).unwrap();
    let held = limiter.acquire().await.unwrap();
    let waiting = tokio::time::timeout(Duration::from_secs(1), limiter.run(async {})).await;
    assert!(
        waiting.is_err(),
        "the waiter should still have been waiting"
    );
    assert_eq!(limiter.waiting(), 0);
    drop(held);
    assert_eq!(limiter.in_flight(), 0);
    assert!(limiter.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn an_operation_cancelled_while_running_releases_its_permit() {
    let limiter = Limiter::new(1).unwrap();
    let slow = limiter.run(tokio::time::sleep(Duration::from_secs(60)));
    assert!(
        tokio::time::timeout(Duration::from_secs(1), slow)
            .await
            .is_err()
    );
    assert_eq!(limiter.in_flight(), 0);
    let wrapped = limiter.wrap(|seconds: u64| tokio::time::sleep(Duration::from_secs(seconds)));
    assert!(
        tokio::time::timeout(Duration::from_secs(1), wrapped(60))
            .await
            .is_err()
    );
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test]
async fn a_panicking_operation_releases_its_permit() {
    let limiter = Limiter::new(1).unwrap();
    let task = tokio::spawn({
        let limiter = limiter.clone();
        async move { limiter.run(async { panic!("boom") }).await }
    });
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(limiter.in_flight(), 0);
    let wrapped = limiter.wrap(|()| async { panic!("boom") });
    assert!(tokio::spawn(wrapped(())).await.unwrap_err().is_panic());
    assert_eq!(limiter.run(async { 1 }).await, Ok(1));
}

#[tokio::test]
async fn close_fails_waiters_and_new_calls_but_running_work_finishes() {
    let limiter = Limiter::new(1).unwrap();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let limiter = limiter.clone();
        async move {
            limiter
                .run(async move {
                    released.await.unwrap();
                    "done"
                })
                .await
        }
    });
    while limiter.in_flight() == 0 {
        tokio::task::yield_now().await;
    }
    let waiter = tokio::spawn({
        let limiter = limiter.clone();
        async move { limiter.run(async {}).await }
    });
    while limiter.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    limiter.close();
    limiter.close(); // closing twice is harmless
    assert!(limiter.is_closed());
    assert_eq!(waiter.await.unwrap(), Err(LimitError::Closed));
    assert_eq!(limiter.run(async {}).await, Err(LimitError::Closed));
    assert_eq!(limiter.try_acquire().unwrap_err(), LimitError::Closed);
    let wrapped = limiter.wrap(|x: u8| async move { x });
    assert_eq!(wrapped(1).await, Err(LimitError::Closed));
    release.send(()).unwrap();
    assert_eq!(running.await.unwrap(), Ok("done"));
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test]
async fn reject_mode_fails_at_once_when_full() {
    let limiter = Limiter::builder()
        .limit(2)
        .on_full(FullPolicy::Reject)
        .build()
        .unwrap();
    let _a = limiter.acquire().await.unwrap();
    let _b = limiter.acquire().await.unwrap();
    assert_eq!(
        limiter.acquire().await.unwrap_err(),
        LimitError::Full { limit: 2 }
    );
    assert_eq!(
        limiter.run(async {}).await,
        Err(LimitError::Full { limit: 2 })
    );
    let wrapped = limiter.wrap(|x: u8| async move { x });
    assert_eq!(wrapped(1).await, Err(LimitError::Full { limit: 2 }));
    assert_eq!(limiter.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn timeout_mode_fails_after_the_timeout_and_succeeds_within_it() {
    let timeout = Duration::from_secs(2);
    let limiter = Limiter::builder()
        .limit(1)
        .on_full(FullPolicy::Timeout(timeout))
        .build()
        .unwrap();
    let held = limiter.acquire().await.unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(
        limiter.run(async {}).await,
        Err(LimitError::Timeout { timeout })
    );
    assert_eq!(started.elapsed(), timeout);
    let wrapped = limiter.wrap(|x: u8| async move { x });
    assert_eq!(wrapped(1).await, Err(LimitError::Timeout { timeout }));
    // Freed within the timeout: the waiter gets in.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(held);
    });
    assert_eq!(wrapped(7).await, Ok(7));
    assert_eq!(limiter.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn acquire_timeout_waits_at_most_the_timeout() {
    let limiter = Limiter::new(1).unwrap();
    let held = limiter.acquire().await.unwrap();
    let timeout = Duration::from_millis(300);
    assert_eq!(
        limiter.acquire_timeout(timeout).await.unwrap_err(),
        LimitError::Timeout { timeout }
    );
    assert_eq!(
        limiter.acquire_timeout(Duration::ZERO).await.unwrap_err(),
        LimitError::Timeout {
            timeout: Duration::ZERO
        }
    );
    drop(held);
    assert!(limiter.acquire_timeout(Duration::ZERO).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn wrap_returns_a_cloneable_function_limited_on_every_call() {
    let limiter = Limiter::new(2).unwrap();
    let high_water = Arc::new(HighWater::default());
    let work = {
        let high_water = high_water.clone();
        move |item: u32| {
            let high_water = high_water.clone();
            async move {
                let _running = high_water.enter();
                tokio::time::sleep(Duration::from_millis(10)).await;
                item + 1
            }
        }
    };
    let wrapped = limiter.wrap(work);
    let copy = wrapped.clone();
    let mut calls: Vec<_> = (0..10).map(|item| tokio::spawn(wrapped(item))).collect();
    calls.extend((10..20).map(|item| tokio::spawn(copy(item))));
    for (item, call) in calls.into_iter().enumerate() {
        assert_eq!(call.await.unwrap(), Ok(item as u32 + 1));
    }
    assert_eq!(high_water.most.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn in_flight_and_waiting_report_the_current_load() {
    let limiter = Limiter::new(2).unwrap();
    assert_eq!(
        (limiter.in_flight(), limiter.waiting(), limiter.limit()),
        (0, 0, 2)
    );
    let a = limiter.acquire().await.unwrap();
    let b = limiter.acquire().await.unwrap();
    let waiter = tokio::spawn({
        let limiter = limiter.clone();
        async move { limiter.acquire().await.map(drop) }
    });
    while limiter.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!((limiter.in_flight(), limiter.waiting()), (2, 1));
    drop((a, b));
    waiter.await.unwrap().unwrap();
    assert_eq!((limiter.in_flight(), limiter.waiting()), (0, 0));
    assert!(format!("{limiter:?}").contains("limit: 2"));
}

#[test]
fn futures_from_run_and_wrap_are_send_when_the_work_is() {
    fn assert_send<T: Send>(_: &T) {}
    let limiter = Limiter::new(1).unwrap();
    let run = limiter.run(async { 1 });
    assert_send(&run);
    let acquire = limiter.acquire();
    assert_send(&acquire);
    let wrapped = limiter.wrap(|x: u32| async move { x });
    let call = wrapped(1);
    assert_send(&call);
    assert_send(&wrapped);
}

/// Records how many permits were held when it was dropped.
struct InFlightProbe {
    limiter: Limiter,
    seen: Arc<AtomicUsize>,
}

impl Drop for InFlightProbe {
    fn drop(&mut self) {
        self.seen.store(self.limiter.in_flight(), Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn cancelled_work_is_dropped_before_its_permit_is_released() {
    let limiter = Limiter::new(1).unwrap();
    let seen = Arc::new(AtomicUsize::new(usize::MAX));
    let probe = InFlightProbe {
        limiter: limiter.clone(),
        seen: seen.clone(),
    };
    let run = limiter.run(async move {
        let _probe = probe;
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(1), run)
            .await
            .is_err()
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "run released its permit before dropping the work"
    );

    let wrapped = limiter.wrap(|probe: InFlightProbe| async move {
        let _probe = probe;
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
    let probe = InFlightProbe {
        limiter: limiter.clone(),
        seen: seen.clone(),
    };
    assert!(
        tokio::time::timeout(Duration::from_secs(1), wrapped(probe))
            .await
            .is_err()
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "a wrapped call released its permit before dropping the work"
    );
    assert_eq!(limiter.in_flight(), 0);
}
