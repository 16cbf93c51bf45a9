//! Behaviour of deadlines under paused time: expiry, nesting, the task-local view,
//! inheritance into spawned tasks, cancellation and bad input.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to show what crosses a spawn and what does not"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::{Instant, sleep};
use uno_deadline::{Elapsed, at, current, inherit, remaining, within};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test(start_paused = true)]
async fn within_gives_up_exactly_at_the_deadline() {
    let start = Instant::now();
    let outcome = within(secs(2), sleep(secs(5))).await;
    assert_eq!(outcome, Err(Elapsed::new(start + secs(2))));
    assert_eq!(start.elapsed(), secs(2));
    assert_eq!(within(secs(2), async { 7 }).await, Ok(7));
    assert_eq!(start.elapsed(), secs(2));
}

#[tokio::test(start_paused = true)]
async fn at_an_instant_and_in_the_past() {
    let start = Instant::now();
    assert!(at(start + secs(1), sleep(secs(3))).await.is_err());
    assert_eq!(start.elapsed(), secs(1));
    // A deadline in the past: the future is polled, then given up (the second poll
    // lets a pattern inside see that its deadline fired).
    let mut polls = 0;
    let passed = at(
        start,
        std::future::poll_fn(|_| {
            polls += 1;
            std::task::Poll::<()>::Pending
        }),
    )
    .await;
    assert!(passed.is_err());
    assert!((1..=2).contains(&polls), "{polls}");
    assert_eq!(at(start, async { "ready" }).await, Ok("ready"));
}

#[tokio::test(start_paused = true)]
async fn current_and_remaining_report_the_earliest_deadline() {
    assert_eq!(current(), None);
    assert_eq!(remaining(), None);
    let start = Instant::now();
    within(secs(10), async {
        assert_eq!(current(), Some(start + secs(10)));
        sleep(secs(4)).await;
        assert_eq!(remaining(), Some(secs(6)));
        // An earlier inner deadline takes over, and lets go when it ends.
        within(secs(1), async {
            assert_eq!(current(), Some(start + secs(5)));
        })
        .await
        .unwrap();
        // A later inner deadline does not extend the outer one.
        within(secs(60), async {
            assert_eq!(current(), Some(start + secs(10)));
        })
        .await
        .unwrap();
        assert_eq!(current(), Some(start + secs(10)));
    })
    .await
    .unwrap();
    assert_eq!(current(), None);
}

#[tokio::test(start_paused = true)]
async fn a_nested_later_deadline_never_extends_the_outer_one_and_the_outer_caller_sees_it() {
    let start = Instant::now();
    let outcome = within(secs(1), async {
        // The inner scope would allow a minute; the outer one ends in a second.
        within(secs(60), sleep(secs(30))).await
    })
    .await;
    // The outer caller, who set the deadline, gets the Elapsed; the inner scope never
    // returned.
    assert_eq!(outcome, Err(Elapsed::new(start + secs(1))));
    assert_eq!(start.elapsed(), secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_nested_earlier_deadline_is_the_inner_callers_to_handle() {
    let start = Instant::now();
    let outcome = within(secs(10), async {
        let inner = within(secs(1), sleep(secs(5))).await;
        assert!(inner.is_err());
        "moved on"
    })
    .await;
    assert_eq!(outcome, Ok("moved on"));
    assert_eq!(start.elapsed(), secs(1));
}

#[tokio::test(start_paused = true)]
async fn nested_deadlines_at_the_same_instant_are_reported_by_the_outermost() {
    let start = Instant::now();
    let deadline = start + secs(2);
    let outcome = at(deadline, async { at(deadline, sleep(secs(5))).await }).await;
    assert_eq!(outcome, Err(Elapsed::new(deadline)));
}

#[tokio::test(start_paused = true)]
async fn within_made_in_one_task_runs_under_the_deadline_of_the_task_that_polls_it() {
    let start = Instant::now();
    within(secs(1), async {
        // Made under a 1 s deadline but spawned bare: only its own 5 s applies there.
        let spawned = tokio::spawn(within(secs(5), async { current() }));
        assert_eq!(spawned.await.unwrap(), Ok(Some(start + secs(5))));
    })
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_value_ready_at_the_deadline_is_kept() {
    let start = Instant::now();
    // The work's own timer and the deadline fire at the same instant: the work wins.
    let outcome = within(secs(2), async {
        sleep(secs(2)).await;
        "just in time"
    })
    .await;
    assert_eq!(outcome, Ok("just in time"));
    assert_eq!(start.elapsed(), secs(2));
}

#[tokio::test(start_paused = true)]
async fn inherit_carries_the_deadline_into_a_spawned_task() {
    let start = Instant::now();
    let outcome = within(secs(1), async {
        let child = tokio::spawn(inherit(async move {
            assert_eq!(current(), Some(start + secs(1)));
            sleep(secs(10)).await;
            "finished"
        }));
        // The parent waits for the child without a deadline of its own on this await.
        child.await.unwrap()
    })
    .await;
    // The parent's own deadline fired at 1 s too.
    assert!(outcome.is_err());

    // A child holding an inherited deadline is cut short at it even if the parent
    // is no longer waiting.
    let mut child = None;
    within(secs(1), async {
        child = Some(tokio::spawn(inherit(sleep(secs(10)))));
    })
    .await
    .unwrap();
    let child = child.unwrap();
    assert_eq!(child.await.unwrap(), Err(Elapsed::new(start + secs(2))));
    assert_eq!(start.elapsed(), secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_bare_spawn_does_not_inherit_and_inherit_without_a_deadline_passes_through() {
    within(secs(1), async {
        let bare = tokio::spawn(async { current() });
        assert_eq!(bare.await.unwrap(), None);
    })
    .await
    .unwrap();
    assert_eq!(inherit(async { current() }).await, Ok(None));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_too_far_for_the_clock_is_no_deadline() {
    assert_eq!(within(Duration::MAX, async { current() }).await, Ok(None));
    let start = Instant::now();
    let seen = within(secs(3), async {
        within(Duration::MAX, async { current() }).await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(seen, Some(start + secs(3)));
    // A zero duration gives up after one poll.
    assert!(within(Duration::ZERO, sleep(secs(1))).await.is_err());
    assert_eq!(within(Duration::ZERO, async { 1 }).await, Ok(1));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_deadline_future_drops_the_work() {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(dropped.clone());
    let work = within(secs(60), async move {
        let _guard = guard;
        sleep(secs(30)).await;
    });
    let cut = tokio::time::timeout(secs(1), work).await;
    assert!(cut.is_err());
    assert!(dropped.load(Ordering::SeqCst));

    // At the deadline the work is dropped too, not leaked.
    let dropped = Arc::new(AtomicBool::new(false));
    let guard = SetOnDrop(dropped.clone());
    let outcome = within(secs(1), async move {
        let _guard = guard;
        sleep(secs(30)).await;
    })
    .await;
    assert!(outcome.is_err());
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn a_panic_inside_passes_through_and_the_deadline_does_not_leak_out() {
    let caught = tokio::spawn(within(secs(1), async { panic!("boom") })).await;
    assert!(caught.unwrap_err().is_panic());
    assert_eq!(current(), None);
}

#[test]
fn elapsed_is_an_error_with_advice_and_an_io_error() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let elapsed = Elapsed::new(Instant::now());
    assert!(elapsed.to_string().contains("deadline passed"));
    let io: std::io::Error = elapsed.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

#[tokio::test(start_paused = true)]
async fn durations_at_the_edges_of_their_type_never_panic_or_overflow() {
    let edges = [
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_secs(100 * 365 * 86_400),
        Duration::from_secs(u64::MAX / 2),
        Duration::from_secs(u64::MAX),
        Duration::MAX,
    ];
    for outer in edges {
        for inner in edges {
            let seen = within(outer, async { within(inner, async { remaining() }).await }).await;
            if let Ok(Ok(Some(left))) = seen {
                assert!(left <= outer.min(inner), "{outer:?} {inner:?} {left:?}");
            }
        }
        // A far but representable deadline still lets quick work finish.
        assert_eq!(within(outer, async { 7 }).await, Ok(7));
    }
}
