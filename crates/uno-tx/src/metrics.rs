//! What transactions report on the `metrics` facade with the `metrics` feature;
//! without it the functions here are empty and compile away.
//!
//! | name | kind | labels | counts |
//! | --- | --- | --- | --- |
//! | `uno_tx_attempts_total` | counter | `backend`, `outcome` | transactions tried (every attempt of a retried `run`), by how each ended |
//! | `uno_tx_retries_total` | counter | `backend` | attempts after the first of a retried `run` |
//!
//! `backend` is `SQLite`, `PostgreSQL` or `MySQL`. `outcome` is `committed`;
//! `rolled_back` (the closure failed or panicked, the timeout or the caller's deadline
//! cut it, or the transaction was lost, so its work is not in the database);
//! `begin_failed` or `commit_failed`. A transaction whose future was
//! dropped (it rolls back) is not counted.

use crate::error::Error;

/// A transaction attempt on `backend` ended with `result`.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn attempt_ended<T, E>(backend: &'static str, result: &Result<T, Error<E>>) {
    #[cfg(feature = "metrics")]
    {
        let outcome = match result {
            Ok(_) => "committed",
            Err(Error::Begin(_)) => "begin_failed",
            Err(Error::Commit(_)) => "commit_failed",
            Err(_) => "rolled_back",
        };
        metrics::counter!("uno_tx_attempts_total", "backend" => backend, "outcome" => outcome)
            .increment(1);
    }
}

/// A retried run is starting another attempt on `backend`.
#[cfg(feature = "retry")]
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn retried(backend: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("uno_tx_retries_total", "backend" => backend).increment(1);
}
