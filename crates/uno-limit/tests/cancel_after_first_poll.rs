//! The `# Cancel safety` promises of the waiting methods, checked at the poll level:
//! each future is polled once by hand (and is still pending, so it waits in the
//! queue), then dropped, and the docs' promise is checked from outside: no permit or
//! slot is held, the place in the queue is given up (the waiter behind moves up), and
//! a future dropped while running releases its permit.

use std::future::pending;
use std::time::Duration;

use tokio_test::{assert_pending, assert_ready_ok, task};
use uno_limit::{AdaptiveLimiter, Aimd, KeyedLimiter, Limiter, RateLimiter};

#[tokio::test(start_paused = true)]
async fn limiter_acquire_dropped_after_its_first_poll_gives_up_its_place() {
    let limiter = Limiter::new(1).unwrap();
    let held = limiter.acquire().await.unwrap();

    let mut first = task::spawn(limiter.acquire());
    assert_pending!(first.poll());
    let mut second = task::spawn(limiter.acquire_timeout(Duration::from_secs(60)));
    assert_pending!(second.poll());
    assert_eq!(limiter.waiting(), 2);

    drop(first);
    assert_eq!(limiter.waiting(), 1, "the dropped waiter left the queue");
    drop(held);
    assert!(
        second.is_woken(),
        "the waiter behind moved up and got the permit"
    );
    let permit = assert_ready_ok!(second.poll());
    assert_eq!((limiter.in_flight(), limiter.waiting()), (1, 0));
    drop(permit);
    assert_eq!(limiter.in_flight(), 0, "no permit was left behind");
}

#[tokio::test(start_paused = true)]
async fn limiter_run_dropped_while_waiting_or_running_holds_no_permit() {
    let limiter = Limiter::new(1).unwrap();
    let held = limiter.acquire().await.unwrap();
    let mut waiting = task::spawn(limiter.run(async {}));
    assert_pending!(waiting.poll());
    assert_eq!(limiter.waiting(), 1);
    drop(waiting);
    assert_eq!(limiter.waiting(), 0);
    drop(held);

    // Admitted, then pending inside the guarded future: it holds the permit until it
    // is dropped.
    let mut running = task::spawn(limiter.run(pending::<()>()));
    assert_pending!(running.poll());
    assert_eq!(limiter.in_flight(), 1);
    drop(running);
    assert_eq!(
        limiter.in_flight(),
        0,
        "dropped while running, it released its permit"
    );
    assert!(limiter.try_acquire().is_ok());
}

#[tokio::test(start_paused = true)]
async fn keyed_acquire_dropped_after_its_first_poll_leaves_no_key_behind() {
    let limiter = KeyedLimiter::new(1).unwrap();
    let held = limiter.acquire("tenant").await.unwrap();
    let mut waiting = task::spawn(limiter.acquire("tenant"));
    assert_pending!(waiting.poll());
    // Another key is not held up by the busy one.
    let mut other = task::spawn(limiter.acquire_timeout("other", Duration::from_secs(60)));
    let other = assert_ready_ok!(other.poll());
    drop(other);
    assert_eq!(limiter.waiting(), 1);

    drop(waiting);
    assert_eq!(
        limiter.waiting(),
        0,
        "the dropped waiter left its key's queue"
    );
    drop(held);
    assert_eq!(
        limiter.active_keys(),
        0,
        "the key went with its last user, the dropped waiter included"
    );
    assert_eq!(limiter.in_flight(&"tenant"), 0);
}

#[tokio::test(start_paused = true)]
async fn adaptive_acquire_dropped_after_its_first_poll_gives_up_its_place() {
    let limiter = AdaptiveLimiter::new(Aimd::builder().initial_limit(1).build().unwrap());
    let held = limiter.acquire().await.unwrap();
    let mut first = task::spawn(limiter.acquire());
    assert_pending!(first.poll());
    let mut second = task::spawn(limiter.acquire_timeout(Duration::from_secs(60)));
    assert_pending!(second.poll());
    assert_eq!(limiter.waiting(), 2);

    drop(first);
    assert_eq!(limiter.waiting(), 1);
    held.ignore();
    assert!(second.is_woken());
    let permit = assert_ready_ok!(second.poll());
    assert_eq!(limiter.in_flight(), 1);
    permit.ignore();
    assert_eq!(limiter.in_flight(), 0, "no permit was left behind");
}

#[tokio::test(start_paused = true)]
async fn rate_acquire_dropped_after_its_first_poll_takes_no_slot() {
    let rate = RateLimiter::new(1, Duration::from_secs(1)).unwrap();
    rate.acquire().await.unwrap();
    let mut first = task::spawn(rate.acquire());
    assert_pending!(first.poll());
    let mut second = task::spawn(rate.acquire());
    assert_pending!(second.poll());
    assert_eq!(rate.waiting(), 2);

    drop(first);
    assert_eq!(rate.waiting(), 1, "the dropped waiter left the queue");
    // The next slot, one second on, goes to the waiter behind: the dropped one took
    // nothing.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(second.is_woken());
    assert_ready_ok!(second.poll());
    assert_eq!(rate.waiting(), 0);
    assert!(rate.try_acquire().is_err(), "exactly one slot was taken");
}
