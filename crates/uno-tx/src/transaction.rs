//! `transaction`: run a closure inside a transaction, and the commit/rollback logic
//! every entry point shares.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::pin;
use std::task::Poll;

use sqlx::Database;

use crate::backend::Backend;
use crate::backend::sealed::Sealed;
use crate::closure::TransactionFn;
use crate::error::Error;
use crate::level::{CommitFailure, Level};
use crate::pooled::run_pooled;
use crate::source::{Source, TransactionSource, run_lent};
use crate::span::TransactionSpan;

/// Runs `f` inside a transaction begun on `source`: commits when `f` returns `Ok`,
/// rolls back when it returns `Err`, when it panics and when the returned future is
/// dropped.
///
/// `source` is a pool (`&pool`), a connection (`&mut conn`), or an open transaction, in
/// which case the work runs in a savepoint (with a generated name) that is released or
/// rolled back on its own, leaving the outer transaction going. `f` is an async closure
/// taking `&mut DB::Connection`: run queries on `&mut *conn`.
///
/// The returned future is `Send` whenever the closure's future is, so it can run inside
/// `tokio::spawn`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sqlx::SqlitePool;
///
/// let pool = SqlitePool::connect("sqlite::memory:").await?;
/// sqlx::query("CREATE TABLE notes (body TEXT NOT NULL)")
///     .execute(&pool)
///     .await?;
///
/// let count = uno_tx::transaction(&pool, async |conn| {
///     sqlx::query("INSERT INTO notes (body) VALUES ('hello')")
///         .execute(&mut *conn)
///         .await?;
///     sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM notes")
///         .fetch_one(&mut *conn)
///         .await
/// })
/// .await?;
/// assert_eq!(count, 1);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// - [`Error::Begin`] when no connection or no `BEGIN` could be had; `f` did not run.
/// - [`Error::Aborted`] with `f`'s own error, after a successful rollback.
/// - [`Error::Rollback`] with `f`'s error beside the rollback's when that failed too.
/// - [`Error::Commit`] when `COMMIT` failed (see there for what that means).
/// - [`Error::Lost`] when something else on the connection ended the transaction
///   before it could commit; nothing was committed.
/// - [`Error::DeadlinePassed`] (from a pool only) when the caller's deadline passed
///   first; see "Deadlines".
///
/// # Deadlines
///
/// From a pool, the transaction honours the caller's deadline (`uno_deadline`) as
/// [`TransactionManager::run`](crate::TransactionManager::run) does: it does
/// not start once the deadline passed, it is rolled back with
/// [`Error::DeadlinePassed`] when the deadline passes before `f` finished, and on
/// PostgreSQL `BEGIN` also sets `SET LOCAL statement_timeout` so the server stops a
/// statement still running then. (Only the `COMMIT` is never cut short.) On a
/// connection or transaction you lend, uno-tx changes nothing: a savepoint cannot
/// scope a server setting, so the caller's own deadline is what stops the work.
///
/// # Panics
///
/// When `f` panics, the transaction is rolled back and then the panic resumes.
///
/// # Cancel safety
///
/// Dropping the future rolls the transaction back: a pool connection is rolled back
/// before it is reused, or closed where sqlx could not recover it (see
/// [`TransactionSource`]). A connection you lent rolls back on its next use (the
/// `ROLLBACK` is queued), and on PostgreSQL and MySQL cancelling during `BEGIN` on a
/// lent connection that is not in a transaction can leave it in one.
///
/// A savepoint dropped at any point never ends the transaction around it: dropped
/// while it begins, it leaves at most an empty savepoint; dropped while its closure
/// runs, it is rolled back to. Dropped while its `RELEASE` is in flight on PostgreSQL
/// or MySQL, its work stays, but the enclosing transaction then refuses to commit with
/// [`Error::Lost`] rather than risk committing a transaction the server aborted.
pub fn transaction<'c, S, T, E, F>(
    source: S,
    f: F,
) -> impl Future<Output = Result<T, Error<E>>> + Send + 'c
where
    S: TransactionSource<'c> + 'c,
    F: for<'a> TransactionFn<'a, <S::Database as Database>::Connection, Result<T, E>> + Send + 'c,
    T: Send + 'c,
    E: Send + 'c,
{
    let span = TransactionSpan::new(<S::Database as Sealed>::BACKEND_NAME);
    span.instrument(async move {
        match source.into_source() {
            Source::Pool(pool) => run_pooled(pool, None, None, |_| None, f).await,
            Source::Connection(connection) => run_lent::<S::Database, T, E, F>(connection, f).await,
        }
    })
}

/// Runs `f` once on an open transaction or savepoint, then commits or rolls back.
pub(crate) async fn run_once<DB, T, E, F>(mut level: Level<'_, DB>, f: F) -> Result<T, Error<E>>
where
    DB: Backend,
    F: for<'a> TransactionFn<'a, DB::Connection, Result<T, E>>,
{
    let outcome = catch_panic(f(&mut *level)).await;
    settle(finish(level, outcome).await)
}

/// A panic payload, caught in the closure and held until the transaction is rolled back.
pub(crate) type Panic = Box<dyn Any + Send>;

/// Commits on `Ok`, rolls back on `Err` and on a panic, whose payload comes back as
/// `Err` for [`settle`] to resume once the caller has done its own cleanup.
pub(crate) async fn finish<DB, T, E>(
    level: Level<'_, DB>,
    outcome: Result<Result<T, E>, Panic>,
) -> Result<Result<T, Error<E>>, Panic>
where
    DB: Backend,
{
    Ok(match outcome {
        Ok(Ok(value)) => match level.commit().await {
            Ok(()) => Ok(value),
            Err(CommitFailure::Database(source)) => Err(Error::Commit(source)),
            Err(CommitFailure::Lost { expected, found }) => Err(Error::Lost {
                expected_depth: expected,
                found_depth: found,
            }),
        },
        Ok(Err(error)) => match level.rollback().await {
            Ok(()) => Err(Error::Aborted(error)),
            Err(source) => Err(Error::Rollback {
                aborted: Some(error),
                source,
            }),
        },
        Err(panic) => {
            // Roll back before resuming, so that a lent connection does not keep its
            // locks until its next use. A rollback error is dropped: the panic is the
            // failure the caller must see.
            let _ = level.rollback().await;
            return Err(panic);
        }
    })
}

/// Returns the transaction's result, or resumes the closure's panic.
pub(crate) fn settle<T, E>(finished: Result<Result<T, Error<E>>, Panic>) -> Result<T, Error<E>> {
    match finished {
        Ok(result) => result,
        Err(panic) => resume_unwind(panic),
    }
}

/// Awaits `future`, turning a panic inside its `poll` into an `Err` with the payload.
pub(crate) async fn catch_panic<F: Future>(future: F) -> Result<F::Output, Panic> {
    let mut future = pin!(future);
    std::future::poll_fn(move |cx| {
        // After a panic the future is never polled again, so no broken invariant it
        // may hold is observed: asserting unwind safety is sound here.
        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        }
    })
    .await
}
