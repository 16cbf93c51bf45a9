//! Behaviour of transactions on a real MySQL or MariaDB server.

#![cfg(feature = "mysql")]

mod common;

use sqlx::mysql::MySqlPoolOptions;
use sqlx::{Connection, MySqlConnection, MySqlPool};
use uno_testkit::{Server, server_url};
use uno_tx::{
    AccessMode, BeginMode, BuildError, Error, IsolationLevel, TransactionManager, is_retryable,
    transaction,
};

use common::{poll_then_drop, unique};

struct Fixture {
    pool: MySqlPool,
    table: String,
    url: String,
}

impl Fixture {
    table_fixture_methods!(MySqlConnection, "?");

    async fn new(max_connections: u32) -> Option<Self> {
        let url = server_url(Server::MySql)?;
        // A connection the pool never gets back fails the test in seconds, not 30.
        let pool = MySqlPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(&url)
            .await
            .unwrap();
        let table = unique("uno_tx_items");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {table} (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL) ENGINE = InnoDB"
        )))
        .execute(&pool)
        .await
        .unwrap();
        Some(Fixture { pool, table, url })
    }
}

savepoint_abandonment_tests!(Fixture::new(1).await, lost_after_release = true);

#[tokio::test]
async fn commit_rollback_and_savepoints() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    transaction(&fx.pool, async |conn| {
        fx.insert(conn, "outer").await?;
        let inner = transaction(&mut *conn, async |conn| {
            fx.insert(conn, "inner").await?;
            Err::<(), _>(sqlx::Error::RowNotFound)
        })
        .await;
        assert!(inner.is_err());
        Ok::<_, sqlx::Error>(())
    })
    .await
    .unwrap();
    let failed = transaction(&fx.pool, async |conn| {
        fx.insert(conn, "undone").await?;
        Err::<(), _>(sqlx::Error::RowNotFound)
    })
    .await;
    assert!(matches!(
        failed,
        Err(Error::Aborted(sqlx::Error::RowNotFound))
    ));
    assert_eq!(fx.count().await, 1);
    fx.drop_table().await;
}

#[tokio::test]
async fn cancellation_and_dropped_guards_roll_back() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    let manager = TransactionManager::write(fx.pool.clone());
    let mut tx = manager.begin().await.unwrap();
    fx.insert(&mut tx, "dropped").await.unwrap();
    drop(tx);
    let mut leaked = Vec::new();
    for round in 0..120 {
        let polls = round % 6 + 1;
        if round % 3 == 0 {
            // Cancelled anywhere: acquiring, BEGIN, in the middle of an INSERT (after
            // which sqlx 0.9 can hang releasing a MySQL connection, so uno-tx closes
            // it) or in COMMIT (which may still commit, but whole).
            let work = transaction(&fx.pool, async |conn| {
                fx.insert(conn, "cancelled").await?;
                tokio::task::yield_now().await;
                fx.insert(conn, "cancelled").await
            });
            if poll_then_drop(work, polls).await.is_some() {
                sqlx::raw_sql(fx.sql("DELETE FROM {table}"))
                    .execute(&fx.pool)
                    .await
                    .unwrap();
            }
        } else if round % 3 == 1 {
            poll_then_drop(manager.begin(), polls).await;
        } else {
            // A cancellation timed by the clock, which can land anywhere in BEGIN.
            let _ = tokio::time::timeout(
                std::time::Duration::from_micros(30 * (round as u64 % 11)),
                manager.begin(),
            )
            .await;
        }
        // The pool's only connection, once back, must be outside any transaction
        // (sqlx issue 4385 left it inside one when BEGIN was cancelled).
        let mut conn = fx.pool.acquire().await.unwrap();
        let open: u64 = sqlx::query_scalar("SELECT @@in_transaction")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        if open != 0 {
            leaked.push(round);
        }
    }
    assert_eq!(
        leaked,
        [] as [usize; 0],
        "rounds that left a transaction open"
    );
    // A cancellation that lands while COMMIT is in flight may still commit, but never
    // half a transaction.
    assert_eq!(fx.count().await % 2, 0, "half a transaction was committed");
    fx.drop_table().await;
}

#[tokio::test]
async fn cancellation_mid_body_rolls_back() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    let fixture = &fx;
    let (reached, reached_rx) = tokio::sync::oneshot::channel();
    let work = transaction(&fx.pool, async move |conn| {
        fixture.insert(conn, "undone").await?;
        reached.send(()).unwrap();
        std::future::pending::<()>().await;
        Ok::<_, sqlx::Error>(())
    });
    tokio::select! {
        _ = work => panic!("the body never finishes"),
        _ = reached_rx => {}
    }
    let mut conn = fx.pool.acquire().await.unwrap();
    let open: u64 = sqlx::query_scalar("SELECT @@in_transaction")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(
        open, 0,
        "the pool's connection is still inside the transaction"
    );
    drop(conn);
    assert_eq!(fx.count().await, 0);
    fx.drop_table().await;
}

#[tokio::test]
async fn isolation_levels_and_read_only_reach_the_server() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    for level in [
        IsolationLevel::ReadUncommitted,
        IsolationLevel::ReadCommitted,
        IsolationLevel::RepeatableRead,
        IsolationLevel::Serializable,
    ] {
        let manager = TransactionManager::builder(fx.pool.clone())
            .isolation_level(level)
            .access_mode(AccessMode::ReadWrite)
            .build()
            .unwrap();
        let seen = manager
            .run(async |conn| observed_level(&fx, conn).await)
            .await
            .unwrap();
        assert_eq!(seen, level);
        sqlx::raw_sql(fx.sql("DELETE FROM {table}"))
            .execute(&fx.pool)
            .await
            .unwrap();
    }
    let reader = TransactionManager::read_only(fx.pool.clone());
    let refused = reader.run(async |conn| fx.insert(conn, "no").await).await;
    let Err(Error::Aborted(sqlx::Error::Database(error))) = refused else {
        panic!("a read-only transaction wrote: {refused:?}");
    };
    assert_eq!(error.code().as_deref(), Some("25006"));
    let built = TransactionManager::builder(fx.pool.clone())
        .begin_mode(BeginMode::Immediate)
        .build();
    assert!(
        matches!(
            built,
            Err(BuildError::Unsupported {
                backend: "MySQL",
                ..
            })
        ),
        "{built:?}"
    );
    fx.drop_table().await;
}

/// Tells the isolation level of the transaction on `conn` from what it sees while other
/// sessions write (MariaDB does not report the level of a running transaction
/// reliably).
async fn observed_level(
    fx: &Fixture,
    conn: &mut MySqlConnection,
) -> Result<IsolationLevel, sqlx::Error> {
    let count = "SELECT COUNT(*) FROM {table}";
    let before: i64 = sqlx::query_scalar(fx.sql(count))
        .fetch_one(&mut *conn)
        .await?;
    let mut committer = MySqlConnection::connect(&fx.url).await?;
    let mut dirty = MySqlConnection::connect(&fx.url).await?;
    for other in [&mut committer, &mut dirty] {
        sqlx::query("SET SESSION innodb_lock_wait_timeout = 1")
            .execute(&mut *other)
            .await?;
    }
    // SERIALIZABLE turns the read above into a locking read, so this insert waits.
    let committed = fx.insert(&mut committer, "committed").await;
    if let Err(error) = committed {
        assert!(is_retryable(&error), "{error:?}");
        return Ok(IsolationLevel::Serializable);
    }
    let mut uncommitted = dirty.begin().await?;
    fx.insert(&mut uncommitted, "dirty").await?;
    let after: i64 = sqlx::query_scalar(fx.sql(count))
        .fetch_one(&mut *conn)
        .await?;
    uncommitted.rollback().await?;
    Ok(match after - before {
        2 => IsolationLevel::ReadUncommitted,
        1 => IsolationLevel::ReadCommitted,
        _ => IsolationLevel::RepeatableRead,
    })
}

#[tokio::test]
async fn a_deadlock_is_retryable() {
    let Some(fx) = Fixture::new(2).await else {
        return;
    };
    fx.insert(&mut fx.pool.acquire().await.unwrap(), "a")
        .await
        .unwrap();
    fx.insert(&mut fx.pool.acquire().await.unwrap(), "b")
        .await
        .unwrap();
    let manager = TransactionManager::write(fx.pool.clone());
    let mut first = manager.begin().await.unwrap();
    let mut second = manager.begin().await.unwrap();
    let update = "UPDATE {table} SET name = CONCAT(name, '!') WHERE id = ?";
    sqlx::query(fx.sql(update))
        .bind(1)
        .execute(&mut *first)
        .await
        .unwrap();
    sqlx::query(fx.sql(update))
        .bind(2)
        .execute(&mut *second)
        .await
        .unwrap();
    // Each now waits for the other's row: the server kills one with error 1213.
    let (a, b) = tokio::join!(
        sqlx::query(fx.sql(update)).bind(2).execute(&mut *first),
        sqlx::query(fx.sql(update)).bind(1).execute(&mut *second),
    );
    let error = match (a, b) {
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => error,
        other => panic!("expected exactly one deadlock victim, got {other:?}"),
    };
    assert!(is_retryable(&error), "{error:?}");
    drop((first, second));
    fx.drop_table().await;
}
