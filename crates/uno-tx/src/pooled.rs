//! One transaction on a connection taken from a pool, how long it may take (the
//! manager's timeout and the caller's deadline), and what happens to that connection
//! when the caller goes away part-way.
//!
//! Invariants this file keeps:
//! - Without a timeout and a deadline nothing is timed and nothing extra is sent.
//! - The cap (the earlier of the timeout and the deadline) bounds everything but the
//!   final `COMMIT`/`ROLLBACK`, whose interruption would leave the outcome unknown; when
//!   the deadline is the earlier, running out is reported as `Error::DeadlinePassed`.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Pool, SqlStr};
use tokio::time::Instant;

use crate::backend::Backend;
use crate::closure::TransactionFn;
use crate::error::Error;
use crate::level;
use crate::metrics;
use crate::transaction::{catch_panic, finish, settle};

/// Finds the database error inside a closure's error, where the entry point can (a
/// `TransactionManager`, whose closures' errors implement `AsSqlxError`).
pub(crate) type FindSqlxError<E> = for<'e> fn(&'e E) -> Option<&'e sqlx::Error>;

/// Takes a connection from `pool`, begins with `statement` (`None` for a plain
/// `BEGIN`), runs `f`, then commits or rolls back. `timeout`, if set, and the caller's
/// deadline (`uno_deadline::current()`), if any, bound everything but the final
/// `COMMIT`/`ROLLBACK`, whose interruption would leave the outcome unknown.
///
/// Under a deadline, a backend that can be told (PostgreSQL) is also told to stop any
/// statement still running at the deadline; `find_sqlx_error` lets a statement the
/// server stopped that way be reported as the deadline passing.
///
/// The connection is held by a [`Lease`], so that a caller dropped part-way leaves it
/// in a state the pool can handle; see there.
pub(crate) async fn run_pooled<DB, T, E, F>(
    pool: &Pool<DB>,
    statement: Option<SqlStr>,
    timeout: Option<Duration>,
    find_sqlx_error: FindSqlxError<E>,
    f: F,
) -> Result<T, Error<E>>
where
    DB: Backend,
    F: for<'a> TransactionFn<'a, DB::Connection, Result<T, E>>,
{
    // One block for the transaction, whose early returns all reach the report below.
    let result = async {
        let deadline = uno_deadline::current();
        let cap = match Cap::new(timeout, deadline) {
            Ok(cap) => cap,
            Err(passed) => return Err(passed),
        };
        let connection = match cap.wait(pool.acquire()).await {
            Ok(acquired) => acquired.map_err(Error::Begin)?,
            Err(ran_out) => return Err(ran_out),
        };
        let mut lease = Lease {
            connection,
            stage: Stage::Beginning,
        };
        // Read the time left only now, after waiting for the connection, so that the
        // server is told no more than what is really left.
        let told_server = deadline.and_then(|deadline| {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let statement = DB::begin_statement_under_deadline(statement.as_ref(), remaining)?;
            Some((deadline, statement))
        });
        let statement = match &told_server {
            Some((_, with_deadline)) => Some(with_deadline.clone()),
            None => statement,
        };
        let mut transaction = match cap
            .wait(level::begin::<DB>(&mut lease.connection, statement))
            .await
        {
            Ok(begun) => begun.map_err(Error::Begin)?,
            Err(ran_out) => return Err(ran_out),
        };
        lease.stage = Stage::Running;
        let outcome = match cap.wait(catch_panic(f(&mut *transaction))).await {
            Ok(outcome) => outcome,
            Err(ran_out) => {
                // Dropping the transaction queues its ROLLBACK, which the pool sends before
                // reusing the connection (or the lease closes the connection). Awaiting it
                // here could wait as long as the query the cap just interrupted.
                drop(transaction);
                return Err(ran_out);
            }
        };
        // A statement the server stopped at the deadline it was told about is the deadline
        // passing, not the closure's own failure. The server's timer starts after the
        // client's and is rounded up, so it never fires before the deadline; one that did
        // was the caller's own (a shorter `statement_timeout`, a cancel).
        let stopped_at_deadline = told_server.and_then(|(deadline, _)| match &outcome {
            Ok(Err(error))
                if Instant::now() >= deadline
                    && find_sqlx_error(error).is_some_and(is_statement_cancelled) =>
            {
                Some(deadline)
            }
            _ => None,
        });
        let mut finished = finish(transaction, outcome).await;
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
        if let (Some(deadline), Ok(Err(Error::Aborted(_)))) = (stopped_at_deadline, &finished) {
            finished = Ok(Err(Error::DeadlinePassed { deadline }));
        }
        settle(finished)
    }
    .await;
    metrics::attempt_ended(DB::BACKEND_NAME, &result);
    result
}

/// Whether `error` is PostgreSQL stopping a statement (SQLSTATE `57014`,
/// `query_canceled`), as its `statement_timeout` does.
fn is_statement_cancelled(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(database_error) => database_error.code().as_deref() == Some("57014"),
        _ => false,
    }
}

/// How long one transaction may take: until the earlier of its timeout's end and the
/// caller's deadline, and which of the two that is.
#[derive(Debug, Clone, Copy)]
struct Cap {
    /// `None`: no timeout and no deadline, nothing is timed.
    until: Option<(Instant, Limit)>,
}

/// What ends a [`Cap`].
#[derive(Debug, Clone, Copy)]
enum Limit {
    Timeout(Duration),
    Deadline,
}

impl Cap {
    /// The cap of a transaction starting now, or [`Error::DeadlinePassed`] when the
    /// deadline has already passed (the transaction must not start).
    fn new<E>(timeout: Option<Duration>, deadline: Option<Instant>) -> Result<Self, Error<E>> {
        if timeout.is_none() && deadline.is_none() {
            return Ok(Cap { until: None });
        }
        let now = Instant::now();
        if let Some(deadline) = deadline
            && now >= deadline
        {
            return Err(Error::DeadlinePassed { deadline });
        }
        // A timeout too large to add to the clock (such as `Duration::MAX`) means none.
        let timeout_end = timeout.and_then(|limit| Some((now.checked_add(limit)?, limit)));
        let until = match (timeout_end, deadline) {
            // The deadline wins a tie: it is the caller's, and the one that cannot move.
            (Some((end, limit)), Some(deadline)) if end < deadline => {
                Some((end, Limit::Timeout(limit)))
            }
            (_, Some(deadline)) => Some((deadline, Limit::Deadline)),
            (Some((end, limit)), None) => Some((end, Limit::Timeout(limit))),
            (None, None) => None,
        };
        Ok(Cap { until })
    }

    /// Awaits `future` until the cap; at the cap, the error that says which limit it
    /// was.
    ///
    /// The future is polled first, and the clock is read as well as the timer, so that
    /// under a caller's `uno_deadline::within` whose timer fires at the same instant,
    /// the transaction (polled inside it) always answers first with its own error.
    async fn wait<F: Future, E>(&self, future: F) -> Result<F::Output, Error<E>> {
        let Some((until, limit)) = self.until else {
            return Ok(future.await);
        };
        let mut future = pin!(future);
        let mut timer = pin!(tokio::time::sleep_until(until));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(Ok(output));
            }
            if Instant::now() >= until || timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(match limit {
                    Limit::Timeout(limit) => Error::Timeout { limit },
                    Limit::Deadline => Error::DeadlinePassed { deadline: until },
                }));
            }
            Poll::Pending
        })
        .await
    }
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
