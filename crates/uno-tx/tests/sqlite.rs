//! Behaviour of transactions on SQLite, in memory and in files.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]
#![cfg(feature = "sqlite")]

mod common;

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Connection, SqliteConnection, SqlitePool};
use uno_tx::{
    AccessMode, BeginMode, BuildError, Error, IsolationLevel, TransactionManager, is_retryable,
    transaction,
};

use common::{TempDb, poll_then_drop};

/// A pool of one in-memory connection: every transaction sees the same database, and a
/// connection left inside a transaction would make the next `BEGIN` fail.
async fn memory_pool() -> SqlitePool {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    pool
}

async fn count(pool: &SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM items")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn insert(conn: &mut SqliteConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO items (name) VALUES (?)")
        .bind(name)
        .execute(conn)
        .await
        .map(drop)
}

/// A one-connection pool on a database file (which outlives a connection the pool
/// closes), shaped like the server backends' fixtures for the shared tests.
struct Fixture {
    pool: SqlitePool,
    _file: TempDb,
}

impl Fixture {
    async fn new() -> Option<Self> {
        let file = TempDb::new("uno_tx_abandon");
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect(&file.url())
            .await
            .unwrap();
        sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        Some(Fixture { pool, _file: file })
    }

    async fn insert(&self, conn: &mut SqliteConnection, name: &str) -> Result<(), sqlx::Error> {
        insert(conn, name).await
    }

    async fn names(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT name FROM items ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    async fn drop_table(self) {
        self.pool.close().await;
    }
}

savepoint_abandonment_tests!(Fixture::new().await, lost_after_release = false);

#[tokio::test]
async fn ok_commits() {
    let pool = memory_pool().await;
    let value = transaction(&pool, async |conn| {
        insert(conn, "a").await?;
        insert(conn, "b").await?;
        Ok::<_, sqlx::Error>(7)
    })
    .await
    .unwrap();
    assert_eq!(value, 7);
    assert_eq!(count(&pool).await, 2);
}

#[tokio::test]
async fn err_rolls_back_and_returns_the_callers_error() {
    #[derive(Debug, PartialEq)]
    struct Refused;

    let pool = memory_pool().await;
    let result = transaction(&pool, async |conn| {
        insert(conn, "a").await.unwrap();
        Err::<(), _>(Refused)
    })
    .await;
    match result {
        Err(Error::Aborted(Refused)) => {}
        other => panic!("expected Aborted(Refused), got {other:?}"),
    }
    assert_eq!(count(&pool).await, 0);
}

#[tokio::test]
async fn panic_rolls_back_then_resumes() {
    let pool = memory_pool().await;
    let pool_in_task = pool.clone();
    let joined = tokio::spawn(async move {
        transaction(&pool_in_task, async |conn| {
            insert(conn, "a").await.unwrap();
            panic!("boom inside the transaction");
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        })
        .await
    })
    .await;
    let panic = joined.expect_err("the panic must resume").into_panic();
    assert_eq!(
        panic.downcast_ref::<&str>(),
        Some(&"boom inside the transaction")
    );
    assert_eq!(count(&pool).await, 0);
}

#[tokio::test]
async fn cancellation_mid_body_rolls_back() {
    let pool = memory_pool().await;
    let (reached, reached_rx) = tokio::sync::oneshot::channel();
    let work = transaction(&pool, async move |conn| {
        insert(conn, "a").await?;
        reached.send(()).unwrap();
        std::future::pending::<()>().await;
        Ok::<_, sqlx::Error>(())
    });
    tokio::select! {
        _ = work => panic!("the body never finishes"),
        _ = reached_rx => {}
    }
    // The only connection went back to the pool after its rollback: the insert is gone
    // and a new transaction can begin on it.
    assert_eq!(count(&pool).await, 0);
    transaction(&pool, async |conn| insert(conn, "b").await)
        .await
        .unwrap();
    assert_eq!(count(&pool).await, 1);
}

#[tokio::test]
async fn cancellation_at_any_poll_leaves_no_open_transaction() {
    // A file, not `sqlite::memory:`: sqlx closes a connection whose query was
    // cancelled, and a replaced in-memory connection would start from an empty
    // database (raw sqlx does the same).
    let db = TempDb::new("cancel");
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&db.url())
        .await
        .unwrap();
    sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    for polls in 0..12 {
        let work = transaction(&pool, async |conn| {
            insert(conn, "cancelled").await?;
            tokio::task::yield_now().await;
            insert(conn, "cancelled").await
        });
        if poll_then_drop(work, polls).await.is_some() {
            sqlx::query("DELETE FROM items")
                .execute(&pool)
                .await
                .unwrap();
        }
    }
    // A connection left in a transaction would make this BEGIN fail.
    transaction(&pool, async |conn| insert(conn, "after").await)
        .await
        .unwrap();
    // A cancellation that lands while COMMIT is in flight may still commit, but never
    // half a transaction.
    assert_eq!(
        count(&pool).await % 2,
        1,
        "half a transaction was committed"
    );
    pool.close().await;
}

#[tokio::test]
async fn savepoint_rollback_keeps_the_outer_work() {
    let pool = memory_pool().await;
    transaction(&pool, async |conn| {
        insert(conn, "outer").await?;
        let inner = transaction(&mut *conn, async |conn| {
            insert(conn, "inner").await?;
            Err::<(), _>(sqlx::Error::RowNotFound)
        })
        .await;
        assert!(matches!(
            inner,
            Err(Error::Aborted(sqlx::Error::RowNotFound))
        ));
        transaction(&mut *conn, async |conn| insert(conn, "kept").await)
            .await
            .map_err(|error| sqlx::Error::Protocol(error.to_string()))?;
        Ok::<_, sqlx::Error>(())
    })
    .await
    .unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(names, ["outer", "kept"]);
}

#[tokio::test]
async fn transaction_on_a_lent_connection_and_on_a_sqlx_transaction() {
    let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
    sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();
    transaction(&mut conn, async |conn| insert(conn, "a").await)
        .await
        .unwrap();
    let mut outer = conn.begin().await.unwrap();
    transaction(&mut outer, async |conn| insert(conn, "b").await)
        .await
        .unwrap();
    outer.rollback().await.unwrap();
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM items")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(total, 1, "the savepoint went with the outer rollback");
}

#[tokio::test]
async fn tx_guard_dropped_without_commit_rolls_back() {
    let pool = memory_pool().await;
    let manager = TransactionManager::write(pool.clone());
    let mut tx = manager.begin().await.unwrap();
    insert(&mut tx, "dropped").await.unwrap();
    drop(tx);
    assert_eq!(count(&pool).await, 0);

    let mut tx = manager.begin().await.unwrap();
    insert(&mut tx, "kept").await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = manager.begin().await.unwrap();
    insert(&mut tx, "rolled back").await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(count(&pool).await, 1);
}

#[tokio::test]
async fn savepoint_inside_a_tx_guard() {
    let pool = memory_pool().await;
    let manager = TransactionManager::write(pool.clone());
    let mut tx = manager.begin().await.unwrap();
    insert(&mut tx, "outer").await.unwrap();
    let inner = transaction(&mut tx, async |conn| {
        insert(conn, "inner").await?;
        Err::<(), _>(sqlx::Error::RowNotFound)
    })
    .await;
    assert!(inner.is_err());
    tx.commit().await.unwrap();
    assert_eq!(count(&pool).await, 1);
}

#[tokio::test]
async fn manager_run_commits_and_rolls_back() {
    let pool = memory_pool().await;
    let manager = TransactionManager::write(pool.clone());
    manager
        .run(async |conn| insert(conn, "a").await)
        .await
        .unwrap();
    let failed = manager
        .run(async |conn| {
            insert(conn, "b").await?;
            Err::<(), _>(sqlx::Error::RowNotFound)
        })
        .await;
    assert!(matches!(
        failed,
        Err(Error::Aborted(sqlx::Error::RowNotFound))
    ));
    assert_eq!(count(&pool).await, 1);
}

#[tokio::test]
async fn isolation_levels_sqlite_cannot_do_are_refused() {
    let pool = memory_pool().await;
    for level in [
        IsolationLevel::ReadUncommitted,
        IsolationLevel::ReadCommitted,
        IsolationLevel::RepeatableRead,
    ] {
        let built = TransactionManager::builder(pool.clone())
            .isolation_level(level)
            .build();
        match built {
            Err(BuildError::Unsupported { option, backend }) => {
                assert_eq!(backend, "SQLite");
                assert!(option.contains(level.as_sql()), "{option}");
            }
            other => panic!("expected Unsupported for {level:?}, got {other:?}"),
        }
    }
    let serializable = TransactionManager::builder(pool.clone())
        .isolation_level(IsolationLevel::Serializable)
        .begin_mode(BeginMode::Exclusive)
        .build()
        .unwrap();
    serializable
        .run(async |conn| insert(conn, "a").await)
        .await
        .unwrap();
    assert_eq!(count(&pool).await, 1);
}

#[tokio::test]
async fn a_closed_pool_is_a_begin_error() {
    let pool = memory_pool().await;
    let manager = TransactionManager::write(pool.clone());
    pool.close().await;
    let ran = std::sync::atomic::AtomicBool::new(false);
    let result = transaction(&pool, async |_conn| {
        ran.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok::<_, sqlx::Error>(())
    })
    .await;
    assert!(
        matches!(result, Err(Error::Begin(sqlx::Error::PoolClosed))),
        "{result:?}"
    );
    let result = manager.run(async |_conn| Ok::<_, sqlx::Error>(())).await;
    assert!(matches!(result, Err(Error::Begin(sqlx::Error::PoolClosed))));
    assert!(matches!(
        manager.begin().await,
        Err(Error::Begin(sqlx::Error::PoolClosed))
    ));
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test]
async fn zero_timeout_is_refused() {
    let pool = memory_pool().await;
    let built = TransactionManager::builder(pool)
        .timeout(Duration::ZERO)
        .build();
    assert!(matches!(built, Err(BuildError::ZeroTimeout)), "{built:?}");
}

#[tokio::test]
async fn timeout_rolls_back_a_transaction_that_takes_too_long() {
    let pool = memory_pool().await;
    let manager = TransactionManager::builder(pool.clone())
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let result = manager
        .run(async |conn| {
            insert(conn, "late").await?;
            std::future::pending::<()>().await;
            Ok::<_, sqlx::Error>(())
        })
        .await;
    match result {
        Err(Error::Timeout { limit }) => assert_eq!(limit, Duration::from_millis(50)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(count(&pool).await, 0);
}

#[tokio::test]
async fn read_only_manager_and_access_mode_work_on_sqlite() {
    let pool = memory_pool().await;
    let reader = TransactionManager::read_only(pool.clone());
    assert_eq!(reader.access_mode(), Some(AccessMode::ReadOnly));
    let total = reader
        .run(async |conn| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM items")
                .fetch_one(&mut *conn)
                .await
        })
        .await
        .unwrap();
    assert_eq!(total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_inside_spawn_and_from_generic_code() {
    async fn generic<DB: uno_tx::Backend>(manager: TransactionManager<DB>) -> Result<u32, Error> {
        let pool = manager.pool().clone();
        let first = tokio::spawn(async move {
            transaction(&pool, async |_conn| Ok::<_, sqlx::Error>(1_u32)).await
        });
        let second =
            tokio::spawn(
                async move { manager.run(async |_conn| Ok::<_, sqlx::Error>(2_u32)).await },
            );
        Ok(first.await.unwrap()? + second.await.unwrap()?)
    }

    let pool = memory_pool().await;
    let total = tokio::spawn(generic(TransactionManager::write(pool)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(total, 3);
}

#[tokio::test]
async fn a_deferred_writer_gets_a_retryable_busy_error() {
    let db = TempDb::new("busy");
    let options: SqliteConnectOptions = db.url().parse().unwrap();
    let options = options.busy_timeout(Duration::ZERO);
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let deferred = TransactionManager::builder(pool.clone())
        .begin_mode(BeginMode::Deferred)
        .build()
        .unwrap();
    let writer = TransactionManager::write(pool.clone());

    // The deferred transaction reads, another connection writes and holds the lock,
    // then the deferred transaction tries to write.
    let mut reader_tx = deferred.begin().await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM items")
        .fetch_one(&mut *reader_tx)
        .await
        .unwrap();
    let mut writer_tx = writer.begin().await.unwrap();
    insert(&mut writer_tx, "first").await.unwrap();
    let error = insert(&mut reader_tx, "second").await.unwrap_err();
    assert!(is_retryable(&error), "{error:?}");
    // Roll back at once: a dropped transaction's rollback would only be queued, and
    // the reader's lock would make the writer's commit busy.
    reader_tx.rollback().await.unwrap();
    writer_tx.commit().await.unwrap();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_immediate_transfers_keep_the_total() {
    concurrent_transfers().await;
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_immediate_transfers_keep_the_total_on_one_thread() {
    concurrent_transfers().await;
}

/// 16 tasks move money between 4 accounts in a file database, each transfer a
/// read-then-write under `BEGIN IMMEDIATE`: every transfer is either applied whole or
/// reported failed, and the total never changes.
async fn concurrent_transfers() {
    const ACCOUNTS: i64 = 4;
    const TASKS: i64 = 16;
    const TRANSFERS: i64 = 10;

    let db = TempDb::new("transfers");
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect(&db.url())
        .await
        .unwrap();
    sqlx::query("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE transfers (task INTEGER NOT NULL, n INTEGER NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    for id in 0..ACCOUNTS {
        sqlx::query("INSERT INTO accounts VALUES (?, 1000)")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    }
    // BEGIN IMMEDIATE, with retry of busy errors when the feature is on.
    let builder = TransactionManager::builder(pool.clone());
    #[cfg(feature = "retry")]
    let builder = builder.retry(
        uno_retry::RetryPolicy::exponential(Duration::from_millis(2))
            .max_attempts(10)
            .build()
            .unwrap(),
    );
    let manager = builder.build().unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let manager = manager.clone();
        tasks.spawn(async move {
            let mut applied = 0;
            for n in 0..TRANSFERS {
                let (from, to) = ((task + n) % ACCOUNTS, (task + n + 1) % ACCOUNTS);
                let result = manager
                    .run(async |conn| {
                        let balance: i64 =
                            sqlx::query_scalar("SELECT balance FROM accounts WHERE id = ?")
                                .bind(from)
                                .fetch_one(&mut *conn)
                                .await?;
                        tokio::task::yield_now().await;
                        sqlx::query("UPDATE accounts SET balance = ? WHERE id = ?")
                            .bind(balance - 10)
                            .bind(from)
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("UPDATE accounts SET balance = balance + 10 WHERE id = ?")
                            .bind(to)
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("INSERT INTO transfers VALUES (?, ?)")
                            .bind(task)
                            .bind(n)
                            .execute(&mut *conn)
                            .await?;
                        Ok::<_, sqlx::Error>(())
                    })
                    .await;
                if result.is_ok() {
                    applied += 1;
                }
            }
            applied
        });
    }
    let applied: i64 = tasks.join_all().await.into_iter().sum();
    let total: i64 = sqlx::query_scalar("SELECT SUM(balance) FROM accounts")
        .fetch_one(&pool)
        .await
        .unwrap();
    let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transfers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, ACCOUNTS * 1000, "money was created or destroyed");
    assert_eq!(recorded, applied, "a transfer was half applied or lost");
    // IMMEDIATE writers queue at BEGIN (within the busy timeout), so none fails and no
    // update is lost to a read-then-write race.
    assert_eq!(applied, TASKS * TRANSFERS);
    let moved_out: i64 =
        sqlx::query_scalar("SELECT SUM(1000 - balance) FROM accounts WHERE balance < 1000")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(moved_out >= 0);
    pool.close().await;
}

/// SQLite has no server to tell: the client-side cap is the deadline, and the
/// transaction it cuts short is rolled back.
#[tokio::test]
async fn a_deadline_rolls_back_and_reports_the_deadline() {
    let pool = memory_pool().await;
    let manager = TransactionManager::write(pool.clone());
    let outcome = uno_deadline::within(
        Duration::from_millis(100),
        manager.run(async |conn| {
            insert(conn, "late").await?;
            std::future::pending::<()>().await;
            Ok::<_, sqlx::Error>(())
        }),
    )
    .await;
    assert!(
        matches!(outcome, Ok(Err(Error::DeadlinePassed { .. }))),
        "{outcome:?}"
    );
    let outcome = uno_deadline::within(
        Duration::from_millis(100),
        transaction(&pool, async |conn| {
            insert(conn, "late too").await?;
            std::future::pending::<()>().await;
            Ok::<_, sqlx::Error>(())
        }),
    )
    .await;
    assert!(
        matches!(outcome, Ok(Err(Error::DeadlinePassed { .. }))),
        "{outcome:?}"
    );
    assert_eq!(count(&pool).await, 0);
    // The connection is usable, outside any transaction.
    manager
        .run(async |conn| insert(conn, "next").await)
        .await
        .unwrap();
    assert_eq!(count(&pool).await, 1);
}

#[tokio::test]
async fn a_timeout_shorter_than_the_deadline_is_still_a_timeout() {
    let pool = memory_pool().await;
    let manager = TransactionManager::builder(pool.clone())
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let outcome = uno_deadline::within(
        Duration::from_secs(60),
        manager.run(async |conn| {
            insert(conn, "late").await?;
            std::future::pending::<()>().await;
            Ok::<_, sqlx::Error>(())
        }),
    )
    .await;
    assert!(
        matches!(outcome, Ok(Err(Error::Timeout { .. }))),
        "{outcome:?}"
    );
    assert_eq!(count(&pool).await, 0);
}

#[tokio::test]
async fn a_deadline_shorter_than_the_timeout_is_the_deadline() {
    let pool = memory_pool().await;
    let manager = TransactionManager::builder(pool.clone())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let outcome = uno_deadline::within(
        Duration::from_millis(50),
        manager.run(async |conn| {
            insert(conn, "late").await?;
            std::future::pending::<()>().await;
            Ok::<_, sqlx::Error>(())
        }),
    )
    .await;
    assert!(
        matches!(outcome, Ok(Err(Error::DeadlinePassed { .. }))),
        "{outcome:?}"
    );
    assert_eq!(count(&pool).await, 0);
}

#[tokio::test]
async fn a_deadline_already_passed_fails_at_once_on_sqlite() {
    use futures_util::FutureExt;

    let pool = SqlitePoolOptions::new()
        .connect_lazy("sqlite::memory:")
        .unwrap();
    let manager = TransactionManager::write(pool.clone());
    let outcome = uno_deadline::within(
        Duration::ZERO,
        manager.run(async |_conn| -> Result<(), sqlx::Error> {
            unreachable!("the closure ran after the deadline")
        }),
    )
    .now_or_never()
    .expect("a passed deadline fails at the first poll");
    assert!(
        matches!(outcome, Ok(Err(Error::DeadlinePassed { .. }))),
        "{outcome:?}"
    );
    assert_eq!(pool.size(), 0, "a connection was opened");
}
