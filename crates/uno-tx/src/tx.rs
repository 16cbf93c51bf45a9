//! `Tx`: a transaction guard that rolls back unless committed.

use std::fmt;
use std::ops::{Deref, DerefMut};

use sqlx::{Database, Transaction};

use crate::backend::Backend;
use crate::error::Error;
use crate::level::depth;

/// An open transaction from [`TransactionManager::begin`](crate::TransactionManager::begin):
/// commit it with [`Tx::commit`]; anything else rolls it back.
///
/// `Tx` dereferences to the connection, so queries run on `&mut *tx`. A savepoint
/// inside it is one [`transaction(&mut tx, ..)`](crate::transaction) away.
///
/// Dropping a `Tx` without committing rolls it back: sqlx queues the `ROLLBACK`, and the
/// pool sends it when the connection comes back, before anyone else can use it.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sqlx::SqlitePool;
/// use uno_tx::TransactionManager;
///
/// let pool = SqlitePool::connect("sqlite::memory:").await?;
/// let manager = TransactionManager::write(pool);
///
/// let mut tx = manager.begin().await?;
/// sqlx::query("CREATE TABLE t (x INTEGER)").execute(&mut *tx).await?;
/// tx.commit().await?;
/// # Ok(())
/// # }
/// ```
#[must_use = "a transaction that is dropped is rolled back; call `commit` to keep its work"]
pub struct Tx<DB: Database> {
    transaction: Transaction<'static, DB>,
}

impl<DB: Database> Tx<DB> {
    pub(crate) fn new(transaction: Transaction<'static, DB>) -> Self {
        Tx { transaction }
    }
}

impl<DB: Backend> Tx<DB> {
    /// Commits the transaction.
    ///
    /// # Errors
    ///
    /// [`Error::Commit`] when `COMMIT` fails; unless [`Error::is_retryable`] says it was
    /// a serialization failure or deadlock, the outcome is then unknown.
    /// [`Error::Lost`] when something else on the connection (a raw sqlx `begin`
    /// cancelled while its `SAVEPOINT` was in flight) already ended the transaction:
    /// nothing is committed then.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while `COMMIT` is in flight leaves the outcome unknown.
    pub async fn commit(mut self) -> Result<(), Error> {
        // A `Tx` is always the outermost transaction of its pool connection.
        const DEPTH: usize = 1;
        DB::settle(&mut self.transaction)
            .await
            .map_err(Error::Commit)?;
        let found = depth::<DB>(&self.transaction);
        if found != DEPTH {
            return Err(Error::Lost {
                expected_depth: DEPTH,
                found_depth: found,
            });
        }
        self.transaction.commit().await.map_err(Error::Commit)
    }

    /// Rolls the transaction back.
    ///
    /// # Errors
    ///
    /// [`Error::Rollback`] when `ROLLBACK` fails (the connection is then broken).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future still rolls back, as dropping the `Tx` does.
    pub async fn rollback(self) -> Result<(), Error> {
        self.transaction
            .rollback()
            .await
            .map_err(|source| Error::Rollback {
                aborted: None,
                source,
            })
    }
}

impl<DB: Database> Deref for Tx<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &Self::Target {
        &self.transaction
    }
}

impl<DB: Database> DerefMut for Tx<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.transaction
    }
}

impl<DB: Database> fmt::Debug for Tx<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx").finish_non_exhaustive()
    }
}
