//! Async resources whose cleanup always runs.
//!
//! Rust has no async drop, so an async `cleanup` is easy to lose when its owner returns
//! early, panics or is cancelled. This crate gives resources an explicit async
//! lifecycle ([`AsyncResource`]: `initialize`, `cleanup`), wraps them so that cleanup
//! runs on every exit path ([`Managed`], [`using`]), shares one resource across
//! `'static` tasks and cleans it up after its last user ([`SharedManaged`]), closes
//! groups of resources in reverse order ([`ResourceStack`], Python's `AsyncExitStack`)
//! and pools them on deadpool ([`ResourcePool`]). A resource dropped without being closed is cleaned up
//! in the background on a [`CleanupTracker`], which the application awaits before it
//! exits, so that no cleanup is lost at shutdown.
//!
//! # Example
//!
//! Python uno's `DatabaseConnection(AsyncResource)`, in Rust:
//!
//! ```
//! use std::time::Duration;
//!
//! use uno_resource::{AsyncResource, CleanupTracker, Managed, using};
//!
//! #[derive(Debug)]
//! struct DatabaseConnection {
//!     url: String,
//!     connected: bool,
//! }
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("database error: {0}")]
//! struct DbError(String);
//!
//! impl DatabaseConnection {
//!     fn new(url: &str) -> Self {
//!         Self { url: url.to_owned(), connected: false }
//!     }
//!
//!     async fn query(&self, sql: &str) -> Result<Vec<String>, DbError> {
//!         assert!(self.connected, "query on a closed connection");
//!         Ok(vec![format!("{sql} on {}", self.url)])
//!     }
//! }
//!
//! impl AsyncResource for DatabaseConnection {
//!     type Error = DbError;
//!
//!     async fn initialize(&mut self) -> Result<(), DbError> {
//!         tokio::time::sleep(Duration::from_millis(10)).await; // connect
//!         self.connected = true;
//!         Ok(())
//!     }
//!
//!     async fn cleanup(&mut self) -> Result<(), DbError> {
//!         self.connected = false; // disconnect
//!         Ok(())
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // `async with DatabaseConnection(url) as db:`
//!     let rows = using(DatabaseConnection::new("postgres://localhost/app"), async |db| {
//!         db.query("SELECT 1").await
//!     })
//!     .await?;
//!     assert_eq!(rows.len(), 1);
//!
//!     // Or open and close it yourself; dropped without `close`, it is still cleaned up.
//!     let db = Managed::open(DatabaseConnection::new("postgres://localhost/app")).await?;
//!     db.query("SELECT 2").await?;
//!     db.close().await?;
//!
//!     // Before exiting, wait for cleanups of resources that were dropped unclosed.
//!     CleanupTracker::global().wait().await;
//!     Ok(())
//! }
//! ```
//!
//! # Features
//!
//! - `tracing`: logs background cleanup failures and discarded pool resources.
//! - `metrics`: a [`ResourcePool`]'s gauges and exhaustion on the
//!   [`metrics`](https://docs.rs/metrics) facade, labelled with its
//!   [`name`](ResourcePoolBuilder::name) (`unnamed` without one). The gauges are read
//!   from the pool's status whenever an acquire starts waiting or ends (however it
//!   ends) and whenever a resource goes back:
//!
//!   | name | kind | labels | what |
//!   | --- | --- | --- | --- |
//!   | `uno_pool_size` | gauge | `pool` | resources the pool holds, idle or acquired |
//!   | `uno_pool_idle` | gauge | `pool` | idle resources |
//!   | `uno_pool_waiting` | gauge | `pool` | callers of `acquire` waiting for a resource |
//!   | `uno_pool_acquire_timeouts_total` | counter | `pool` | acquires that ran out of time (the pool was exhausted) |
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod error;
mod managed;
#[cfg(feature = "metrics")]
mod metrics;
mod pool;
mod resource;
mod shared;
mod stack;
mod tracker;
mod using;

pub use crate::error::{BoxError, BuildError, Error};
pub use crate::managed::Managed;
pub use crate::pool::{MAX_POOL_SIZE, Pooled, ResourcePool, ResourcePoolBuilder};
pub use crate::resource::AsyncResource;
pub use crate::shared::{SharedClose, SharedManaged};
pub use crate::stack::{ResourceStack, StackKey};
pub use crate::tracker::{CleanupTracker, DEFAULT_CLEANUP_TIMEOUT};
pub use crate::using::{using, using_in};

/// Compiles and runs the README's example.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
