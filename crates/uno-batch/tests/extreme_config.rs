//! Every builder setting at the edges of its type (`Duration::ZERO`, `Duration::MAX`,
//! `0`, `usize::MAX`): building and running a batcher never panics, overflows or
//! hangs. Each setting either is refused by `build` with a clear error or does what its
//! documentation says: a huge wait means "no time limit", a huge size "unbounded".

mod common;

use std::time::Duration;

use common::{OpError, Recorder, expected, settle};
use futures_util::FutureExt as _;
use proptest::prelude::*;
use tokio::sync::Semaphore;
use tokio::time::{Instant, timeout};
use uno_batch::{AsyncBatcher, BatchError};

/// Longer than any test waits for a batch: a wait at least this long is treated as
/// "forever" by the sweep.
const FOREVER_BOUND: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The longest wait that can still be added to `now`: a deadline at the very end of
/// `Instant`'s range.
fn longest_representable_wait(now: Instant) -> Duration {
    let (mut fits, mut too_long) = (Duration::ZERO, Duration::MAX);
    // Bisect on nanoseconds as u128; 128 rounds are plenty.
    while too_long.as_nanos() - fits.as_nanos() > 1 {
        let middle = fits.as_nanos() + (too_long.as_nanos() - fits.as_nanos()) / 2;
        let middle = Duration::new(
            u64::try_from(middle / 1_000_000_000).unwrap(),
            u32::try_from(middle % 1_000_000_000).unwrap(),
        );
        if now.checked_add(middle).is_some() {
            fits = middle;
        } else {
            too_long = middle;
        }
    }
    fits
}

/// The attack: `max_pending(usize::MAX)` panicked inside tokio's semaphore, whose
/// limit is `Semaphore::MAX_PERMITS`.
#[tokio::test(start_paused = true)]
async fn a_max_pending_of_usize_max_is_unbounded() {
    let recorder = Recorder::default();
    let batcher = AsyncBatcher::builder(recorder.op())
        .max_batch_size(10)
        .max_pending(usize::MAX)
        .build()
        .expect("usize::MAX means unbounded");
    let tickets: Vec<_> = (0..1_000)
        .map(|item| batcher.try_add(item).expect("never full"))
        .collect();
    batcher.close().await;
    for (item, ticket) in (0..).zip(tickets) {
        assert_eq!(ticket.await, Ok(expected(item)));
    }
}

#[tokio::test(start_paused = true)]
async fn a_max_pending_around_the_semaphores_limit_builds_and_runs() {
    for max_pending in [
        Semaphore::MAX_PERMITS - 1,
        Semaphore::MAX_PERMITS,
        Semaphore::MAX_PERMITS + 1,
    ] {
        let batcher = AsyncBatcher::builder(Recorder::default().op())
            .max_pending(max_pending)
            .max_wait_time(Duration::ZERO)
            .build()
            .unwrap_or_else(|error| panic!("max_pending {max_pending}: {error}"));
        assert_eq!(batcher.add(3).await, Ok(expected(3)));
        assert_eq!(batcher.try_add(4).unwrap().await, Ok(expected(4)));
    }
}

/// A wait whose deadline is the last instant tokio can represent made the worker
/// overflow inside tokio's timer, which rounds deadlines up to the next millisecond.
#[tokio::test(start_paused = true)]
async fn a_wait_ending_at_the_end_of_instants_range_means_no_time_limit() {
    let now = Instant::now();
    for wait in [
        longest_representable_wait(now),
        longest_representable_wait(now) - Duration::from_micros(500),
        longest_representable_wait(now) - Duration::from_secs(1),
    ] {
        let recorder = Recorder::default();
        let batcher = AsyncBatcher::builder(recorder.op())
            .max_batch_size(2)
            .max_wait_time(wait)
            .build()
            .unwrap();
        let mut lone = batcher.try_add(1).unwrap();
        settle().await;
        assert!((&mut lone).now_or_never().is_none(), "wait {wait:?}");
        assert_eq!(batcher.add(2).await, Ok(expected(2)));
        assert_eq!(lone.await, Ok(expected(1)));
    }
}

/// One setting value in the sweep, before `build` sees it.
fn sizes() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        Just(None),
        Just(Some(0)),
        Just(Some(1)),
        Just(Some(2)),
        (3_usize..64).prop_map(Some),
        Just(Some(Semaphore::MAX_PERMITS)),
        Just(Some(Semaphore::MAX_PERMITS + 1)),
        (usize::MAX / 2..=usize::MAX).prop_map(Some),
        Just(Some(usize::MAX)),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Wait {
    /// Not set: the default.
    Default,
    Exactly(Duration),
    /// This much short of the longest wait `Instant::now()` can be added to.
    ShortOfTheEnd(Duration),
}

fn waits() -> impl Strategy<Value = Wait> {
    prop_oneof![
        Just(Wait::Default),
        Just(Wait::Exactly(Duration::ZERO)),
        Just(Wait::Exactly(Duration::from_nanos(1))),
        (1_u64..10_000).prop_map(|millis| Wait::Exactly(Duration::from_millis(millis))),
        (FOREVER_BOUND.as_secs()..=u64::MAX, 0..1_000_000_000_u32)
            .prop_map(|(secs, nanos)| Wait::Exactly(Duration::new(secs, nanos))),
        Just(Wait::Exactly(Duration::MAX)),
        (0_u64..2_000_000_000).prop_map(|nanos| Wait::ShortOfTheEnd(Duration::from_nanos(nanos))),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    max_batch_size: Option<usize>,
    max_wait_time: Wait,
    max_pending: Option<usize>,
    max_concurrent_batches: Option<usize>,
    deduplicate: bool,
    /// Whether items are batched by key (`item % 3`).
    keyed: bool,
    /// Items added with `add`, each from its own task.
    items: u64,
    /// Whether the batcher is closed at once, rather than first left to its triggers.
    close: bool,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        sizes(),
        waits(),
        sizes(),
        sizes(),
        any::<bool>(),
        any::<bool>(),
        0_u64..8,
        any::<bool>(),
    )
        .prop_map(
            |(
                max_batch_size,
                max_wait_time,
                max_pending,
                max_concurrent_batches,
                deduplicate,
                keyed,
                items,
                close,
            )| Case {
                max_batch_size,
                max_wait_time,
                max_pending,
                max_concurrent_batches,
                deduplicate,
                keyed,
                items,
                close,
            },
        )
}

#[allow(
    clippy::disallowed_methods,
    reason = "each item is added from its own task, standing for independent callers"
)]
async fn run_case(case: Case) {
    let now = Instant::now();
    let wait = match case.max_wait_time {
        Wait::Default => uno_batch::DEFAULT_MAX_WAIT_TIME,
        Wait::Exactly(wait) => wait,
        Wait::ShortOfTheEnd(short) => longest_representable_wait(now).saturating_sub(short),
    };
    let mut builder = AsyncBatcher::builder(Recorder::default().op());
    if let Some(size) = case.max_batch_size {
        builder = builder.max_batch_size(size);
    }
    if !matches!(case.max_wait_time, Wait::Default) {
        builder = builder.max_wait_time(wait);
    }
    if let Some(pending) = case.max_pending {
        builder = builder.max_pending(pending);
    }
    if let Some(concurrent) = case.max_concurrent_batches {
        builder = builder.max_concurrent_batches(concurrent);
    }
    if case.deduplicate {
        builder = builder.deduplicate();
    }
    if case.keyed {
        builder = builder.key_fn(|item: &u64| item % 3);
    }
    let zero_size = [
        case.max_batch_size,
        case.max_pending,
        case.max_concurrent_batches,
    ]
    .contains(&Some(0));
    let batcher: AsyncBatcher<u64, u64, OpError> = match builder.build() {
        Ok(batcher) => {
            assert!(!zero_size, "a zero size was accepted: {case:?}");
            batcher
        }
        Err(error) => {
            assert!(zero_size, "refused without a zero size: {error} {case:?}");
            assert!(error.to_string().contains(" is 0;"), "{error}");
            return;
        }
    };

    let mut callers: Vec<_> = (0..case.items)
        .map(|item| {
            let batcher = batcher.clone();
            tokio::spawn(async move { (item, batcher.add(item).await) })
        })
        .collect();
    settle().await;
    if !case.close {
        // Left to its triggers, every item is sent by time when the wait is finite;
        // with a "forever" wait only full batches are sent, and the rest waits.
        let finite_wait = wait < FOREVER_BOUND / 2;
        let mut waiting = Vec::new();
        for mut caller in callers {
            match timeout(FOREVER_BOUND, &mut caller).await {
                Ok(joined) => check(&case, joined.expect("no panic in a caller")),
                Err(_) => {
                    assert!(!finite_wait, "a caller hung: {case:?}");
                    waiting.push(caller);
                }
            }
        }
        callers = waiting;
    }
    timeout(FOREVER_BOUND, batcher.close())
        .await
        .unwrap_or_else(|_| panic!("close hung: {case:?}"));
    for caller in callers {
        let joined = timeout(FOREVER_BOUND, caller)
            .await
            .unwrap_or_else(|_| panic!("a caller hung after close: {case:?}"));
        check(&case, joined.expect("no panic in a caller"));
    }
}

/// Each caller gets its own item's output, or `Closed` when it was still waiting for
/// room as the batcher closed.
fn check(case: &Case, (item, outcome): (u64, Result<u64, BatchError<OpError>>)) {
    match outcome {
        Ok(output) => assert_eq!(output, expected(item), "{case:?}"),
        Err(BatchError::Closed) => assert!(
            case.max_pending.is_some_and(
                |pending| u64::try_from(pending).is_ok_and(|pending| pending < case.items)
            ),
            "refused with room to spare: {case:?}"
        ),
        Err(error) => panic!("unexpected {error:?} for {case:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any combination of settings either is refused by `build` or runs to its
    /// documented end: no panic, no overflow, no hang.
    #[test]
    fn every_builder_setting_at_its_edges_builds_or_is_refused_and_never_hangs(case in cases()) {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap()
            .block_on(run_case(case));
    }
}
