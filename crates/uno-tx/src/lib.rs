//! Database transactions over sqlx that commit, roll back and retry correctly.
//!
//! `transaction` runs an async closure inside a transaction: it commits when the
//! closure returns `Ok` and rolls back on `Err`, on panic and on cancellation, leaving
//! no connection inside an open transaction. `TransactionManager` adds what a service
//! needs around that: isolation levels, SQLite's begin modes, read-only transactions,
//! timeouts and retry of serialization failures and deadlocks. SQLite (embedded) is the
//! default backend; PostgreSQL and MySQL/MariaDB are features.
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
