//! Tasks inherit the deadline of the code that spawns them (uno-deadline), on paused
//! time: they see it, are cut short at it, and the group reports a deadline failure
//! that is told apart from an error.

use std::time::Duration;

use tokio::time::{Instant, sleep};
use uno_deadline::{current, within};
use uno_taskgroup::{TaskError, TaskGroup};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test(start_paused = true)]
async fn a_task_spawned_under_a_deadline_sees_it_and_is_cut_short_at_it() {
    let start = Instant::now();
    let group: TaskGroup<&str, std::io::Error> =
        TaskGroup::builder().fail_fast(false).build().unwrap();
    within(secs(2), async {
        group
            .spawn(async move {
                assert_eq!(current(), Some(start + secs(2)));
                sleep(secs(60)).await;
                Ok("slow")
            })
            .unwrap();
        group.spawn(async { Ok("quick") }).unwrap();
        group
            .spawn(async { Err(std::io::Error::other("broken")) })
            .unwrap();
    })
    .await
    .unwrap();
    // Joined outside the deadline: the slow task was stopped at 2 s, not 60 s.
    let failure = group.join().await.unwrap_err();
    assert_eq!(start.elapsed(), secs(2));
    let mut kinds: Vec<_> = failure
        .failures()
        .iter()
        .map(|(id, error)| {
            (
                id.as_u64(),
                error.is_deadline_passed(),
                error.failed().is_some(),
            )
        })
        .collect();
    kinds.sort_unstable();
    // Task 0 ran out of time; task 2 failed on its own: told apart.
    assert_eq!(kinds, [(0, true, false), (2, false, true)]);
    let (_, cut) = failure
        .failures()
        .iter()
        .find(|(_, e)| e.is_deadline_passed())
        .unwrap();
    let message = cut.to_string();
    assert!(message.contains("deadline"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn siblings_spawned_through_a_spawner_inherit_the_deadline_too() {
    let start = Instant::now();
    let group: TaskGroup<Option<Instant>, std::convert::Infallible> = TaskGroup::new();
    let spawner = group.spawner();
    within(secs(5), async {
        group
            .spawn(async move {
                // A task spawns a sibling: the sibling gets the task's deadline.
                spawner.spawn(async { Ok(current()) }).unwrap();
                Ok(current())
            })
            .unwrap();
    })
    .await
    .unwrap();
    let seen = group.join().await.unwrap();
    assert_eq!(seen, [Some(start + secs(5)), Some(start + secs(5))]);
}

#[tokio::test(start_paused = true)]
async fn queued_tasks_keep_the_deadline_of_their_spawn() {
    let start = Instant::now();
    let group: TaskGroup<u64, std::convert::Infallible> = TaskGroup::builder()
        .max_concurrency(1)
        .fail_fast(false)
        .build()
        .unwrap();
    within(secs(3), async {
        for n in 0..3 {
            group
                .spawn(async move {
                    sleep(secs(2)).await;
                    Ok(n)
                })
                .unwrap();
        }
    })
    .await
    .unwrap();
    // One at a time: the first ends at 2 s, the second is cut at 3 s, and the third
    // starts after its deadline and is stopped at its first poll.
    let failure = group.join().await.unwrap_err();
    let cut: Vec<_> = failure
        .failures()
        .iter()
        .map(|(id, error)| (id.as_u64(), matches!(error, TaskError::DeadlinePassed)))
        .collect();
    assert_eq!(cut, [(1, true), (2, true)]);
    assert_eq!(start.elapsed(), secs(3));
}

#[tokio::test(start_paused = true)]
async fn tasks_spawned_without_a_deadline_have_none() {
    let group: TaskGroup<Option<Instant>, std::convert::Infallible> = TaskGroup::new();
    group.spawn(async { Ok(current()) }).unwrap();
    assert_eq!(group.join().await.unwrap(), [None]);
}
