//! Database transactions over sqlx that commit, roll back and retry correctly.
//!
//! [`transaction`] runs an async closure inside a transaction: it commits when the
//! closure returns `Ok` and rolls back on `Err`, on panic and on cancellation, leaving
//! no pool connection inside an open transaction. [`TransactionManager`] adds what a
//! service needs around that: isolation levels, SQLite's begin modes, read-only
//! transactions, timeouts and retry of serialization failures and deadlocks. SQLite
//! (embedded) is the default backend; PostgreSQL and MySQL/MariaDB are features.
//!
//! Transactions from a pool honour the caller's deadline (`uno_deadline::within`): the
//! timeout is capped by the time left, running out is [`Error::DeadlinePassed`], and
//! PostgreSQL is told with `SET LOCAL statement_timeout` so the server stops a
//! statement too (see "Deadlines" in [`TransactionManager::run`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sqlx::SqlitePool;
//! use uno_tx::{TransactionManager, transaction};
//!
//! let pool = SqlitePool::connect("sqlite::memory:").await?;
//! sqlx::query("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)")
//!     .execute(&pool)
//!     .await?;
//!
//! // Commit on Ok.
//! transaction(&pool, async |conn| {
//!     sqlx::query("INSERT INTO accounts VALUES (1, 100), (2, 0)")
//!         .execute(&mut *conn)
//!         .await
//! })
//! .await?;
//!
//! // Roll back on Err: the caller's error comes back, the debit is undone.
//! let failed = transaction(&pool, async |conn| {
//!     sqlx::query("UPDATE accounts SET balance = balance - 500 WHERE id = 1")
//!         .execute(&mut *conn)
//!         .await?;
//!     Err::<(), _>(sqlx::Error::RowNotFound)
//! })
//! .await;
//! assert!(matches!(failed, Err(uno_tx::Error::Aborted(sqlx::Error::RowNotFound))));
//!
//! // A manager for writers (BEGIN IMMEDIATE on SQLite).
//! let manager = TransactionManager::write(pool.clone());
//! let balance: i64 = manager
//!     .run(async |conn| {
//!         sqlx::query_scalar("SELECT balance FROM accounts WHERE id = 1")
//!             .fetch_one(&mut *conn)
//!             .await
//!     })
//!     .await?;
//! assert_eq!(balance, 100);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `sqlite` | yes | SQLite, with the library bundled |
//! | `postgres` | no | PostgreSQL |
//! | `mysql` | no | MySQL and MariaDB |
//! | `retry` | no | `TransactionManagerBuilder::retry`, on uno-retry |
//! | `tracing` | no | a `transaction` span per transaction, with its attempt number |
//! | `metrics` | no | counters on the [`metrics`](https://docs.rs/metrics) facade, below |
//!
//! With `metrics`, every transaction from a pool (`transaction(&pool, ..)`, `run`,
//! `run_once`) reports:
//!
//! | name | labels | counts |
//! | --- | --- | --- |
//! | `uno_tx_attempts_total` | `backend`, `outcome` | transactions tried, each attempt of a retried `run` apart, by how it ended: `committed`, `rolled_back` (its work is not in the database), `begin_failed`, `commit_failed` |
//! | `uno_tx_retries_total` | `backend` | attempts after the first of a retried `run` |
//!
//! `backend` is `SQLite`, `PostgreSQL` or `MySQL`. A transaction whose future was
//! dropped (it rolls back) is not counted.
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod classify;
mod closure;
mod error;
mod level;
mod manager;
mod metrics;
mod options;
mod pooled;
mod source;
mod span;
mod transaction;
mod tx;

pub use crate::backend::Backend;
pub use crate::classify::is_retryable;
pub use crate::closure::{TransactionFn, TransactionFnMut};
pub use crate::error::{AsSqlxError, BuildError, Error, via};
pub use crate::manager::{TransactionManager, TransactionManagerBuilder};
pub use crate::options::{AccessMode, BeginMode, IsolationLevel};
pub use crate::source::TransactionSource;
pub use crate::transaction::transaction;
pub use crate::tx::Tx;

/// Compiles and runs the README's example as a doctest.
#[cfg(all(doctest, feature = "sqlite"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
