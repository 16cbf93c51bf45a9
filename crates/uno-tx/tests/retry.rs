//! Retry of serialization failures by a `TransactionManager` with a retry policy.

#![cfg(all(feature = "retry", feature = "sqlite"))]

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{SqliteConnection, SqlitePool};
use uno_retry::RetryPolicy;
use uno_tx::{Error, TransactionManager, is_retryable};

mod common;

/// A database error with a chosen SQLSTATE, standing in for a server's serialization
/// failure so that the attempts can be scripted.
#[derive(Debug)]
struct Sqlstate(&'static str);

impl std::fmt::Display for Sqlstate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "scripted failure {}", self.0)
    }
}

impl std::error::Error for Sqlstate {}

impl DatabaseError for Sqlstate {
    fn message(&self) -> &str {
        "scripted failure"
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(self.0))
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

fn serialization_failure() -> sqlx::Error {
    sqlx::Error::Database(Box::new(Sqlstate("40001")))
}

async fn pool() -> SqlitePool {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    sqlx::query("CREATE TABLE items (name TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    pool
}

async fn insert(conn: &mut SqliteConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO items (name) VALUES (?)")
        .bind(name)
        .execute(conn)
        .await
        .map(drop)
}

async fn names(pool: &SqlitePool) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM items")
        .fetch_all(pool)
        .await
        .unwrap()
}

fn retrying(pool: &SqlitePool, attempts: u32) -> TransactionManager<sqlx::Sqlite> {
    let policy = RetryPolicy::constant(Duration::from_millis(1))
        .max_attempts(attempts)
        .build()
        .unwrap();
    TransactionManager::builder(pool.clone())
        .retry(policy)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_serialization_failure_reruns_the_closure_in_a_new_transaction() {
    let pool = pool().await;
    let manager = retrying(&pool, 3);
    let attempts = AtomicU32::new(0);
    let value = manager
        .run(async |conn| {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            insert(conn, &format!("attempt {attempt}")).await?;
            if attempt == 1 {
                return Err(serialization_failure());
            }
            Ok(attempt)
        })
        .await
        .unwrap();
    assert_eq!(value, 2);
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    // The failed attempt's work was rolled back.
    assert_eq!(names(&pool).await, ["attempt 2"]);
}

#[tokio::test]
async fn other_errors_are_not_retried() {
    let pool = pool().await;
    let manager = retrying(&pool, 5);
    let attempts = AtomicU32::new(0);
    let result = manager
        .run(async |conn| {
            attempts.fetch_add(1, Ordering::SeqCst);
            insert(conn, "x").await?;
            Err::<(), _>(sqlx::Error::RowNotFound)
        })
        .await;
    assert!(matches!(
        result,
        Err(Error::Aborted(sqlx::Error::RowNotFound))
    ));
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert!(names(&pool).await.is_empty());
}

#[tokio::test]
async fn the_last_failure_comes_back_when_the_policy_gives_up() {
    let pool = pool().await;
    let manager = retrying(&pool, 3);
    let attempts = AtomicU32::new(0);
    let result = manager
        .run(async |conn| {
            attempts.fetch_add(1, Ordering::SeqCst);
            insert(conn, "x").await?;
            Err::<(), _>(sqlx::Error::Database(Box::new(Sqlstate("40P01"))))
        })
        .await;
    let error = result.unwrap_err();
    assert!(error.is_retryable(), "{error:?}");
    assert!(matches!(
        error.closure_error(),
        Some(sqlx::Error::Database(_))
    ));
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert!(names(&pool).await.is_empty());
}

#[tokio::test]
async fn without_a_policy_a_retryable_failure_returns_at_once() {
    let pool = pool().await;
    let manager = TransactionManager::write(pool.clone());
    let attempts = AtomicU32::new(0);
    let result = manager
        .run(async |_conn| {
            attempts.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(serialization_failure())
        })
        .await;
    assert!(result.unwrap_err().is_retryable());
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_custom_error_type_is_classified_through_as_sqlx_error() {
    #[derive(Debug)]
    enum AppError {
        Database(sqlx::Error),
    }

    impl uno_tx::AsSqlxError for AppError {
        fn as_sqlx_error(&self) -> Option<&sqlx::Error> {
            match self {
                AppError::Database(error) => Some(error),
            }
        }
    }

    let pool = pool().await;
    let manager = retrying(&pool, 4);
    let attempts = AtomicU32::new(0);
    manager
        .run(async |conn| {
            if attempts.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(AppError::Database(serialization_failure()));
            }
            insert(conn, "done").await.map_err(AppError::Database)
        })
        .await
        .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(names(&pool).await, ["done"]);
}

#[tokio::test]
async fn cancelling_a_retrying_run_stops_it() {
    // A file: cancelling inside a query makes sqlx replace the connection, which for
    // an in-memory database would be a new, empty one.
    let db = common::TempDb::new("retry_cancel");
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&db.url())
        .await
        .unwrap();
    sqlx::query("CREATE TABLE items (name TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let policy = RetryPolicy::constant(Duration::from_secs(3600))
        .max_attempts(10)
        .build()
        .unwrap();
    let manager = TransactionManager::builder(pool.clone())
        .retry(policy)
        .build()
        .unwrap();
    let attempts = AtomicU32::new(0);
    let run = manager.run(async |conn| {
        attempts.fetch_add(1, Ordering::SeqCst);
        insert(conn, "x").await?;
        Err::<(), _>(serialization_failure())
    });
    // The first attempt fails at once and the next would start an hour later; the run
    // is dropped in between (or, on a very slow machine, during the first attempt).
    let cancelled = tokio::time::timeout(Duration::from_millis(300), run).await;
    assert!(cancelled.is_err());
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert!(names(&pool).await.is_empty());
    pool.close().await;
}

#[test]
fn scripted_failures_are_what_is_retryable_classifies() {
    assert!(is_retryable(&serialization_failure()));
    assert!(!is_retryable(&sqlx::Error::Database(Box::new(Sqlstate(
        "23505"
    )))));
}

/// A retrying run under a deadline never sleeps past it: when the next attempt could
/// only start after the deadline, it stops with the last attempt's error.
#[tokio::test]
async fn a_retrying_run_never_sleeps_past_the_deadline() {
    let pool = pool().await;
    let policy = RetryPolicy::constant(Duration::from_secs(3600))
        .max_attempts(5)
        .build()
        .unwrap();
    let manager = TransactionManager::builder(pool.clone())
        .retry(policy)
        .build()
        .unwrap();
    let attempts = AtomicU32::new(0);
    let outcome = uno_deadline::within(
        Duration::from_millis(200),
        manager.run(async |conn| {
            attempts.fetch_add(1, Ordering::SeqCst);
            insert(conn, "conflicted").await?;
            Err::<(), _>(serialization_failure())
        }),
    )
    .await;
    let Ok(Err(error)) = outcome else {
        panic!("expected the last attempt's error, got {outcome:?}");
    };
    assert!(error.is_retryable(), "{error:?}");
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert_eq!(names(&pool).await, Vec::<String>::new());
}

/// An attempt the deadline cuts short reports the deadline, and no attempt follows.
#[tokio::test]
async fn a_retrying_run_stops_at_the_deadline_inside_an_attempt() {
    let pool = pool().await;
    let manager = retrying(&pool, 5);
    let attempts = AtomicU32::new(0);
    let outcome = uno_deadline::within(
        Duration::from_millis(200),
        manager.run(async |conn| {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            insert(conn, &format!("attempt {attempt}")).await?;
            if attempt == 1 {
                return Err(serialization_failure());
            }
            std::future::pending::<()>().await;
            Ok(())
        }),
    )
    .await;
    assert!(
        matches!(outcome, Ok(Err(Error::DeadlinePassed { .. }))),
        "{outcome:?}"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(names(&pool).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_serialization_failure_inside_a_boxed_error_is_retried() {
    let pool = pool().await;
    let manager = retrying(&pool, 3);
    let attempts = AtomicU32::new(0);
    manager
        .run(
            async |conn| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
                if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(serialization_failure().into());
                }
                insert(conn, "done").await?;
                Ok(())
            },
        )
        .await
        .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(names(&pool).await, ["done"]);
}

#[tokio::test]
async fn a_serialization_failure_inside_an_anyhow_shaped_error_with_context_is_retried() {
    let pool = pool().await;
    let manager = retrying(&pool, 3);
    let attempts = AtomicU32::new(0);
    manager
        .run(async |conn| -> Result<(), common::AnyhowLike> {
            if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                return Err(
                    common::AnyhowLike::from(serialization_failure()).context("moving funds")
                );
            }
            insert(conn, "done").await?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(names(&pool).await, ["done"]);

    // Other errors in the same shape are not retried.
    let other = manager
        .run(async |_conn| -> Result<(), common::AnyhowLike> {
            Err(std::io::Error::other("disk full").into())
        })
        .await;
    assert!(matches!(other, Err(Error::Aborted(_))));
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn run_once_never_retries_even_with_a_policy() {
    let pool = pool().await;
    let manager = retrying(&pool, 5);
    let attempts = AtomicU32::new(0);
    let name = String::from("once");
    let attempts_ref = &attempts;
    let result = manager
        .run_once(async move |conn| {
            attempts_ref.fetch_add(1, Ordering::SeqCst);
            insert(conn, &name).await?;
            drop(name);
            Err::<(), _>(serialization_failure())
        })
        .await;
    let Err(error) = result else {
        panic!("the scripted failure was swallowed");
    };
    assert!(
        error.is_retryable(),
        "still reported as retryable: {error:?}"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert!(names(&pool).await.is_empty());
}

/// The `metrics` feature: every attempt is counted by how it ended, and retries apart.
#[cfg(feature = "metrics")]
#[test]
fn attempts_by_outcome_and_retries_are_counted() {
    let ((), metrics) = uno_testkit::metrics::recorded(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let pool = pool().await;
                let manager = retrying(&pool, 3);
                // A serialization failure, then a commit: two attempts, one retry.
                let attempts = AtomicU32::new(0);
                manager
                    .run(async |conn| {
                        insert(conn, "x").await?;
                        match attempts.fetch_add(1, Ordering::SeqCst) {
                            0 => Err(serialization_failure()),
                            _ => Ok(()),
                        }
                    })
                    .await
                    .unwrap();
                // An error that is not retried: one attempt, rolled back.
                let failed = manager
                    .run(async |_conn| Err::<(), _>(sqlx::Error::RowNotFound))
                    .await;
                assert!(failed.is_err());
            });
    });
    let attempts = |outcome: &str| {
        metrics.counter(&format!(
            "uno_tx_attempts_total{{backend=SQLite,outcome={outcome}}}"
        ))
    };
    assert_eq!((attempts("committed"), attempts("rolled_back")), (1, 2));
    assert_eq!(metrics.counter("uno_tx_retries_total{backend=SQLite}"), 1);
}
