//! What a transaction can be started on.

use std::future::Future;

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Pool, SqlStr, Transaction};

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
/// From a pool, `BEGIN` runs to completion even if the caller is cancelled, and a
/// transaction nobody is waiting for any more is rolled back before its connection goes
/// back to the pool (this avoids sqlx issue 4385 on PostgreSQL and MySQL). On a
/// connection you lend, uno-tx cannot finish `BEGIN` after you cancel: on PostgreSQL and
/// MySQL a cancellation while `BEGIN` is in flight can leave that connection inside a
/// transaction. Prefer pools there, or do not cancel while beginning.
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
/// (sqlx issue 4385): there it runs in a task of its own, which finishes even if the
/// caller goes away and then rolls back the transaction nobody received.
pub(crate) async fn begin_on_pool<DB: Backend>(
    pool: &Pool<DB>,
    statement: Option<SqlStr>,
) -> Result<Transaction<'static, DB>, sqlx::Error> {
    let connection = pool.acquire().await?;
    if !DB::BEGIN_IS_CANCEL_UNSAFE {
        return Transaction::begin(connection, statement).await;
    }
    let (sender, receiver) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        // `Transaction::begin` is the only way to begin on a connection already taken
        // from the pool and keep it owned (`Pool::begin_with` would take another one
        // inside the task, and keep waiting for it after the caller gave up).
        let begun = Transaction::begin(connection, statement).await;
        if let Err(Ok(unwanted)) = sender.send(begun) {
            // The caller was cancelled while BEGIN was in flight. Roll back now, so the
            // connection goes back to the pool outside any transaction; if this fails
            // the connection is broken and the pool's check on release discards it.
            let _ = unwanted.rollback().await;
        }
    });
    match receiver.await {
        Ok(begun) => begun,
        Err(_) => Err(sqlx::Error::Io(std::io::Error::other(
            "the task beginning the transaction was stopped; is the runtime shutting down?",
        ))),
    }
}
