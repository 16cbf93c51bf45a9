//! The uno demo: a stream of synthetic orders processed end to end on embedded SQLite.
//!
//! This first version only checks the plumbing — it writes a batch of synthetic orders
//! into a SQLite file in a temporary directory inside one transaction and checks that
//! the database holds exactly what was written. The full demo (task group, limiter,
//! retry, batcher, transaction manager, resources and graceful shutdown working
//! together) replaces it as the pattern crates land.
//!
//! Run it with `cargo run --release --example orders -- --orders 1000`.

use std::time::Instant;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let orders = parse_orders(std::env::args().skip(1))?;
    let dir = std::env::temp_dir().join(format!("uno-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("orders.db");
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new().connect_with(options).await?;
    sqlx::query("CREATE TABLE orders (id INTEGER PRIMARY KEY, amount_cents INTEGER NOT NULL)")
        .execute(&pool)
        .await?;

    let started = Instant::now();
    let mut rng = fastrand::Rng::with_seed(42);
    let mut tx = pool.begin().await?;
    for id in 0..orders {
        sqlx::query("INSERT INTO orders (id, amount_cents) VALUES (?, ?)")
            .bind(i64::from(id))
            .bind(rng.i64(100..100_000))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    let elapsed = started.elapsed();

    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    std::fs::remove_dir_all(&dir)?;

    println!("orders written : {orders}");
    println!("orders stored  : {stored}");
    println!("elapsed        : {elapsed:.2?}");
    if stored != i64::from(orders) {
        return Err(format!("database holds {stored} orders, expected {orders}").into());
    }
    println!("check          : database holds exactly the orders written");
    Ok(())
}

fn parse_orders(mut args: impl Iterator<Item = String>) -> Result<u32, String> {
    let mut orders = 1_000;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--orders" => {
                let value = args.next().ok_or("--orders needs a number")?;
                orders = value
                    .parse()
                    .map_err(|_| format!("--orders needs a number, got {value:?}"))?;
            }
            other => return Err(format!("unknown argument {other:?}; try --orders N")),
        }
    }
    Ok(orders)
}
