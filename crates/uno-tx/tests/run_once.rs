//! `TransactionManager::run_once`: the `FnOnce` path, for closures that can only run
//! once, with the manager's options and without a retry.

#![cfg(feature = "sqlite")]

use std::time::Duration;

use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{SqliteConnection, SqlitePool};
use uno_tx::{Error, TransactionManager, transaction};

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

async fn insert(conn: &mut SqliteConnection, name: String) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO items (name) VALUES (?)")
        .bind(name)
        .execute(conn)
        .await
        .map(drop)
}

async fn names(pool: &SqlitePool) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM items ORDER BY name")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// An error type that knows nothing of uno-tx (no `AsSqlxError`), as a caller's own.
#[derive(Debug)]
struct Refused(&'static str);

#[tokio::test]
async fn run_once_commits_a_closure_that_moves_what_it_captured() {
    let pool = pool().await;
    let manager = TransactionManager::write(pool.clone());
    let name = String::from("owned");
    // `insert` takes the String by value: this closure is `FnOnce` only.
    manager
        .run_once(async move |conn| insert(conn, name).await)
        .await
        .unwrap();
    assert_eq!(names(&pool).await, ["owned"]);
}

#[tokio::test]
async fn run_once_rolls_back_on_err_with_an_error_type_of_the_callers_own() {
    let pool = pool().await;
    let manager = TransactionManager::write(pool.clone());
    let name = String::from("rolled back");
    let failed = manager
        .run_once(async move |conn| {
            insert(conn, name).await.map_err(|_| Refused("insert"))?;
            Err::<(), _>(Refused("on purpose"))
        })
        .await;
    assert!(matches!(failed, Err(Error::Aborted(Refused("on purpose")))));
    assert!(names(&pool).await.is_empty());
}

#[tokio::test]
async fn a_closure_that_works_with_transaction_works_with_run_once() {
    let pool = pool().await;
    let manager = TransactionManager::write(pool.clone());
    // The same closure shape, first with the free function, then moved to the manager.
    let first = String::from("a");
    transaction(&pool, async move |conn| {
        insert(conn, first).await.map_err(|_| Refused("insert"))
    })
    .await
    .unwrap();
    let second = String::from("b");
    manager
        .run_once(async move |conn| insert(conn, second).await.map_err(|_| Refused("insert")))
        .await
        .unwrap();
    assert_eq!(names(&pool).await, ["a", "b"]);
}

#[tokio::test]
async fn run_once_honours_the_managers_timeout() {
    let pool = pool().await;
    let manager = TransactionManager::builder(pool.clone())
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let name = String::from("late");
    let result = manager
        .run_once(async move |conn| {
            insert(conn, name).await?;
            std::future::pending::<()>().await;
            Ok::<_, sqlx::Error>(())
        })
        .await;
    match result {
        Err(Error::Timeout { limit }) => assert_eq!(limit, Duration::from_millis(50)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(names(&pool).await.is_empty());
}

#[tokio::test]
async fn run_once_future_is_send_and_runs_in_a_spawned_task() {
    let pool = pool().await;
    let manager = TransactionManager::write(pool.clone());
    let name = String::from("spawned");
    #[allow(clippy::disallowed_methods, reason = "checks the future is Send")]
    tokio::spawn(async move {
        manager
            .run_once(async move |conn| insert(conn, name).await)
            .await
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(names(&pool).await, ["spawned"]);
}
