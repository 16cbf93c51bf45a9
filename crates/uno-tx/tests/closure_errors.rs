//! Closures whose error is `Box<dyn Error + Send + Sync>` or anyhow-shaped: they run
//! under `transaction` and `TransactionManager::run` without any glue, commit on `Ok`
//! and roll back on `Err`.

#![cfg(feature = "sqlite")]

mod common;

use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{SqliteConnection, SqlitePool};
use uno_tx::{AsSqlxError, Error, TransactionManager, transaction};

use common::AnyhowLike;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
    sqlx::query_scalar("SELECT name FROM items ORDER BY name")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_boxed_error_closure_commits_on_ok_and_rolls_back_on_err() {
    let pool = pool().await;
    let manager = TransactionManager::write(pool.clone());

    manager
        .run(async |conn| -> Result<(), BoxError> {
            insert(conn, "run").await?;
            Ok(())
        })
        .await
        .unwrap();
    transaction(&pool, async |conn| -> Result<(), BoxError> {
        insert(conn, "transaction").await?;
        Ok(())
    })
    .await
    .unwrap();

    let failed = manager
        .run(async |conn| -> Result<(), BoxError> {
            insert(conn, "rolled back").await?;
            Err("the caller changed its mind".into())
        })
        .await;
    let Err(Error::Aborted(error)) = failed else {
        panic!("expected the closure's error, got {failed:?}");
    };
    assert_eq!(error.to_string(), "the caller changed its mind");
    assert!(error.as_sqlx_error().is_none());

    assert_eq!(names(&pool).await, ["run", "transaction"]);
}

#[tokio::test]
async fn an_anyhow_shaped_closure_commits_on_ok_and_rolls_back_on_err() {
    let pool = pool().await;
    let manager = TransactionManager::write(pool.clone());

    manager
        .run(async |conn| -> Result<(), AnyhowLike> {
            insert(conn, "run").await?;
            Ok(())
        })
        .await
        .unwrap();
    transaction(&pool, async |conn| -> Result<(), AnyhowLike> {
        insert(conn, "transaction").await?;
        Ok(())
    })
    .await
    .unwrap();

    // A query error turned into the anyhow-shaped error by `?`, with context on top.
    let failed = manager
        .run(async |conn| -> Result<(), AnyhowLike> {
            insert(conn, "rolled back").await?;
            sqlx::query("INSERT INTO missing VALUES (1)")
                .execute(&mut *conn)
                .await
                .map_err(|error| AnyhowLike::from(error).context("while filing"))?;
            Ok(())
        })
        .await;
    let Err(Error::Aborted(error)) = failed else {
        panic!("expected the closure's error, got {failed:?}");
    };
    assert_eq!(error.to_string(), "while filing");
    assert!(matches!(
        error.as_sqlx_error(),
        Some(sqlx::Error::Database(_))
    ));
    assert!(!Error::Aborted(error).is_retryable());

    assert_eq!(names(&pool).await, ["run", "transaction"]);
}

#[tokio::test]
async fn the_database_error_is_found_inside_boxed_and_anyhow_shaped_errors() {
    let boxed: BoxError = Box::new(sqlx::Error::RowNotFound);
    assert!(matches!(
        boxed.as_sqlx_error(),
        Some(sqlx::Error::RowNotFound)
    ));
    let wrapped = AnyhowLike::from(sqlx::Error::PoolTimedOut).context("outer");
    assert!(matches!(
        wrapped.as_sqlx_error(),
        Some(sqlx::Error::PoolTimedOut)
    ));
    // Through uno-tx's own error too, as a nested transaction's error would be.
    let nested: Error<AnyhowLike> = Error::Aborted(wrapped);
    assert!(matches!(
        nested.as_sqlx_error(),
        Some(sqlx::Error::PoolTimedOut)
    ));
    let unrelated = AnyhowLike::from(std::io::Error::other("disk full"));
    assert!(unrelated.as_sqlx_error().is_none());
}

#[tokio::test]
async fn a_real_anyhow_closure_commits_on_ok_rolls_back_on_err_and_keeps_the_database_error() {
    use anyhow::Context as _;
    let pool = pool().await;
    let manager = TransactionManager::write(pool.clone());

    manager
        .run(async |conn| -> anyhow::Result<()> {
            insert(conn, "run").await?;
            Ok(())
        })
        .await
        .unwrap();
    transaction(&pool, async |conn| -> anyhow::Result<()> {
        insert(conn, "transaction").await?;
        Ok(())
    })
    .await
    .unwrap();

    let failed = manager
        .run(async |conn| -> anyhow::Result<()> {
            insert(conn, "rolled back").await?;
            sqlx::query("INSERT INTO missing VALUES (1)")
                .execute(&mut *conn)
                .await
                .context("while filing")?;
            Ok(())
        })
        .await;
    let Err(Error::Aborted(error)) = failed else {
        panic!("expected the closure's error, got {failed:?}");
    };
    assert_eq!(error.to_string(), "while filing");
    assert!(matches!(
        error.as_sqlx_error(),
        Some(sqlx::Error::Database(_))
    ));
    assert_eq!(names(&pool).await, ["run", "transaction"]);
}
