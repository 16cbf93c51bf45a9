//! `PgLimiter` against a plain `pg_advisory_lock` loop, on the PostgreSQL server at
//! `UNO_TEST_POSTGRES_URL` (skipped with a note when none answers):
//!
//! - `limit_postgres/uncontended`: one acquire and release with nobody else asking;
//!   the plain loop locks and unlocks one key on a connection it keeps.
//! - `limit_postgres/fleet_8_of_64x4`: a limit of 8 shared by 4 processes of 16 tasks
//!   each (64 waiters), every task taking and giving back a permit in a loop; the time
//!   is per permit across the fleet. The plain version gives each task a fixed slot
//!   (`task % 8`) and blocks in `pg_advisory_lock` on its own connection.
//!
//! The processes are this benchmark binary, started again with
//! `UNO_BENCH_PG_CHILD` set.

use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use criterion::Criterion;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::runtime::Runtime;
use uno_limit::postgres::PgLimiter;
use uno_testkit::{Server, server_url};

const LIMIT: usize = 8;
const PROCESSES: u64 = 4;
const TASKS_PER_PROCESS: u64 = 16;
/// The advisory-lock key of the plain loops (uno's keys come from names).
const PLAIN_KEY: i32 = 0x0b_e4c4;

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

async fn pool(url: &str, max: u32) -> PgPool {
    let options = PgConnectOptions::from_str(url)
        .expect("a valid URL")
        .application_name("uno-bench-pg-limit");
    PgPoolOptions::new()
        .max_connections(max)
        .connect_with(options)
        .await
        .expect("PostgreSQL accepts connections")
}

fn uncontended(c: &mut Criterion, url: &str) {
    let runtime = runtime();
    let (limiter, plain) = runtime.block_on(async {
        let limiter = PgLimiter::new(pool(url, 4).await, "uno-bench-uncontended", LIMIT)
            .expect("a valid limiter");
        (limiter, pool(url, 1).await)
    });
    let mut group = c.benchmark_group("limit_postgres/uncontended");
    group.bench_function("uno", |b| {
        b.to_async(&runtime).iter(|| async {
            let permit = limiter.acquire().await.expect("a free slot");
            permit.release().await.expect("held");
        });
    });
    group.bench_function("advisory_lock", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let plain = plain.clone();
            async move {
                let mut connection = plain.acquire().await.expect("a connection");
                let started = Instant::now();
                for _ in 0..iters {
                    lock_plain(&mut connection, 0).await;
                }
                started.elapsed()
            }
        });
    });
    group.finish();
}

/// Locks and unlocks `(PLAIN_KEY, slot)`, waiting for it as long as it takes.
async fn lock_plain(connection: &mut sqlx::PgConnection, slot: i32) {
    for statement in [
        "SELECT pg_advisory_lock($1, $2)",
        "SELECT pg_advisory_unlock($1, $2)",
    ] {
        sqlx::query(statement)
            .bind(PLAIN_KEY)
            .bind(slot)
            .execute(&mut *connection)
            .await
            .expect("locked, then unlocked");
    }
}

fn fleet(c: &mut Criterion, url: &str) {
    let mut group = c.benchmark_group("limit_postgres/fleet_8_of_64x4");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    for kind in ["uno", "advisory_lock"] {
        group.bench_function(kind, |b| {
            b.iter_custom(|iters| run_fleet(kind, url, iters));
        });
    }
    group.finish();
}

/// Starts the fleet for at least `permits` permits in all, and times it from the first
/// process started to the last one done.
fn run_fleet(kind: &str, url: &str, permits: u64) -> Duration {
    let per_task = permits.div_ceil(PROCESSES * TASKS_PER_PROCESS).max(1);
    let started = Instant::now();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(std::env::current_exe().expect("the bench binary"))
                .env("UNO_BENCH_PG_CHILD", kind)
                .env("UNO_BENCH_PG_URL", url)
                .env("UNO_BENCH_PG_PERMITS", per_task.to_string())
                .spawn()
                .expect("a child process")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("the child exits").success());
    }
    let elapsed = started.elapsed();
    // Scale to what was asked, since every task ran `per_task` permits.
    elapsed.mul_f64(permits as f64 / (per_task * PROCESSES * TASKS_PER_PROCESS) as f64)
}

/// The body of one fleet process.
fn child(kind: &str) {
    let var = |key: &str| std::env::var(key).unwrap_or_else(|_| panic!("{key} is set"));
    let url = var("UNO_BENCH_PG_URL");
    let permits: u64 = var("UNO_BENCH_PG_PERMITS").parse().expect("a count");
    runtime().block_on(async move {
        let mut tasks = tokio::task::JoinSet::new();
        match kind {
            "uno" => {
                let pool = pool(&url, LIMIT as u32 + 2).await;
                let limiter =
                    PgLimiter::new(pool, "uno-bench-fleet", LIMIT).expect("a valid limiter");
                for _ in 0..TASKS_PER_PROCESS {
                    let limiter = limiter.clone();
                    tasks.spawn(async move {
                        for _ in 0..permits {
                            let permit = limiter.acquire().await.expect("a slot");
                            permit.release().await.expect("held");
                        }
                    });
                }
            }
            _ => {
                let pool = pool(&url, TASKS_PER_PROCESS as u32).await;
                for task in 0..TASKS_PER_PROCESS {
                    let pool = pool.clone();
                    tasks.spawn(async move {
                        let mut connection = pool.acquire().await.expect("a connection");
                        for _ in 0..permits {
                            lock_plain(&mut connection, (task % LIMIT as u64) as i32).await;
                        }
                    });
                }
            }
        }
        while let Some(joined) = tasks.join_next().await {
            joined.expect("no task panics");
        }
    });
}

fn main() {
    if let Ok(kind) = std::env::var("UNO_BENCH_PG_CHILD") {
        child(&kind);
        return;
    }
    let Some(url) = server_url(Server::Postgres) else {
        return;
    };
    let mut c = Criterion::default().configure_from_args();
    uncontended(&mut c, &url);
    fleet(&mut c, &url);
    c.final_summary();
}
