//! The order database: a managed resource around a sqlx pool, and the batch insert.

use std::path::PathBuf;

use sqlx::{Pool, QueryBuilder};

/// One paid order, ready to be written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PaidOrder {
    pub(crate) id: i64,
    pub(crate) customer: i64,
    pub(crate) amount_cents: i64,
    pub(crate) receipt: i64,
}

/// What the demo needs from a database: the same three operations on each backend.
///
/// sqlx's generic bounds for "a backend that binds and reads `i64`" are long and are
/// not implied by a trait's where clauses, so the operations are stamped out per
/// backend by `impl_store!` from one body instead.
pub(crate) trait Store: uno::tx::Backend {
    /// Creates the demo's tables, dropping the previous run's.
    fn create_schema(pool: &Pool<Self>) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Inserts a batch of orders and their payments on `conn`, inside the caller's
    /// transaction.
    fn insert_batch(
        conn: &mut Self::Connection,
        orders: &[PaidOrder],
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Counts what the database holds.
    fn contents(pool: &Pool<Self>) -> impl Future<Output = Result<Contents, sqlx::Error>> + Send;
}

/// The schema: an order and its payment are written in one transaction, so a crash or
/// a Ctrl-C leaves either both rows or neither.
const SCHEMA: [&str; 4] = [
    "DROP TABLE IF EXISTS uno_demo_payments",
    "DROP TABLE IF EXISTS uno_demo_orders",
    "CREATE TABLE uno_demo_orders (id BIGINT PRIMARY KEY, customer BIGINT NOT NULL, amount_cents BIGINT NOT NULL)",
    "CREATE TABLE uno_demo_payments (order_id BIGINT PRIMARY KEY, receipt BIGINT NOT NULL)",
];

/// Rows of one table that lack their partner in the other: must be zero.
const PARTIAL_ROWS: [&str; 2] = [
    "SELECT COUNT(*) FROM uno_demo_orders o LEFT JOIN uno_demo_payments p ON p.order_id = o.id WHERE p.order_id IS NULL",
    "SELECT COUNT(*) FROM uno_demo_payments p LEFT JOIN uno_demo_orders o ON o.id = p.order_id WHERE o.id IS NULL",
];

macro_rules! impl_store {
    ($db:ty) => {
        impl Store for $db {
            async fn create_schema(pool: &Pool<Self>) -> Result<(), sqlx::Error> {
                for statement in SCHEMA {
                    sqlx::query(statement).execute(pool).await?;
                }
                Ok(())
            }

            async fn insert_batch(
                conn: &mut Self::Connection,
                orders: &[PaidOrder],
            ) -> Result<(), sqlx::Error> {
                let mut insert = QueryBuilder::<Self>::new(
                    "INSERT INTO uno_demo_orders (id, customer, amount_cents) ",
                );
                insert.push_values(orders, |mut row, order| {
                    row.push_bind(order.id)
                        .push_bind(order.customer)
                        .push_bind(order.amount_cents);
                });
                insert.build().execute(&mut *conn).await?;
                let mut insert =
                    QueryBuilder::<Self>::new("INSERT INTO uno_demo_payments (order_id, receipt) ");
                insert.push_values(orders, |mut row, order| {
                    row.push_bind(order.id).push_bind(order.receipt);
                });
                insert.build().execute(&mut *conn).await?;
                Ok(())
            }

            async fn contents(pool: &Pool<Self>) -> Result<Contents, sqlx::Error> {
                let count = async |sql: &'static str| -> Result<i64, sqlx::Error> {
                    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(pool).await?;
                    Ok(n)
                };
                Ok(Contents {
                    orders: count("SELECT COUNT(*) FROM uno_demo_orders").await?,
                    payments: count("SELECT COUNT(*) FROM uno_demo_payments").await?,
                    partial: count(PARTIAL_ROWS[0]).await? + count(PARTIAL_ROWS[1]).await?,
                })
            }
        }
    };
}

impl_store!(sqlx::Sqlite);
impl_store!(sqlx::Postgres);
impl_store!(sqlx::MySql);

/// What the database holds after the run.
#[derive(Debug)]
pub(crate) struct Contents {
    pub(crate) orders: i64,
    pub(crate) payments: i64,
    /// Orders without a payment or payments without an order: must be zero.
    pub(crate) partial: i64,
}

/// The database pool as a managed resource: `initialize` connects and creates the
/// schema, `cleanup` closes the pool (and removes the temporary directory, if the
/// demo made one).
#[derive(Debug)]
pub(crate) struct Database<DB: sqlx::Database> {
    url: String,
    temp_dir: Option<PathBuf>,
    pool: Option<Pool<DB>>,
}

impl<DB: Store> Database<DB> {
    pub(crate) fn new(url: String, temp_dir: Option<PathBuf>) -> Self {
        Database {
            url,
            temp_dir,
            pool: None,
        }
    }

    /// The pool; present between initialize and cleanup.
    pub(crate) fn pool(&self) -> Pool<DB> {
        self.pool
            .clone()
            .expect("the database resource is initialised")
    }
}

impl<DB: Store> uno::resource::AsyncResource for Database<DB> {
    type Error = sqlx::Error;

    async fn initialize(&mut self) -> Result<(), sqlx::Error> {
        let pool = sqlx::pool::PoolOptions::<DB>::new()
            .max_connections(8)
            .connect(&self.url)
            .await?;
        DB::create_schema(&pool).await?;
        self.pool = Some(pool);
        Ok(())
    }

    async fn cleanup(&mut self) -> Result<(), sqlx::Error> {
        if let Some(pool) = self.pool.take() {
            pool.close().await;
        }
        if let Some(dir) = self.temp_dir.take() {
            std::fs::remove_dir_all(dir)?;
        }
        Ok(())
    }
}
