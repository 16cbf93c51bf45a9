//! The crate's error type and the trait that lets it find database errors.

use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use tokio::time::Instant;

use crate::classify::is_retryable;

/// What can go wrong around a transaction.
///
/// `E` is the error type of the caller's closure; it defaults to [`sqlx::Error`], the
/// common case, so `uno_tx::Error` alone names the error of a closure that only runs
/// queries. The caller's own error always comes back unchanged in [`Error::Aborted`]
/// (or beside a failed rollback in [`Error::Rollback`]); use [`Error::closure_error`]
/// or [`Error::into_closure_error`] to get at it without matching both.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error<E = sqlx::Error> {
    /// No transaction could be started: the pool gave no connection, or `BEGIN` failed.
    /// Nothing ran.
    #[error(
        "could not begin a transaction: {0}; check that the database is reachable and the pool is not exhausted"
    )]
    Begin(#[source] sqlx::Error),

    /// The closure returned `Err`; the transaction was rolled back.
    #[error("the transaction was rolled back because its closure failed: {0}")]
    Aborted(#[source] E),

    /// `COMMIT` failed. When [`is_retryable`] says the error is a serialization failure
    /// or deadlock, the database rolled the transaction back; for any other error
    /// (such as a broken connection) the outcome is unknown, and the work must not be
    /// re-run blindly.
    #[error(
        "committing the transaction failed: {0}; unless this is a serialization failure or deadlock, the outcome is unknown"
    )]
    Commit(#[source] sqlx::Error),

    /// `ROLLBACK` failed, after the closure failed (`aborted` holds its error) or when a
    /// [`Tx`](crate::Tx) was rolled back explicitly. A pool connection is tested
    /// before it is reused and closed if it is broken.
    #[error("{}", RollbackMessage { aborted: aborted.as_ref(), source })]
    Rollback {
        /// The closure's error that caused the rollback, if any.
        aborted: Option<E>,
        /// Why the rollback failed.
        #[source]
        source: sqlx::Error,
    },

    /// Something else on the connection ended this transaction (or savepoint) before it
    /// could commit, so uno-tx did not commit and its work is not in the database.
    ///
    /// uno-tx's own savepoints never cause this; sqlx's can: a raw `conn.begin()` inside
    /// the closure whose future is dropped while its `SAVEPOINT` is in flight rolls back
    /// the enclosing transaction (sqlx 0.9). Statements run after that on the same
    /// connection ran outside any transaction and may have committed one by one. Use
    /// [`transaction(&mut *conn, ..)`](crate::transaction) for nested work, and run the
    /// whole transaction again.
    #[error(
        "the transaction was ended by something else on its connection before it could commit (expected nesting depth {expected_depth}, found {found_depth}); nothing was committed, and statements run since may have run outside the transaction; nest with uno_tx::transaction instead of a raw sqlx begin, and run the transaction again"
    )]
    Lost {
        /// The depth (1 for a transaction, 2 and more for savepoints) the transaction
        /// had when it began.
        expected_depth: usize,
        /// The depth the connection reported when the commit was due.
        found_depth: usize,
    },

    /// The transaction did not finish within the manager's timeout; it was rolled back.
    #[error(
        "the transaction did not finish within {limit:?} and was rolled back; raise the timeout or shorten the transaction"
    )]
    Timeout {
        /// The configured timeout.
        limit: Duration,
    },

    /// The caller's deadline (see `uno_deadline`) passed before the transaction could
    /// finish: it had already passed when the transaction was to start (then nothing
    /// ran and the database was not touched), or it passed while waiting for a
    /// connection, during `BEGIN` or while the closure ran (then the transaction was
    /// rolled back). Nothing was committed. On PostgreSQL it is also reported when the
    /// server stopped a statement at the deadline (see
    /// [`TransactionManager::run`](crate::TransactionManager::run)). Never retryable:
    /// running again under the same deadline cannot succeed.
    #[error(
        "the caller's deadline passed before the transaction finished, so nothing was committed; give the call more time, or do less in the transaction"
    )]
    DeadlinePassed {
        /// The caller's effective deadline, the one that passed.
        deadline: Instant,
    },
}

/// Why [`TransactionManagerBuilder::build`](crate::TransactionManagerBuilder::build)
/// refused its options. Apart from [`Error`], which says how one transaction ended, so
/// that each error type holds only what can happen where it is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A zero timeout: every transaction would time out.
    #[error(
        "the transaction timeout is zero, so every transaction would time out; use a positive duration, or none"
    )]
    ZeroTimeout,

    /// The backend cannot run a transaction with the requested option.
    #[error("{backend} cannot run transactions with {option}; choose an option it supports")]
    Unsupported {
        /// The option, such as `isolation level REPEATABLE READ`.
        option: &'static str,
        /// The backend, such as `SQLite`.
        backend: &'static str,
    },
}

impl<E> Error<E> {
    /// The closure's own error, if the transaction failed because of it.
    pub fn closure_error(&self) -> Option<&E> {
        match self {
            Error::Aborted(error) => Some(error),
            Error::Rollback { aborted, .. } => aborted.as_ref(),
            _ => None,
        }
    }

    /// Turns this into the closure's own error, if the transaction failed because of it.
    pub fn into_closure_error(self) -> Option<E> {
        match self {
            Error::Aborted(error) => Some(error),
            Error::Rollback { aborted, .. } => aborted,
            _ => None,
        }
    }

    /// Whether running the transaction again may succeed: the failure was a
    /// serialization failure, a deadlock or a busy database (see [`is_retryable`]).
    ///
    /// A commit that failed for any other reason has an unknown outcome and is never
    /// retryable. `Via` is inferred (see [`AsSqlxError`]); you never write it.
    pub fn is_retryable<Via>(&self) -> bool
    where
        E: AsSqlxError<Via>,
    {
        AsSqlxError::<Via>::as_sqlx_error(self).is_some_and(is_retryable)
    }
}

/// An error that may hold a [`sqlx::Error`], so that a retrying
/// [`TransactionManager`](crate::TransactionManager) can tell a serialization failure
/// raised inside the closure from the caller's other errors.
///
/// Implemented out of the box for:
///
/// - [`sqlx::Error`] and [`Error`] (whose database error is found where it has one);
/// - every error that dereferences to `dyn std::error::Error + Send + Sync`:
///   `anyhow::Error`, `Box<dyn std::error::Error + Send + Sync>`,
///   `Arc<dyn std::error::Error + Send + Sync>`, `eyre::Report`. These are searched
///   along their [`source`](std::error::Error::source) chain (anyhow's `context`
///   layers included) for a [`sqlx::Error`], by downcasting, so a serialization
///   failure that `?` turned into an `anyhow::Error` is still retried. No dependency
///   on anyhow is needed for this: the blanket implementation only uses its `Deref`.
///
/// The type parameter `Via` only tells those two kinds of implementation apart
/// (it is one of the uninhabited markers in [`via`](crate::via)); the compiler infers
/// it, and `impl AsSqlxError for YourError` means `Via = via::Own`. So your own error
/// type implements it in a few lines by returning its database variant:
///
/// ```
/// use uno_tx::AsSqlxError;
///
/// #[derive(Debug)]
/// enum AppError {
///     Database(sqlx::Error),
///     InsufficientFunds,
/// }
///
/// impl AsSqlxError for AppError {
///     fn as_sqlx_error(&self) -> Option<&sqlx::Error> {
///         match self {
///             AppError::Database(error) => Some(error),
///             AppError::InsufficientFunds => None,
///         }
///     }
/// }
/// # assert!(AppError::InsufficientFunds.as_sqlx_error().is_none());
/// ```
///
/// A boxed error finds the database error it wraps:
///
/// ```
/// use uno_tx::AsSqlxError;
///
/// let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(sqlx::Error::RowNotFound);
/// assert!(matches!(boxed.as_sqlx_error(), Some(sqlx::Error::RowNotFound)));
/// ```
pub trait AsSqlxError<Via = via::Own> {
    /// The database error inside `self`, if there is one.
    fn as_sqlx_error(&self) -> Option<&sqlx::Error>;
}

impl AsSqlxError for sqlx::Error {
    fn as_sqlx_error(&self) -> Option<&sqlx::Error> {
        Some(self)
    }
}

impl<E: AsSqlxError<Via>, Via> AsSqlxError<Via> for Error<E> {
    fn as_sqlx_error(&self) -> Option<&sqlx::Error> {
        match self {
            Error::Begin(source) | Error::Commit(source) => Some(source),
            Error::Aborted(error) => error.as_sqlx_error(),
            Error::Rollback { aborted, source } => aborted
                .as_ref()
                .and_then(AsSqlxError::as_sqlx_error)
                .or(Some(source)),
            Error::Timeout { .. } | Error::DeadlinePassed { .. } | Error::Lost { .. } => None,
        }
    }
}

// A blanket implementation over `Deref` rather than one per type: it covers anyhow and
// eyre without depending on them, and `Box<dyn Error + Send + Sync>`. It cannot share
// `Via` with the `sqlx::Error` one (sqlx could add a `Deref` one day), hence the marker.
impl<T> AsSqlxError<via::DynError> for T
where
    T: Deref<Target = dyn std::error::Error + Send + Sync + 'static>,
{
    fn as_sqlx_error(&self) -> Option<&sqlx::Error> {
        let mut current: Option<&(dyn std::error::Error + 'static)> = Some(&**self);
        while let Some(error) = current {
            if let Some(found) = error.downcast_ref::<sqlx::Error>() {
                return Some(found);
            }
            current = error.source();
        }
        None
    }
}

/// The markers that tell [`AsSqlxError`]'s two kinds of implementation apart. The
/// compiler picks the marker from the error type; you never name one.
pub mod via {
    /// The error type implements [`AsSqlxError`](crate::AsSqlxError) itself:
    /// `sqlx::Error`, `uno_tx::Error<E>` and your own types.
    #[derive(Debug)]
    pub enum Own {}

    /// The error dereferences to `dyn std::error::Error + Send + Sync` (`anyhow::Error`,
    /// `Box<dyn Error + Send + Sync>`), whose source chain is searched by downcasting.
    #[derive(Debug)]
    pub enum DynError {}
}

/// Formats [`Error::Rollback`], which reads differently with and without a closure error.
struct RollbackMessage<'a, E> {
    aborted: Option<&'a E>,
    source: &'a sqlx::Error,
}

impl<E: fmt::Display> fmt::Display for RollbackMessage<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.aborted {
            Some(aborted) => write!(
                f,
                "the transaction's closure failed ({aborted}) and rolling back failed too: {}; the pool checks the connection before reusing it",
                self.source
            ),
            None => write!(
                f,
                "rolling back the transaction failed: {}; the pool checks the connection before reusing it",
                self.source
            ),
        }
    }
}
