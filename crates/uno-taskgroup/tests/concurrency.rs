//! `max_concurrency`: a cap on how many task bodies run at once.

mod support;

use std::convert::Infallible;
use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::{DropCounter, Flag, Rng, within};
use tokio::time::sleep;
use uno_taskgroup::{BuildError, TaskGroup};

/// Spawns `tasks` tasks with random delays into a group capped at `limit` and returns
/// the largest number of task bodies that ever ran at once.
async fn peak_concurrency(limit: usize, tasks: u64, max_delay_micros: u64) -> usize {
    let group = TaskGroup::<u64, Infallible>::builder()
        .max_concurrency(limit)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut rng = Rng::new(0x5eed + tasks);
    for n in 0..tasks {
        let delay = Duration::from_micros(rng.below(max_delay_micros));
        let running = Arc::clone(&running);
        let peak = Arc::clone(&peak);
        group
            .spawn(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                if delay.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    sleep(delay).await;
                }
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(n)
            })
            .unwrap();
    }
    let results = group.join().await.unwrap();
    assert_eq!(results, (0..tasks).collect::<Vec<_>>());
    peak.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn max_concurrency_is_never_exceeded_current_thread() {
    for limit in [1, 3, 16] {
        let peak = peak_concurrency(limit, 3000, 5_000).await;
        assert_eq!(peak, limit, "the cap is reached but never exceeded");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn max_concurrency_is_never_exceeded_multi_thread() {
    for limit in [1, 3, 16] {
        let peak = peak_concurrency(limit, 3000, 500).await;
        assert!(
            peak <= limit,
            "{peak} task bodies ran at once with a limit of {limit}"
        );
        assert!(peak >= 1);
    }
}

#[test]
fn zero_max_concurrency_is_rejected_at_build() {
    let error = TaskGroup::<(), Infallible>::builder()
        .max_concurrency(0)
        .build()
        .unwrap_err();
    assert_eq!(error, BuildError::ZeroConcurrency);
    assert_eq!(
        error.to_string(),
        "max_concurrency must be at least 1; a limit of 0 would never run a task"
    );
    assert!(
        TaskGroup::<(), Infallible>::builder()
            .max_concurrency(usize::MAX)
            .build()
            .is_ok()
    );
}

#[tokio::test(start_paused = true)]
async fn tasks_waiting_for_their_turn_never_start_once_the_group_is_cancelled() {
    let drops = DropCounter::new();
    let started = Flag::default();
    let group = TaskGroup::<(), &str>::builder()
        .max_concurrency(1)
        .grace_period(Duration::from_secs(1))
        .build()
        .unwrap();
    let token = group.token();
    group
        .spawn(async move {
            sleep(Duration::from_millis(10)).await;
            // Cancel the group, then keep the only slot busy until the grace period ends.
            token.cancel();
            pending::<()>().await;
            Ok(())
        })
        .unwrap();
    for _ in 0..5 {
        let guard = drops.guard();
        let started = started.clone();
        group
            .spawn(async move {
                let _guard = guard;
                started.set();
                Ok(())
            })
            .unwrap();
    }
    let error = within(group.join()).await.unwrap_err();
    assert!(error.is_cancelled());
    assert_eq!(drops.dropped(), 5);
    assert!(!started.is_set());
}

#[tokio::test(start_paused = true)]
async fn waiting_tasks_start_in_spawn_order_as_slots_free_up() {
    let group = TaskGroup::<u32, Infallible>::builder()
        .max_concurrency(2)
        .build()
        .unwrap();
    let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
    for n in 0..6 {
        let starts = Arc::clone(&starts);
        group
            .spawn(async move {
                starts.lock().unwrap().push(n);
                sleep(Duration::from_millis(10 * u64::from(6 - n))).await;
                Ok(n)
            })
            .unwrap();
    }
    assert_eq!(group.join().await.unwrap(), [0, 1, 2, 3, 4, 5]);
    assert_eq!(*starts.lock().unwrap(), [0, 1, 2, 3, 4, 5]);
}

#[tokio::test(start_paused = true)]
async fn tasks_beyond_the_limit_are_not_spawned_until_a_slot_frees_up() {
    let group = TaskGroup::<(), Infallible>::builder()
        .max_concurrency(4)
        .build()
        .unwrap();
    for _ in 0..100 {
        group
            .spawn(async {
                sleep(Duration::from_millis(10)).await;
                Ok(())
            })
            .unwrap();
    }
    assert_eq!(group.len(), 100);
    let metrics = tokio::runtime::Handle::current().metrics();
    assert_eq!(
        metrics.num_alive_tasks(),
        4,
        "only the running tasks exist as tokio tasks"
    );
    assert_eq!(within(group.join()).await.unwrap().len(), 100);
}

#[tokio::test(start_paused = true)]
async fn aborting_a_queued_task_drops_it_unpolled() {
    let drops = DropCounter::new();
    let polled = Flag::default();
    let group = TaskGroup::<u32, Infallible>::builder()
        .max_concurrency(1)
        .build()
        .unwrap();
    group
        .spawn(async {
            sleep(Duration::from_millis(10)).await;
            Ok(1)
        })
        .unwrap();
    let guard = drops.guard();
    let flag = polled.clone();
    let queued = group
        .spawn(async move {
            let _guard = guard;
            flag.set();
            Ok(2)
        })
        .unwrap();
    group.spawn(async { Ok(3) }).unwrap();

    assert!(group.abort(queued));
    assert_eq!(drops.dropped(), 1);
    assert_eq!(within(group.join()).await.unwrap(), [1, 3]);
    assert!(!polled.is_set());
}

async fn dropping_a_capped_group_drops_its_queued_tasks_unpolled() {
    let mut drops = DropCounter::new();
    let polled = Flag::default();
    let group = TaskGroup::<(), Infallible>::builder()
        .max_concurrency(2)
        .build()
        .unwrap();
    for _ in 0..50 {
        let guard = drops.guard();
        let polled = polled.clone();
        group
            .spawn(async move {
                let _guard = guard;
                sleep(Duration::from_millis(20)).await;
                polled.set();
                Ok(())
            })
            .unwrap();
    }
    tokio::task::yield_now().await;
    drop(group);
    drops.wait_for(50).await;
    sleep(Duration::from_millis(50)).await;
    assert!(!polled.is_set());
}

#[tokio::test(start_paused = true)]
async fn dropping_a_capped_group_drops_its_queued_tasks_unpolled_current_thread() {
    dropping_a_capped_group_drops_its_queued_tasks_unpolled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_a_capped_group_drops_its_queued_tasks_unpolled_multi_thread() {
    dropping_a_capped_group_drops_its_queued_tasks_unpolled().await;
}

#[test]
fn a_runtime_shutting_down_under_a_long_queue_drops_every_task() {
    // Each task the shutting-down runtime drops frees a slot for the next queued one,
    // whose spawn is then dropped at once: this must loop, not recurse.
    const TASKS: usize = 100_000;
    let drops = DropCounter::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let group = TaskGroup::<(), Infallible>::builder()
        .max_concurrency(1)
        .build()
        .unwrap();
    runtime.block_on(async {
        for _ in 0..TASKS {
            let guard = drops.guard();
            group
                .spawn(async move {
                    let _guard = guard;
                    pending::<()>().await;
                    Ok(())
                })
                .unwrap();
        }
    });
    drop(runtime);
    assert_eq!(drops.dropped(), TASKS);
    assert!(group.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_tasks_start_in_spawn_order_multi_thread() {
    let group = TaskGroup::<u32, Infallible>::builder()
        .max_concurrency(1)
        .build()
        .unwrap();
    let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
    for n in 0..500 {
        let starts = Arc::clone(&starts);
        group
            .spawn(async move {
                starts.lock().unwrap().push(n);
                tokio::task::yield_now().await;
                Ok(n)
            })
            .unwrap();
    }
    assert_eq!(
        within(group.join()).await.unwrap(),
        (0..500).collect::<Vec<_>>()
    );
    assert_eq!(*starts.lock().unwrap(), (0..500).collect::<Vec<_>>());
}
