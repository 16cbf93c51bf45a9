//! uno's `transaction` against raw sqlx `begin` / `commit`: an empty transaction (the
//! overhead every transaction pays) and a one-insert transaction, on in-memory SQLite
//! and on PostgreSQL (skipped with a note when no server answers).

use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::{PgPool, SqlitePool};
use tokio::runtime::Runtime;
use uno_testkit::{Server, server_url};
use uno_tx::transaction;

/// The table the insert scenarios write to; PostgreSQL gets a per-run suffix.
const SQLITE_TABLE: &str = "CREATE TABLE bench_tx (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)";

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(2));
}

/// One connection, so every transaction sees the same in-memory database.
async fn sqlite_pool() -> SqlitePool {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("an in-memory SQLite database");
    sqlx::query(SQLITE_TABLE)
        .execute(&pool)
        .await
        .expect("the bench table");
    pool
}

fn bench_sqlite(c: &mut Criterion) {
    let runtime = current_thread();
    let pool = runtime.block_on(sqlite_pool());
    let next = AtomicI64::new(0);

    let mut group = c.benchmark_group("tx/empty_sqlite");
    configure(&mut group);
    group.bench_function("uno", |b| {
        b.to_async(&runtime).iter(|| async {
            transaction(&pool, async |_conn| Ok::<_, sqlx::Error>(black_box(1)))
                .await
                .expect("an empty transaction")
        });
    });
    group.bench_function("sqlx", |b| {
        b.to_async(&runtime).iter(|| async {
            let tx = pool.begin().await.expect("BEGIN");
            tx.commit().await.expect("COMMIT");
            black_box(1)
        });
    });
    group.finish();

    let mut group = c.benchmark_group("tx/insert_sqlite");
    configure(&mut group);
    group.bench_function("uno", |b| {
        b.to_async(&runtime).iter(|| async {
            let v = next.fetch_add(1, Ordering::Relaxed);
            transaction(&pool, async |conn| {
                sqlx::query("INSERT INTO bench_tx (v) VALUES (?)")
                    .bind(v)
                    .execute(&mut *conn)
                    .await
            })
            .await
            .expect("an insert transaction")
        });
    });
    group.bench_function("sqlx", |b| {
        b.to_async(&runtime).iter(|| async {
            let v = next.fetch_add(1, Ordering::Relaxed);
            let mut tx = pool.begin().await.expect("BEGIN");
            let done = sqlx::query("INSERT INTO bench_tx (v) VALUES (?)")
                .bind(v)
                .execute(&mut *tx)
                .await
                .expect("INSERT");
            tx.commit().await.expect("COMMIT");
            done
        });
    });
    group.finish();
}

/// A one-connection pool and a table of this run's own, or `None` (with a printed
/// note) when no PostgreSQL server answers.
async fn postgres_pool(table: &str) -> Option<PgPool> {
    let url = server_url(Server::Postgres)?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("a PostgreSQL connection");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, v BIGINT NOT NULL)"
    )))
    .execute(&pool)
    .await
    .expect("the bench table");
    Some(pool)
}

fn bench_postgres(c: &mut Criterion) {
    let runtime = current_thread();
    let table = format!("bench_tx_{}", std::process::id());
    let Some(pool) = runtime.block_on(postgres_pool(&table)) else {
        println!("tx/empty_postgres and tx/insert_postgres skipped: no PostgreSQL server");
        return;
    };
    let insert = format!("INSERT INTO {table} (v) VALUES ($1)");
    let next = AtomicI64::new(0);

    let mut group = c.benchmark_group("tx/empty_postgres");
    configure(&mut group);
    group.bench_function("uno", |b| {
        b.to_async(&runtime).iter(|| async {
            transaction(&pool, async |_conn| Ok::<_, sqlx::Error>(black_box(1)))
                .await
                .expect("an empty transaction")
        });
    });
    group.bench_function("sqlx", |b| {
        b.to_async(&runtime).iter(|| async {
            let tx = pool.begin().await.expect("BEGIN");
            tx.commit().await.expect("COMMIT");
            black_box(1)
        });
    });
    group.finish();

    let mut group = c.benchmark_group("tx/insert_postgres");
    configure(&mut group);
    group.bench_function("uno", |b| {
        b.to_async(&runtime).iter(|| async {
            let v = next.fetch_add(1, Ordering::Relaxed);
            transaction(&pool, async |conn| {
                sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                    .bind(v)
                    .execute(&mut *conn)
                    .await
            })
            .await
            .expect("an insert transaction")
        });
    });
    group.bench_function("sqlx", |b| {
        b.to_async(&runtime).iter(|| async {
            let v = next.fetch_add(1, Ordering::Relaxed);
            let mut tx = pool.begin().await.expect("BEGIN");
            let done = sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                .bind(v)
                .execute(&mut *tx)
                .await
                .expect("INSERT");
            tx.commit().await.expect("COMMIT");
            done
        });
    });
    group.finish();

    runtime.block_on(async {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
            .execute(&pool)
            .await
            .expect("dropping the bench table");
        pool.close().await;
    });
}

criterion_group!(benches, bench_sqlite, bench_postgres);
criterion_main!(benches);
