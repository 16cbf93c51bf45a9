//! Every builder option at the edges of its type (`Duration::ZERO`, `Duration::MAX`,
//! `0`, `usize::MAX`): building and running a group never panics, overflows or hangs.
//! Each option either is refused by `build` with a clear error or does what its
//! documentation says; a grace period too long to wait out means "forever".

mod support;

use std::future::pending;
use std::time::Duration;

use proptest::prelude::*;
use support::{DropCounter, within};
use tokio::time::{Instant, sleep, timeout};
use uno_taskgroup::{BuildError, CancellationToken, TaskError, TaskGroup};

/// Longer than any test waits: a grace period at least this long is waited out as
/// "forever" by the sweep (the group's own threshold is the end of `Instant`'s range).
const FOREVER_BOUND: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The attack: `grace_period(Duration::MAX)` built, then `join` panicked with
/// "overflow when adding duration to instant" once the group was cancelled.
#[tokio::test(start_paused = true)]
async fn a_grace_period_of_duration_max_waits_for_cooperative_tasks() {
    let group = TaskGroup::<u32, &str>::builder()
        .grace_period(Duration::MAX)
        .build()
        .unwrap();
    let token = group.token();
    group
        .spawn(async move {
            token.cancelled().await;
            // Cleaning up takes a while; a forever grace period waits for it.
            sleep(Duration::from_secs(10)).await;
            Ok(1)
        })
        .unwrap();
    let started = Instant::now();
    group.cancel();
    let error = within(group.join()).await.unwrap_err();
    assert!(error.is_cancelled());
    assert_eq!(started.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_grace_period_of_duration_max_never_aborts_a_task_by_itself() {
    let mut drops = DropCounter::new();
    let group = TaskGroup::<u32, &str>::builder()
        .grace_period(Duration::MAX)
        .build()
        .unwrap();
    let guard = drops.guard();
    group
        .spawn(async move {
            let _guard = guard;
            pending::<()>().await;
            Ok(1)
        })
        .unwrap();
    group.spawn(async { Err("boom") }).unwrap();
    // A thousand years of virtual time: the stuck task is still waited for.
    let waited = timeout(FOREVER_BOUND * 10, group.join()).await;
    assert!(waited.is_err(), "join gave up on a forever grace period");
    // Dropping the join future aborts it, as always.
    drops.wait_for(1).await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_task_under_a_grace_period_of_duration_max_does_not_panic() {
    let group = TaskGroup::<u32, &str>::builder()
        .grace_period(Duration::MAX)
        .build()
        .unwrap();
    let failing = group.spawn(async { Err("boom") }).unwrap();
    let error = within(group.join()).await.unwrap_err();
    assert!(matches!(error.failures(), [(id, TaskError::Failed("boom"))] if *id == failing));
}

#[tokio::test(start_paused = true)]
async fn a_max_concurrency_of_usize_max_is_no_limit() {
    let group = TaskGroup::<usize, &str>::builder()
        .max_concurrency(usize::MAX)
        .build()
        .unwrap();
    for n in 0..100 {
        group.spawn(async move { Ok(n) }).unwrap();
    }
    assert_eq!(
        within(group.join()).await.unwrap(),
        (0..100).collect::<Vec<_>>()
    );
}

#[test]
fn a_max_concurrency_of_zero_is_refused_at_build() {
    let error = TaskGroup::<(), &str>::builder()
        .max_concurrency(0)
        .build()
        .unwrap_err();
    assert_eq!(error, BuildError::ZeroConcurrency);
    assert_eq!(
        error.to_string(),
        "max_concurrency must be at least 1; a limit of 0 would never run a task"
    );
}

/// How a swept group ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Every task returns `Ok` by itself.
    Succeed,
    /// One more task returns `Err`.
    Fail,
    /// `cancel()`.
    Cancel,
    /// The parent token, or the group's own token when it has no parent.
    CancelToken,
    /// The group is dropped.
    Drop,
}

#[derive(Debug, Clone)]
struct Case {
    fail_fast: bool,
    max_concurrency: Option<usize>,
    grace_period: Duration,
    parent: bool,
    /// One entry per task: whether it ignores the group's token.
    stubborn: Vec<bool>,
    ending: Ending,
}

fn grace_periods() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        Just(Duration::MAX),
        Just(Duration::new(u64::MAX, 0)),
        Just(Duration::from_secs(u64::MAX / 2)),
        (0..10_000_u64).prop_map(Duration::from_millis),
        (0..FOREVER_BOUND.as_secs() / 2).prop_map(Duration::from_secs),
        (FOREVER_BOUND.as_secs()..=u64::MAX, 0..1_000_000_000_u32)
            .prop_map(|(seconds, nanos)| Duration::new(seconds, nanos)),
    ]
}

fn limits() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        Just(None),
        Just(Some(0)),
        Just(Some(1)),
        Just(Some(usize::MAX)),
        (2..8_usize).prop_map(Some),
    ]
}

fn endings() -> impl Strategy<Value = Ending> {
    prop_oneof![
        Just(Ending::Succeed),
        Just(Ending::Fail),
        Just(Ending::Cancel),
        Just(Ending::CancelToken),
        Just(Ending::Drop),
    ]
}

fn cases() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        limits(),
        grace_periods(),
        any::<bool>(),
        prop::collection::vec(any::<bool>(), 0..5),
        endings(),
    )
        .prop_map(
            |(fail_fast, max_concurrency, grace_period, parent, stubborn, ending)| Case {
                fail_fast,
                max_concurrency,
                grace_period,
                parent,
                stubborn,
                ending,
            },
        )
}

fn run_case(case: Case) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(run_case_async(case));
}

async fn run_case_async(case: Case) {
    let parent = CancellationToken::new();
    let mut builder = TaskGroup::<usize, &'static str>::builder()
        .fail_fast(case.fail_fast)
        .grace_period(case.grace_period);
    if let Some(limit) = case.max_concurrency {
        builder = builder.max_concurrency(limit);
    }
    if case.parent {
        builder = builder.parent_token(&parent);
    }
    let group = match builder.build() {
        Ok(group) => group,
        Err(error) => {
            assert_eq!(case.max_concurrency, Some(0), "unexpected {error}");
            assert_eq!(error, BuildError::ZeroConcurrency);
            return;
        }
    };
    assert_ne!(case.max_concurrency, Some(0), "a limit of 0 was accepted");

    // The failing task goes first, so that a concurrency limit never keeps it queued.
    let failing = match case.ending {
        Ending::Fail => Some(
            group
                .spawn(async {
                    sleep(Duration::from_millis(1)).await;
                    Err("boom")
                })
                .unwrap(),
        ),
        _ => None,
    };
    let mut drops = DropCounter::new();
    for (index, &stubborn) in case.stubborn.iter().enumerate() {
        let guard = drops.guard();
        let token = group.token();
        let ending = case.ending;
        group
            .spawn(async move {
                let _guard = guard;
                if ending == Ending::Succeed {
                    sleep(Duration::from_millis(index as u64)).await;
                    return Ok(index);
                }
                if stubborn {
                    pending::<()>().await;
                }
                tokio::select! {
                    () = token.cancelled() => {}
                    () = sleep(Duration::from_secs(3600)) => {}
                }
                Ok(index)
            })
            .unwrap();
    }
    let tasks = case.stubborn.len();
    let any_stubborn = case.stubborn.iter().any(|stubborn| *stubborn);
    // Stubborn tasks hold up a cancelled group only when they were started: queued
    // tasks are dropped unpolled once the group cancels.
    let started_at_once = case
        .max_concurrency
        .unwrap_or(usize::MAX)
        .saturating_sub(usize::from(failing.is_some()));
    let blocking = case
        .stubborn
        .iter()
        .take(started_at_once)
        .any(|stubborn| *stubborn);

    let started = Instant::now();
    match case.ending {
        Ending::Succeed | Ending::Fail => {}
        Ending::Cancel => group.cancel(),
        Ending::CancelToken if case.parent => parent.cancel(),
        Ending::CancelToken => group.token().cancel(),
        Ending::Drop => {
            drop(group);
            drops.wait_for(tasks).await;
            return;
        }
    }

    let finite_grace = case.grace_period <= FOREVER_BOUND / 2;
    let must_finish = match case.ending {
        Ending::Succeed => true,
        Ending::Fail if !case.fail_fast => !any_stubborn,
        _ => !blocking || finite_grace,
    };
    let joined = timeout(FOREVER_BOUND, group.join()).await;
    let Ok(result) = joined else {
        assert!(!must_finish, "join did not finish for {case:?}");
        // The join future was dropped, which aborts every task.
        drops.wait_for(tasks).await;
        return;
    };
    assert!(
        must_finish,
        "join gave up on tasks within a forever grace period: {case:?}"
    );
    let elapsed = started.elapsed();
    if blocking && case.ending != Ending::Succeed {
        // Stubborn tasks are aborted once the grace period is over, not before.
        assert!(
            elapsed >= case.grace_period,
            "aborted after {elapsed:?}: {case:?}"
        );
        assert!(
            elapsed <= case.grace_period + Duration::from_secs(1),
            "aborted after {elapsed:?}: {case:?}"
        );
    }
    match case.ending {
        Ending::Succeed => assert_eq!(result.unwrap(), (0..tasks).collect::<Vec<_>>()),
        Ending::Fail => {
            let error = result.unwrap_err();
            assert!(!error.is_cancelled());
            assert!(
                error
                    .failures()
                    .iter()
                    .any(|(id, failure)| Some(*id) == failing
                        && matches!(failure, TaskError::Failed("boom")))
            );
        }
        Ending::Cancel | Ending::CancelToken => assert!(result.unwrap_err().is_cancelled()),
        Ending::Drop => unreachable!("handled above"),
    }
    drops.wait_for(tasks).await;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any combination of options either is refused by `build` or runs to its
    /// documented end: no panic, no overflow, no hang.
    #[test]
    fn every_builder_option_at_its_edges_builds_or_is_refused_and_never_hangs(case in cases()) {
        run_case(case);
    }
}
