//! A shared retry budget stops retry storms and recovers as its window moves on.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use uno_retry::{RetryBudget, RetryPolicy};

fn failing_policy(budget: &RetryBudget, delay: Duration) -> RetryPolicy<String> {
    RetryPolicy::constant(delay)
        .max_attempts(100)
        .budget(budget.clone())
        .build()
        .unwrap()
}

async fn count_calls(policy: &RetryPolicy<String>) -> (u32, Result<(), String>) {
    let calls = AtomicU32::new(0);
    let result = policy
        .run(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            async move { Err(format!("failure {n}")) }
        })
        .await;
    (calls.load(Ordering::SeqCst), result)
}

#[tokio::test(start_paused = true)]
async fn a_spent_budget_fails_fast_with_the_last_error_and_recovers() {
    // A reserve of 1 retry per second over 10 s, nothing earned per call.
    let budget = RetryBudget::new(Duration::from_secs(10), 1, 0.0).unwrap();
    assert_eq!(budget.available(), 10);
    let policy = failing_policy(&budget, Duration::from_millis(10));

    let (calls, result) = count_calls(&policy).await;
    assert_eq!(
        calls, 11,
        "the first call and the ten retries of the reserve"
    );
    assert_eq!(result, Err("failure 11".to_owned()));
    assert_eq!(budget.available(), 0);

    let (calls, result) = count_calls(&policy).await;
    assert_eq!(
        (calls, result),
        (1, Err("failure 1".to_owned())),
        "fails fast"
    );

    // The withdrawals leave the window, and the budget is whole again.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(budget.available(), 10);
    let (calls, _) = count_calls(&policy).await;
    assert_eq!(calls, 11);
}

#[tokio::test(start_paused = true)]
async fn calls_earn_retries_at_the_ratio() {
    let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.25).unwrap();
    for _ in 0..8 {
        budget.deposit();
    }
    assert_eq!(budget.available(), 2);
    assert!(budget.try_withdraw());
    assert!(budget.try_withdraw());
    assert!(!budget.try_withdraw());
    assert_eq!(budget.available(), 0);
    assert_eq!(budget.ttl(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn entries_expire_a_slice_at_a_time() {
    let budget = RetryBudget::new(Duration::from_secs(10), 0, 1.0).unwrap();
    budget.deposit();
    tokio::time::sleep(Duration::from_secs(5)).await;
    budget.deposit();
    assert_eq!(budget.available(), 2);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(budget.available(), 1, "the first deposit left the window");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(budget.available(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_run_whose_retries_succeed_spends_only_what_it_used() {
    let budget = RetryBudget::new(Duration::from_secs(10), 1, 0.0).unwrap();
    let policy = failing_policy(&budget, Duration::from_millis(10));
    let calls = AtomicU32::new(0);
    let result = policy
        .run(|| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { if n < 3 { Err("no".to_owned()) } else { Ok(()) } }
        })
        .await;
    assert_eq!(result, Ok(()));
    assert_eq!(budget.available(), 7);
}

/// Many concurrent runs sharing one budget retry no more than it holds in total.
async fn concurrent_runs_share_the_budget() {
    let budget = RetryBudget::new(Duration::from_secs(60), 1, 0.0).unwrap();
    let policy = failing_policy(&budget, Duration::ZERO);
    let calls = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let policy = policy.clone();
        let calls = Arc::clone(&calls);
        tasks.push(tokio::spawn(async move {
            policy
                .run(|| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async { Err::<(), _>("down".to_owned()) }
                })
                .await
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap().is_err());
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        20 + 60,
        "20 first calls, 60 retries"
    );
    assert_eq!(budget.available(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_runs_share_the_budget_on_current_thread() {
    concurrent_runs_share_the_budget().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runs_share_the_budget_on_multi_thread() {
    concurrent_runs_share_the_budget().await;
}
