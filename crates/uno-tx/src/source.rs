//! What a transaction can be started on.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool, SqlStr, Transaction};

use crate::backend::Backend;
use crate::closure::TransactionFn;
use crate::error::Error;
use crate::level;
use crate::transaction::run_once;
use crate::tx::Tx;

/// Something [`transaction`](crate::transaction) can begin on: a pool (`&Pool<DB>`), a
/// connection (`&mut SqliteConnection`, `&mut PgConnection`, `&mut MySqlConnection`,
/// `&mut PoolConnection<DB>`), or an open transaction (`&mut Transaction<'_, DB>`,
/// `&mut Tx<DB>`), in which case the new transaction is a savepoint inside it.
///
/// Sealed: implemented by uno-tx for the types above.
///
/// # Cancel safety
///
/// From a pool, a cancelled transaction never leaves a connection inside a
/// transaction: the pool rolls it back before reusing it, and where sqlx cannot (a
/// cancelled `BEGIN` on PostgreSQL and MySQL, sqlx issue 4385; a cancelled query on
/// MySQL) uno-tx closes the connection instead. On a connection you lend, uno-tx
/// cannot do that: on PostgreSQL and MySQL a cancellation while `BEGIN` is in flight
/// can leave that connection inside a transaction. Prefer pools there, or do not
/// cancel while beginning.
pub trait TransactionSource<'c>: Send + sealed::Sealed {
    /// The database the transaction runs on.
    type Database: Backend;

    /// What the transaction runs on.
    #[doc(hidden)]
    fn into_source(self) -> Source<'c, Self::Database>;
}

/// What a transaction runs on: a pool, whose connections uno-tx manages, or a
/// connection the caller lends.
#[doc(hidden)]
#[derive(Debug)]
pub enum Source<'c, DB: Database> {
    /// Take a connection from the pool for this transaction.
    Pool(&'c Pool<DB>),
    /// Run on this connection (a savepoint when it is inside a transaction).
    Connection(&'c mut DB::Connection),
}

pub(crate) mod sealed {
    /// Keeps [`TransactionSource`](super::TransactionSource) implemented by uno-tx alone.
    pub trait Sealed {}
}

impl<DB: Backend> sealed::Sealed for &Pool<DB> {}

impl<'c, DB: Backend> TransactionSource<'c> for &'c Pool<DB> {
    type Database = DB;

    fn into_source(self) -> Source<'c, DB> {
        Source::Pool(self)
    }
}

impl<DB: Backend> sealed::Sealed for &mut PoolConnection<DB> {}

impl<'c, DB: Backend> TransactionSource<'c> for &'c mut PoolConnection<DB> {
    type Database = DB;

    fn into_source(self) -> Source<'c, DB> {
        Source::Connection(&mut **self)
    }
}

impl<DB: Backend> sealed::Sealed for &mut Transaction<'_, DB> {}

impl<'c, DB: Backend> TransactionSource<'c> for &'c mut Transaction<'_, DB> {
    type Database = DB;

    fn into_source(self) -> Source<'c, DB> {
        Source::Connection(&mut **self)
    }
}

impl<DB: Backend> sealed::Sealed for &mut Tx<DB> {}

impl<'c, DB: Backend> TransactionSource<'c> for &'c mut Tx<DB> {
    type Database = DB;

    fn into_source(self) -> Source<'c, DB> {
        Source::Connection(&mut **self)
    }
}

/// Implements [`TransactionSource`] for a backend's own connection type.
macro_rules! connection_source {
    ($feature:literal, $database:ty, $connection:ty) => {
        #[cfg(feature = $feature)]
        impl sealed::Sealed for &mut $connection {}

        #[cfg(feature = $feature)]
        #[cfg_attr(docsrs, doc(cfg(feature = $feature)))]
        impl<'c> TransactionSource<'c> for &'c mut $connection {
            type Database = $database;

            fn into_source(self) -> Source<'c, $database> {
                Source::Connection(self)
            }
        }
    };
}

connection_source!("sqlite", sqlx::Sqlite, sqlx::SqliteConnection);
connection_source!("postgres", sqlx::Postgres, sqlx::PgConnection);
connection_source!("mysql", sqlx::MySql, sqlx::MySqlConnection);

/// Runs `f` in a transaction (or savepoint) on a connection the caller lent.
pub(crate) async fn run_lent<DB, T, E, F>(
    connection: &mut DB::Connection,
    f: F,
) -> Result<T, Error<E>>
where
    DB: Backend,
    F: for<'a> TransactionFn<'a, DB::Connection, Result<T, E>>,
{
    let level = level::begin::<DB>(connection, None)
        .await
        .map_err(Error::Begin)?;
    run_once(level, f).await
}

/// Takes a connection from `pool` and begins a transaction on it with `statement`
/// (`None` for a plain `BEGIN`).
///
/// Waiting for the connection is cancel-safe. `BEGIN` itself is not, on backends where
/// cancelling it can leave the connection inside a transaction that nothing rolls back
/// (sqlx issue 4385): there a [`FinishBegin`] guard hands a `BEGIN` whose caller went
/// away to a task that completes it and rolls it back.
pub(crate) async fn begin_on_pool<DB: Backend>(
    pool: &Pool<DB>,
    statement: Option<SqlStr>,
) -> Result<Transaction<'static, DB>, sqlx::Error> {
    let connection = pool.acquire().await?;
    // `Transaction::begin` is the only way to begin on a connection already taken
    // from the pool and keep it owned (`Pool::begin_with` takes its own connection,
    // and a task running it would keep waiting for one after the caller gave up).
    let begin = Transaction::begin(connection, statement);
    if !DB::BEGIN_IS_CANCEL_UNSAFE {
        return begin.await;
    }
    FinishBegin {
        begin: Some(begin),
        polled: false,
    }
    .await
}

/// A `BEGIN` in flight that is driven to completion even if its caller goes away.
///
/// The happy path polls `BEGIN` in the caller's task, with no spawn. Dropped after its
/// first poll and before it finished, the guard moves the `BEGIN` into a task that
/// finishes it and rolls the new transaction back, so the connection returns to the
/// pool outside any transaction.
struct FinishBegin<DB: Database> {
    begin: Option<BoxFuture<'static, Result<Transaction<'static, DB>, sqlx::Error>>>,
    /// Before the first poll nothing was sent, and dropping is safe as it is.
    polled: bool,
}

impl<DB: Database> Future for FinishBegin<DB> {
    type Output = Result<Transaction<'static, DB>, sqlx::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.polled = true;
        let Some(begin) = self.begin.as_mut() else {
            return Poll::Ready(Err(sqlx::Error::Protocol(
                "uno-tx polled a finished BEGIN".into(),
            )));
        };
        let begun = ready!(begin.as_mut().poll(cx));
        self.begin = None;
        Poll::Ready(begun)
    }
}

impl<DB: Database> Drop for FinishBegin<DB> {
    fn drop(&mut self) {
        let Some(begin) = self.begin.take() else {
            return;
        };
        if !self.polled {
            return;
        }
        // Without a runtime (it is shutting down) there is nowhere to finish the
        // BEGIN; the pool is going away with it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Ok(unwanted) = begin.await {
                    // If this fails the connection is broken, and the pool's check on
                    // release discards it.
                    let _ = unwanted.rollback().await;
                }
            });
        }
    }
}
