//! One transaction on a connection taken from a pool, and what happens to that
//! connection when the caller goes away part-way.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Pool, SqlStr};
use tokio::time::Instant;

use crate::backend::Backend;
use crate::closure::TransactionFn;
use crate::error::Error;
use crate::level;
use crate::transaction::{catch_panic, finish, settle};

/// Takes a connection from `pool`, begins with `statement` (`None` for a plain
/// `BEGIN`), runs `f`, then commits or rolls back. `timeout`, if set, bounds everything
/// but the final `COMMIT`/`ROLLBACK`, whose interruption would leave the outcome
/// unknown.
///
/// The connection is held by a [`Lease`], so that a caller dropped part-way leaves it
/// in a state the pool can handle; see there.
pub(crate) async fn run_pooled<DB, T, E, F>(
    pool: &Pool<DB>,
    statement: Option<SqlStr>,
    timeout: Option<Duration>,
    f: F,
) -> Result<T, Error<E>>
where
    DB: Backend,
    F: for<'a> TransactionFn<'a, DB::Connection, Result<T, E>>,
{
    // A timeout too large to add to the clock (such as `Duration::MAX`) means none.
    let deadline = timeout.and_then(|limit| Instant::now().checked_add(limit));
    let timed_out = || Error::Timeout {
        limit: timeout.unwrap_or_default(),
    };
    let connection = match within(deadline, pool.acquire()).await {
        Some(acquired) => acquired.map_err(Error::Begin)?,
        None => return Err(timed_out()),
    };
    let mut lease = Lease {
        connection,
        stage: Stage::Beginning,
    };
    let mut transaction = match within(
        deadline,
        level::begin::<DB>(&mut lease.connection, statement),
    )
    .await
    {
        Some(begun) => begun.map_err(Error::Begin)?,
        None => return Err(timed_out()),
    };
    lease.stage = Stage::Running;
    let Some(outcome) = within(deadline, catch_panic(f(&mut *transaction))).await else {
        // Dropping the transaction queues its ROLLBACK, which the pool sends before
        // reusing the connection (or the lease closes the connection). Awaiting it
        // here could wait as long as the query the timeout just interrupted.
        drop(transaction);
        return Err(timed_out());
    };
    let finished = finish(transaction, outcome).await;
    lease.stage = Stage::Settled;
    // A transaction that something else ended, or that could not be rolled back, may
    // leave sqlx's idea of the connection's depth wrong: such a connection is closed
    // (the server then ends whatever it still holds), never reused.
    if matches!(
        finished,
        Ok(Err(Error::Lost { .. } | Error::Rollback { .. }))
    ) {
        lease.connection.close_on_drop();
    }
    settle(finished)
}

/// A pool connection lent to one transaction. Dropped before the transaction settled
/// (its caller was cancelled, or timed out), it closes the connection instead of
/// returning it to the pool wherever sqlx could not recover it:
///
/// - while `BEGIN` is in flight on PostgreSQL and MySQL, where sqlx 0.9 would return
///   the connection inside a transaction it does not know about (sqlx issue 4385);
/// - while a query or `COMMIT` is in flight on MySQL, where releasing the connection can
///   hang forever.
///
/// Elsewhere the connection goes back to the pool, which sends the `ROLLBACK` sqlx
/// queued before anyone else can use it. Closing a connection makes the server abort
/// its transaction; the pool opens a new one when needed.
struct Lease<DB: Backend> {
    connection: PoolConnection<DB>,
    stage: Stage,
}

/// How far a [`Lease`]'s transaction got.
#[derive(Debug, Clone, Copy)]
enum Stage {
    Beginning,
    Running,
    Settled,
}

impl<DB: Backend> Drop for Lease<DB> {
    fn drop(&mut self) {
        let close = match self.stage {
            Stage::Beginning => DB::BEGIN_IS_CANCEL_UNSAFE,
            Stage::Running => DB::QUERY_IS_CANCEL_UNSAFE,
            Stage::Settled => false,
        };
        if close {
            self.connection.close_on_drop();
        }
    }
}

/// Awaits `future` until `deadline`; `None` if the deadline passed first.
pub(crate) async fn within<F: std::future::Future>(
    deadline: Option<Instant>,
    future: F,
) -> Option<F::Output> {
    match deadline {
        None => Some(future.await),
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
    }
}
