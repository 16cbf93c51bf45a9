//! Behaviour of transactions on a real PostgreSQL server.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]
#![cfg(feature = "postgres")]

mod common;

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use uno_testkit::{Server, server_url};
use uno_tx::{
    BeginMode, BuildError, Error, IsolationLevel, TransactionManager, is_retryable, transaction,
};

use common::{poll_then_drop, unique};

/// A test's own pool (tagged with a unique application name) and table, dropped at the
/// end; `None` when the server is absent outside CI.
struct Fixture {
    pool: PgPool,
    table: String,
    application: String,
    url: String,
}

impl Fixture {
    table_fixture_methods!(PgConnection, "$1");

    async fn new(max_connections: u32) -> Option<Self> {
        let url = server_url(Server::Postgres)?;
        let application = unique("uno_tx");
        let options: PgConnectOptions = url.parse().unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options.application_name(&application))
            .await
            .unwrap();
        let table = unique("uno_tx_items");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {table} (id SERIAL PRIMARY KEY, name TEXT NOT NULL)"
        )))
        .execute(&pool)
        .await
        .unwrap();
        Some(Fixture {
            pool,
            table,
            application,
            url,
        })
    }

    /// Sessions of this test's pool that sit inside a transaction, seen from outside.
    async fn idle_in_transaction(&self) -> i64 {
        let mut monitor = PgConnection::connect(&self.url).await.unwrap();
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND state LIKE 'idle in transaction%'",
        )
        .bind(&self.application)
        .fetch_one(&mut monitor)
        .await
        .unwrap()
    }

    /// Waits until every connection is back in the pool (so queued rollbacks ran) by
    /// holding all of them at once.
    async fn settle(&self) -> Vec<sqlx::pool::PoolConnection<sqlx::Postgres>> {
        let mut held = Vec::new();
        for _ in 0..self.pool.options().get_max_connections() {
            held.push(self.pool.acquire().await.unwrap());
        }
        held
    }
}

savepoint_abandonment_tests!(Fixture::new(1).await, lost_after_release = true);

#[tokio::test]
async fn commit_and_rollback_on_err() {
    let Some(fx) = Fixture::new(2).await else {
        return;
    };
    transaction(&fx.pool, async |conn| fx.insert(conn, "kept").await)
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
async fn panic_rolls_back_then_resumes() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    let fx = std::sync::Arc::new(fx);
    let in_task = fx.clone();
    let joined = tokio::spawn(async move {
        transaction(&in_task.pool, async |conn| {
            in_task.insert(conn, "undone").await.unwrap();
            panic!("boom");
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        })
        .await
    })
    .await;
    assert!(joined.unwrap_err().is_panic());
    assert_eq!(fx.count().await, 0);
    let held = fx.settle().await;
    assert_eq!(fx.idle_in_transaction().await, 0);
    drop(held);
    std::sync::Arc::into_inner(fx).unwrap().drop_table().await;
}

#[tokio::test]
async fn panic_on_a_lent_connection_releases_its_locks_at_once() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    // The lent connection stays open after the panic, and is never used again.
    let conn = std::sync::Arc::new(tokio::sync::Mutex::new(
        PgConnection::connect(&fx.url).await.unwrap(),
    ));
    let lock = fx.sql("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE");
    let in_task = conn.clone();
    let joined = tokio::spawn(async move {
        let mut conn = in_task.lock().await;
        transaction(&mut *conn, async |conn| {
            sqlx::raw_sql(lock).execute(&mut *conn).await.unwrap();
            panic!("boom while holding a lock");
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        })
        .await
    })
    .await;
    assert!(joined.unwrap_err().is_panic());
    // Had the rollback only been queued for the connection's next use, the table
    // would still be locked.
    let mut other = PgConnection::connect(&fx.url).await.unwrap();
    sqlx::query("SET lock_timeout = '5s'")
        .execute(&mut other)
        .await
        .unwrap();
    let rows: i64 = sqlx::query_scalar(fx.sql("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut other)
        .await
        .expect("the table is still locked by the panicked transaction");
    assert_eq!(rows, 0);
    drop(conn);
    fx.drop_table().await;
}

#[tokio::test]
async fn cancellation_mid_body_rolls_back_and_leaves_no_session_in_a_transaction() {
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
    // The body never finishes; it is dropped once it has written.
    tokio::select! {
        _ = work => panic!("the body never finishes"),
        _ = reached_rx => {}
    }
    let held = fx.settle().await;
    assert_eq!(fx.idle_in_transaction().await, 0);
    drop(held);
    assert_eq!(fx.count().await, 0);
    fx.drop_table().await;
}

#[tokio::test]
async fn cancelling_begin_many_times_leaves_no_session_idle_in_a_transaction() {
    // sqlx issue 4385: a `BEGIN` cancelled after it was sent left its pool connection
    // inside a transaction. The next `BEGIN` on that connection would quietly adopt it,
    // so look after every cancellation, while holding every pooled connection.
    let Some(fx) = Fixture::new(2).await else {
        return;
    };
    let manager = TransactionManager::write(fx.pool.clone());
    let mut leaked = Vec::new();
    for round in 0..40_u64 {
        let polls = (round % 5) as usize + 1;
        match round % 3 {
            0 => {
                let work = transaction(&fx.pool, async |conn| fx.insert(conn, "maybe").await);
                poll_then_drop(work, polls).await;
            }
            1 => {
                poll_then_drop(manager.begin(), polls).await;
            }
            _ => {
                // A cancellation timed by the clock, which can land anywhere in BEGIN.
                let _ = tokio::time::timeout(
                    Duration::from_micros(40 * (round % 11)),
                    manager.run(async |conn| fx.insert(conn, "maybe").await),
                )
                .await;
            }
        }
        let held = fx.settle().await;
        let stuck = fx.idle_in_transaction().await;
        if stuck > 0 {
            leaked.push((round, stuck));
        }
        drop(held);
    }
    assert_eq!(leaked, [], "(round, sessions) left idle in a transaction");
    fx.drop_table().await;
}

#[tokio::test]
async fn nested_savepoint_rollback_keeps_the_outer_work() {
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
    let names: Vec<String> = sqlx::query_scalar(fx.sql("SELECT name FROM {table}"))
        .fetch_all(&fx.pool)
        .await
        .unwrap();
    assert_eq!(names, ["outer"]);
    fx.drop_table().await;
}

#[tokio::test]
async fn tx_guard_dropped_without_commit_rolls_back() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    let manager = TransactionManager::write(fx.pool.clone());
    let mut tx = manager.begin().await.unwrap();
    fx.insert(&mut tx, "dropped").await.unwrap();
    drop(tx);
    let held = fx.settle().await;
    assert_eq!(fx.idle_in_transaction().await, 0);
    drop(held);
    assert_eq!(fx.count().await, 0);
    fx.drop_table().await;
}

#[tokio::test]
async fn isolation_and_read_only_reach_the_server() {
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
            .build()
            .unwrap();
        let seen: String = manager
            .run(async |conn| {
                sqlx::query_scalar("SELECT current_setting('transaction_isolation')")
                    .fetch_one(&mut *conn)
                    .await
            })
            .await
            .unwrap();
        assert_eq!(seen.to_uppercase(), level.as_sql());
    }
    let reader = TransactionManager::read_only(fx.pool.clone());
    let refused = reader.run(async |conn| fx.insert(conn, "no").await).await;
    let Err(Error::Aborted(sqlx::Error::Database(error))) = refused else {
        panic!("a read-only transaction wrote: {refused:?}");
    };
    assert_eq!(error.code().as_deref(), Some("25006"));
    fx.drop_table().await;
}

#[tokio::test]
async fn run_once_begins_with_the_managers_options() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    let manager = TransactionManager::builder(fx.pool.clone())
        .isolation_level(IsolationLevel::Serializable)
        .build()
        .unwrap();
    let name = String::from("once");
    let fx_ref = &fx;
    let seen: String = manager
        .run_once(async move |conn| {
            fx_ref.insert(conn, &name).await?;
            drop(name);
            sqlx::query_scalar("SELECT current_setting('transaction_isolation')")
                .fetch_one(&mut *conn)
                .await
        })
        .await
        .unwrap();
    assert_eq!(seen.to_uppercase(), IsolationLevel::Serializable.as_sql());
    assert_eq!(fx.names().await, ["once"]);
    let reader = TransactionManager::read_only(fx.pool.clone());
    let name = String::from("refused");
    let refused = reader
        .run_once(async move |conn| fx_ref.insert(conn, &name).await)
        .await;
    let Err(Error::Aborted(sqlx::Error::Database(error))) = refused else {
        panic!("a read-only transaction wrote: {refused:?}");
    };
    assert_eq!(error.code().as_deref(), Some("25006"));
    fx.drop_table().await;
}

#[tokio::test]
async fn a_timeout_interrupts_a_long_query_and_rolls_back() {
    let Some(fx) = Fixture::new(2).await else {
        return;
    };
    let manager = TransactionManager::builder(fx.pool.clone())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let result = manager
        .run(async |conn| {
            fx.insert(conn, "late").await?;
            sqlx::query("SELECT pg_sleep(2)")
                .execute(&mut *conn)
                .await?;
            Ok::<_, sqlx::Error>(())
        })
        .await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(!result.unwrap_err().is_retryable());
    assert_eq!(fx.count().await, 0);
    let held = fx.settle().await;
    assert_eq!(fx.idle_in_transaction().await, 0);
    drop(held);
    fx.drop_table().await;
}

#[tokio::test]
async fn a_begin_mode_is_refused_on_postgres() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    let built = TransactionManager::builder(fx.pool.clone())
        .begin_mode(BeginMode::Immediate)
        .build();
    assert!(
        matches!(
            built,
            Err(BuildError::Unsupported {
                backend: "PostgreSQL",
                ..
            })
        ),
        "{built:?}"
    );
    fx.drop_table().await;
}

#[tokio::test]
async fn a_killed_connection_gives_a_clear_error_commits_nothing_and_the_pool_recovers() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    let url = fx.url.clone();
    let result = transaction(&fx.pool, async |conn| {
        fx.insert(conn, "lost").await?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *conn)
            .await?;
        let mut killer = PgConnection::connect(&url).await?;
        sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&mut killer)
            .await?;
        fx.insert(conn, "never").await?;
        Ok::<_, sqlx::Error>(())
    })
    .await;
    let error = result.expect_err("the connection was killed");
    assert!(
        matches!(error, Error::Aborted(_) | Error::Rollback { .. }),
        "{error:?}"
    );
    assert!(!error.is_retryable(), "{error}");
    assert!(!error.to_string().is_empty());
    // The pool replaced the dead connection.
    transaction(&fx.pool, async |conn| fx.insert(conn, "after").await)
        .await
        .unwrap();
    let names: Vec<String> = sqlx::query_scalar(fx.sql("SELECT name FROM {table}"))
        .fetch_all(&fx.pool)
        .await
        .unwrap();
    assert_eq!(names, ["after"]);
    fx.drop_table().await;
}

#[tokio::test]
async fn a_serialization_failure_is_retryable() {
    let Some(fx) = Fixture::new(2).await else {
        return;
    };
    let manager = TransactionManager::builder(fx.pool.clone())
        .isolation_level(IsolationLevel::Serializable)
        .build()
        .unwrap();
    fx.insert(&mut fx.pool.acquire().await.unwrap(), "row")
        .await
        .unwrap();
    let mut first = manager.begin().await.unwrap();
    let mut second = manager.begin().await.unwrap();
    // The second transaction takes its snapshot, the first changes the row and
    // commits, then the second tries to change the same row.
    let _: i64 = sqlx::query_scalar(fx.sql("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut *second)
        .await
        .unwrap();
    let update = "UPDATE {table} SET name = name || '!'";
    sqlx::query(fx.sql(update))
        .execute(&mut *first)
        .await
        .unwrap();
    first.commit().await.unwrap();
    let error = sqlx::query(fx.sql(update))
        .execute(&mut *second)
        .await
        .unwrap_err();
    assert!(is_retryable(&error), "{error:?}");
    drop(second);
    fx.drop_table().await;
}

#[cfg(feature = "retry")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serializable_transfers_with_retry_keep_the_total() {
    serializable_transfers().await;
}

#[cfg(feature = "retry")]
#[tokio::test(flavor = "current_thread")]
async fn serializable_transfers_with_retry_keep_the_total_on_one_thread() {
    serializable_transfers().await;
}

/// 16 tasks move money between 4 accounts, each transfer a read-then-write under
/// SERIALIZABLE with retry: every transfer is applied whole or reported failed, the
/// total never changes, and every balance matches the transfers that were applied (no
/// lost update).
#[cfg(feature = "retry")]
async fn serializable_transfers() {
    const ACCOUNTS: i64 = 4;
    const TASKS: i64 = 16;
    const TRANSFERS: i64 = 8;

    let Some(fx) = Fixture::new(8).await else {
        return;
    };
    let accounts = unique("uno_tx_accounts");
    let sql = |template: &str| {
        sqlx::AssertSqlSafe(
            template
                .replace("{accounts}", &accounts)
                .replace("{table}", &fx.table),
        )
    };
    sqlx::raw_sql(sql(
        "CREATE TABLE {accounts} (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL); \
         ALTER TABLE {table} ADD COLUMN source BIGINT, ADD COLUMN target BIGINT",
    ))
    .execute(&fx.pool)
    .await
    .unwrap();
    sqlx::query(sql(
        "INSERT INTO {accounts} SELECT id, 1000 FROM generate_series(0, $1 - 1) AS id",
    ))
    .bind(ACCOUNTS)
    .execute(&fx.pool)
    .await
    .unwrap();
    let policy = uno_retry::RetryPolicy::exponential(Duration::from_millis(2))
        .max_attempts(12)
        .max_delay(Duration::from_millis(50))
        .jitter(uno_retry::Jitter::Full)
        .seed(7)
        .build()
        .unwrap();
    let manager = TransactionManager::builder(fx.pool.clone())
        .isolation_level(IsolationLevel::Serializable)
        .retry(policy)
        .build()
        .unwrap();
    let statements = std::sync::Arc::new([
        sql("SELECT balance FROM {accounts} WHERE id = $1").0,
        sql("UPDATE {accounts} SET balance = $1 WHERE id = $2").0,
        sql("UPDATE {accounts} SET balance = balance + 10 WHERE id = $1").0,
        sql("INSERT INTO {table} (name, source, target) VALUES ('transfer', $1, $2)").0,
    ]);
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let manager = manager.clone();
        let statements = statements.clone();
        let attempts = attempts.clone();
        tasks.spawn(async move {
            let statement = |index: usize| sqlx::AssertSqlSafe(statements[index].clone());
            let mut applied = 0;
            for n in 0..TRANSFERS {
                let (from, to) = ((task + n) % ACCOUNTS, (task + 2 * n + 1) % ACCOUNTS);
                if from == to {
                    continue;
                }
                let result = manager
                    .run(async |conn| {
                        attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let balance: i64 = sqlx::query_scalar(statement(0))
                            .bind(from)
                            .fetch_one(&mut *conn)
                            .await?;
                        tokio::task::yield_now().await;
                        sqlx::query(statement(1))
                            .bind(balance - 10)
                            .bind(from)
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query(statement(2))
                            .bind(to)
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query(statement(3))
                            .bind(from)
                            .bind(to)
                            .execute(&mut *conn)
                            .await?;
                        Ok::<_, sqlx::Error>(())
                    })
                    .await;
                match result {
                    Ok(()) => applied += 1,
                    // Reported failed: only after the retries were used up.
                    Err(error) => assert!(error.is_retryable(), "{error:?}"),
                }
            }
            applied
        });
    }
    let applied: i64 = tasks.join_all().await.into_iter().sum();
    let attempts = attempts.load(std::sync::atomic::Ordering::Relaxed);
    // The transfers conflict, so serialization failures were retried.
    assert!(
        i64::from(attempts) > applied,
        "{applied} applied in {attempts} attempts"
    );
    let total: i64 = sqlx::query_scalar(sql("SELECT SUM(balance)::BIGINT FROM {accounts}"))
        .fetch_one(&fx.pool)
        .await
        .unwrap();
    assert_eq!(total, ACCOUNTS * 1000, "money was created or destroyed");
    let recorded: i64 = sqlx::query_scalar(sql("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&fx.pool)
        .await
        .unwrap();
    assert_eq!(recorded, applied, "a transfer was half applied or lost");
    // Every balance is what the applied transfers say: no update was lost.
    let mismatched: i64 = sqlx::query_scalar(sql(
        "SELECT COUNT(*) FROM {accounts} a WHERE a.balance <> 1000 \
           - 10 * (SELECT COUNT(*) FROM {table} t WHERE t.source = a.id) \
           + 10 * (SELECT COUNT(*) FROM {table} t WHERE t.target = a.id)",
    ))
    .fetch_one(&fx.pool)
    .await
    .unwrap();
    assert_eq!(mismatched, 0, "an update was lost");
    sqlx::raw_sql(sql("DROP TABLE IF EXISTS {accounts}"))
        .execute(&fx.pool)
        .await
        .unwrap();
    fx.drop_table().await;
}

/// The server's `statement_timeout` for a new session, read on a connection of its own.
async fn default_statement_timeout(url: &str) -> String {
    let mut fresh = PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(&mut fresh)
        .await
        .unwrap()
}

/// Issue 15, item 6: a transaction stuck in a long statement under a caller's deadline
/// reports the deadline, commits nothing, and leaves nothing running on the server:
/// the server itself stops the statement (`SET LOCAL statement_timeout`), so the
/// session is free right after, and the pooled connection comes back with the
/// server's setting.
#[tokio::test]
async fn a_deadline_stops_a_long_statement_on_the_server_and_rolls_back() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    let default = default_statement_timeout(&fx.url).await;
    let manager = TransactionManager::write(fx.pool.clone());
    let outcome = uno_deadline::within(
        Duration::from_millis(500),
        manager.run(async |conn| {
            fx.insert(conn, "late").await?;
            sqlx::query("SELECT pg_sleep(30)")
                .execute(&mut *conn)
                .await?;
            Ok::<_, sqlx::Error>(())
        }),
    )
    .await;
    // Either the run answers with its own error, or (on the real clock) the caller's
    // `within` does: at the deadline the run still has to roll back, a round trip, and
    // `within` does not wait for it; the dropped run then ends the transaction as any
    // cancelled one does. Both say the deadline passed, and what follows holds for both.
    match outcome {
        Ok(Err(error @ Error::DeadlinePassed { .. })) => {
            assert!(!error.is_retryable());
            assert!(error.to_string().contains("deadline"), "{error}");
        }
        Err(_elapsed) => {}
        other => panic!("expected the deadline to be reported, got {other:?}"),
    }
    // Without the server-side limit, `pg_sleep(30)` would go on for half a minute
    // after the caller gave up. The server stops it a moment after the deadline; look
    // a bounded number of times (each look is one round trip, no sleeping).
    let mut monitor = PgConnection::connect(&fx.url).await.unwrap();
    let mut still_running = -1_i64;
    for _ in 0..10_000 {
        still_running = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE application_name = $1 AND state = 'active' AND query LIKE '%pg_sleep%'",
        )
        .bind(&fx.application)
        .fetch_one(&mut monitor)
        .await
        .unwrap();
        if still_running == 0 {
            break;
        }
    }
    assert_eq!(still_running, 0, "pg_sleep is still running on the server");
    let held = fx.settle().await;
    assert_eq!(fx.idle_in_transaction().await, 0);
    drop(held);
    assert_eq!(fx.count().await, 0, "the row was committed");
    // The pool's one connection works, outside any transaction with the server's
    // setting, and for the next transaction.
    let after: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(&fx.pool)
        .await
        .unwrap();
    assert_eq!(after, default);
    manager
        .run(async |conn| fx.insert(conn, "next").await)
        .await
        .unwrap();
    assert_eq!(fx.names().await, ["next"]);
    fx.drop_table().await;
}

#[tokio::test]
async fn a_deadline_sets_statement_timeout_for_the_transaction_only() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    let default = default_statement_timeout(&fx.url).await;
    let manager = TransactionManager::write(fx.pool.clone());
    let inside: i64 = uno_deadline::within(
        Duration::from_secs(60),
        manager.run(async |conn| {
            sqlx::query_scalar(
                "SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'",
            )
            .fetch_one(&mut *conn)
            .await
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        (1..=60_000).contains(&inside),
        "statement_timeout = {inside}"
    );
    // The free function from a pool does the same.
    let inside: i64 = uno_deadline::within(
        Duration::from_secs(60),
        transaction(&fx.pool, async |conn| {
            sqlx::query_scalar(
                "SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'",
            )
            .fetch_one(&mut *conn)
            .await
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        (1..=60_000).contains(&inside),
        "statement_timeout = {inside}"
    );
    // SET LOCAL ended with the transaction: the same pooled connection is back to the
    // server's setting.
    let after: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(&fx.pool)
        .await
        .unwrap();
    assert_eq!(after, default);
    fx.drop_table().await;
}

#[tokio::test]
async fn without_a_deadline_no_statement_timeout_is_set() {
    let Some(fx) = Fixture::new(1).await else {
        return;
    };
    let default = default_statement_timeout(&fx.url).await;
    let manager = TransactionManager::builder(fx.pool.clone())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let show = async |conn: &mut PgConnection| {
        sqlx::query_scalar::<_, String>("SHOW statement_timeout")
            .fetch_one(&mut *conn)
            .await
    };
    let inside = manager.run(async |conn| show(conn).await).await.unwrap();
    assert_eq!(inside, default);
    let inside = transaction(&fx.pool, async |conn| show(conn).await)
        .await
        .unwrap();
    assert_eq!(inside, default);
    fx.drop_table().await;
}

#[tokio::test]
async fn a_deadline_already_passed_fails_at_once_without_touching_the_database() {
    use futures_util::FutureExt;

    let Some(url) = server_url(Server::Postgres) else {
        return;
    };
    // A lazy pool opens no connection until one is asked for.
    let pool = PgPoolOptions::new().connect_lazy(&url).unwrap();
    let manager = TransactionManager::write(pool.clone());
    let ran = std::sync::atomic::AtomicBool::new(false);
    let outcome = uno_deadline::within(
        Duration::ZERO,
        manager.run(async |_conn| {
            ran.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, sqlx::Error>(())
        }),
    )
    .now_or_never()
    .expect("a passed deadline fails at the first poll");
    assert!(
        matches!(outcome, Ok(Err(Error::DeadlinePassed { .. }))),
        "{outcome:?}"
    );
    let outcome = uno_deadline::within(
        Duration::ZERO,
        transaction(&pool, async |_conn| {
            ran.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, sqlx::Error>(())
        }),
    )
    .now_or_never()
    .expect("a passed deadline fails at the first poll");
    assert!(
        matches!(outcome, Ok(Err(Error::DeadlinePassed { .. }))),
        "{outcome:?}"
    );
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(pool.size(), 0, "a connection was opened");
}
