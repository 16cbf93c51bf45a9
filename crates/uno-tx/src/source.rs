//! What a transaction can be started on.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::future::BoxFuture;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Database, Pool, SqlStr, Transaction};

use crate::backend::Backend;
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
/// From a pool, `BEGIN` runs to completion even if the caller is cancelled (in a task
/// of its own once the caller is gone), and a transaction nobody is waiting for any
/// more is rolled back before its connection goes back to the pool; this avoids sqlx
/// issue 4385 on PostgreSQL and MySQL. On a connection you lend, uno-tx cannot finish
/// `BEGIN` after you cancel: on PostgreSQL and MySQL a cancellation while `BEGIN` is in
/// flight can leave that connection inside a transaction. Prefer pools there, or do
/// not cancel while beginning.
pub trait TransactionSource<'c>: Send + sealed::Sealed {
    /// The database the transaction runs on.
    type Database: Backend;

    /// Begins a transaction (or a savepoint) with sqlx's plain `BEGIN`.
    #[doc(hidden)]
    fn begin_transaction(
        self,
    ) -> impl Future<Output = Result<Transaction<'c, Self::Database>, sqlx::Error>> + Send + 'c;
}

pub(crate) mod sealed {
    /// Keeps [`TransactionSource`](super::TransactionSource) implemented by uno-tx alone.
    pub trait Sealed {}
}

impl<DB: Backend> sealed::Sealed for &Pool<DB> {}

impl<'c, DB: Backend> TransactionSource<'c> for &'c Pool<DB> {
    type Database = DB;

    async fn begin_transaction(self) -> Result<Transaction<'c, DB>, sqlx::Error> {
        // The transaction owns its pool connection, so it outlives `'c`.
        let transaction: Transaction<'static, DB> = begin_on_pool(self, None).await?;
        Ok(transaction)
    }
}

impl<DB: Backend> sealed::Sealed for &mut PoolConnection<DB> {}

impl<'c, DB: Backend> TransactionSource<'c> for &'c mut PoolConnection<DB> {
    type Database = DB;

    fn begin_transaction(
        self,
    ) -> impl Future<Output = Result<Transaction<'c, DB>, sqlx::Error>> + Send + 'c {
        Connection::begin(&mut **self)
    }
}

impl<DB: Backend> sealed::Sealed for &mut Transaction<'_, DB> {}

impl<'c, DB: Backend> TransactionSource<'c> for &'c mut Transaction<'_, DB> {
    type Database = DB;

    fn begin_transaction(
        self,
    ) -> impl Future<Output = Result<Transaction<'c, DB>, sqlx::Error>> + Send + 'c {
        Connection::begin(&mut **self)
    }
}

impl<DB: Backend> sealed::Sealed for &mut Tx<DB> {}

impl<'c, DB: Backend> TransactionSource<'c> for &'c mut Tx<DB> {
    type Database = DB;

    fn begin_transaction(
        self,
    ) -> impl Future<Output = Result<Transaction<'c, DB>, sqlx::Error>> + Send + 'c {
        Connection::begin(&mut **self)
    }
}

/// Implements [`TransactionSource`] for a backend's own connection type.
macro_rules! connection_source {
    ($feature:literal, $database:ty, $connection:ty) => {
        #[cfg(feature = $feature)]
        impl sealed::Sealed for &mut $connection {}

        #[cfg(feature = $feature)]
        impl<'c> TransactionSource<'c> for &'c mut $connection {
            type Database = $database;

            fn begin_transaction(
                self,
            ) -> impl Future<Output = Result<Transaction<'c, $database>, sqlx::Error>> + Send + 'c
            {
                Connection::begin(self)
            }
        }
    };
}

connection_source!("sqlite", sqlx::Sqlite, sqlx::SqliteConnection);
connection_source!("postgres", sqlx::Postgres, sqlx::PgConnection);
connection_source!("mysql", sqlx::MySql, sqlx::MySqlConnection);

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
