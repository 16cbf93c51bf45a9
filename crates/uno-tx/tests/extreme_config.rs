//! Every `TransactionManager` option at the edges of its type: building and running
//! never panics, overflows or hangs.

#![cfg(feature = "sqlite")]

use std::time::Duration;

use proptest::prelude::*;
use sqlx::SqlitePool;
use uno_tx::{BuildError, Error, TransactionManager};

async fn memory_pool() -> SqlitePool {
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap()
}

/// Runs one transaction under a manager with `timeout`. Real time: SQLite's pool waits
/// for its worker thread, which paused time would turn into a pool timeout; every
/// timeout here is at least a second, far longer than the transaction.
/// Builds a manager with `timeout` (the outer result) and runs `SELECT 1` on it (the
/// inner one).
fn run_with_timeout(timeout: Duration) -> Result<Result<i64, Error>, BuildError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let manager = TransactionManager::builder(memory_pool().await)
            .timeout(timeout)
            .build()?;
        Ok(manager
            .run(async |conn| {
                sqlx::query_scalar::<_, i64>("SELECT 1")
                    .fetch_one(&mut *conn)
                    .await
            })
            .await)
    })
}

/// The attack: `timeout(Duration::MAX)` built, then every `run` panicked with
/// "overflow when adding duration to instant".
#[test]
fn a_timeout_of_duration_max_means_no_limit() {
    assert_eq!(run_with_timeout(Duration::MAX).unwrap().unwrap(), 1);
}

#[test]
fn a_zero_timeout_is_refused_at_build() {
    assert_eq!(
        run_with_timeout(Duration::ZERO).unwrap_err(),
        BuildError::ZeroTimeout
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any positive timeout builds, and a quick transaction under it commits.
    #[test]
    fn any_positive_timeout_builds_and_runs(
        seconds in prop_oneof![Just(u64::MAX), Just(u64::MAX / 2), 1..u64::MAX, 1..1_000_u64],
        nanos in 0..1_000_000_000_u32,
    ) {
        let timeout = Duration::new(seconds, nanos);
        prop_assert_eq!(run_with_timeout(timeout).unwrap().unwrap(), 1);
    }
}
