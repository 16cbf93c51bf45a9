//! `TransactionManager`: transactions with options, timeouts and retries, over a pool.
//!
//! The file runs past 450 lines because half of it is the documentation and examples of
//! the manager's and its builder's public methods; its code (about 300 lines) is one
//! idea, running a transaction with the manager's options.

#[cfg(feature = "retry")]
use std::convert::Infallible;
use std::future::Future;
#[cfg(feature = "retry")]
use std::pin::pin;
#[cfg(feature = "retry")]
use std::task::Poll;
use std::time::Duration;

use sqlx::{Database, Pool, SqlStr};
#[cfg(feature = "retry")]
use tokio::time::Instant;
#[cfg(feature = "retry")]
use uno_retry::RetryPolicy;

use crate::backend::Backend;
use crate::closure::{TransactionFn, TransactionFnMut};
use crate::error::{AsSqlxError, BuildError, Error};
use crate::options::{AccessMode, BeginMode, BeginOptions, IsolationLevel};
use crate::pooled::run_pooled;
use crate::source::begin_on_pool;
use crate::span::TransactionSpan;
use crate::tx::Tx;

/// Runs transactions on a pool, all begun the same way: the seed's
/// `create_write_transaction_manager(session_factory)`.
///
/// [`TransactionManager::write`] and [`TransactionManager::read_only`] cover the common
/// cases; [`TransactionManager::builder`] sets the isolation level, the access mode,
/// SQLite's begin mode, a timeout and (with the `retry` feature) a retry policy for
/// serialization failures and deadlocks. Then [`run`](TransactionManager::run) a closure
/// in a transaction, or [`begin`](TransactionManager::begin) one and commit it yourself.
///
/// Cloning is cheap: the pool is shared.
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
/// let manager = TransactionManager::write(pool); // BEGIN IMMEDIATE on SQLite
///
/// manager
///     .run(async |conn| {
///         sqlx::query("CREATE TABLE t (x INTEGER)").execute(&mut *conn).await?;
///         sqlx::query("INSERT INTO t VALUES (1)").execute(&mut *conn).await
///     })
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TransactionManager<DB: Database> {
    pool: Pool<DB>,
    options: BeginOptions,
    /// The `BEGIN` statement, built once from `options`; `None` for a plain `BEGIN`.
    statement: Option<SqlStr>,
    timeout: Option<Duration>,
    #[cfg(feature = "retry")]
    retry: Option<RetryPolicy<Infallible>>,
}

// Not derived: that would require `DB: Clone`, which database markers are not.
impl<DB: Database> Clone for TransactionManager<DB> {
    fn clone(&self) -> Self {
        TransactionManager {
            pool: self.pool.clone(),
            options: self.options,
            statement: self.statement.clone(),
            timeout: self.timeout,
            #[cfg(feature = "retry")]
            retry: self.retry.clone(),
        }
    }
}

/// Sets up a [`TransactionManager`]; made by [`TransactionManager::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct TransactionManagerBuilder<DB: Database> {
    pool: Pool<DB>,
    options: BeginOptions,
    timeout: Option<Duration>,
    #[cfg(feature = "retry")]
    retry: Option<RetryPolicy<Infallible>>,
}

impl<DB: Backend> TransactionManager<DB> {
    /// A manager for transactions that write, with the backend's defaults: the server's
    /// isolation level, and `BEGIN IMMEDIATE` on SQLite so that writers queue at `BEGIN`
    /// instead of failing later with `SQLITE_BUSY_SNAPSHOT`.
    pub fn write(pool: Pool<DB>) -> Self {
        Self::with_defaults(pool, None)
    }

    /// A manager for read-only transactions: `READ ONLY` on PostgreSQL and MySQL (where
    /// writes are then refused), a deferred `BEGIN` on SQLite (where they are not).
    pub fn read_only(pool: Pool<DB>) -> Self {
        Self::with_defaults(pool, Some(AccessMode::ReadOnly))
    }

    /// A builder for a manager with options, starting from [`TransactionManager::write`]'s
    /// defaults.
    pub fn builder(pool: Pool<DB>) -> TransactionManagerBuilder<DB> {
        TransactionManagerBuilder {
            pool,
            options: BeginOptions::default(),
            timeout: None,
            #[cfg(feature = "retry")]
            retry: None,
        }
    }

    fn with_defaults(pool: Pool<DB>, access_mode: Option<AccessMode>) -> Self {
        let options = BeginOptions {
            access_mode,
            ..BeginOptions::default()
        };
        // Every backend supports its default options, so this cannot fail; a failure
        // would be a bug in `Backend::begin_statement`.
        let statement = DB::begin_statement(&options).unwrap_or_else(|option| {
            unreachable!("{} rejected its defaults: {option}", DB::BACKEND_NAME)
        });
        TransactionManager {
            pool,
            options,
            statement,
            timeout: None,
            #[cfg(feature = "retry")]
            retry: None,
        }
    }

    /// Runs `f` in a transaction: commits on `Ok`, rolls back on `Err`, on panic (which
    /// then resumes) and when the returned future is dropped.
    ///
    /// With a retry policy (feature `retry`), a failure that [`Error::is_retryable`]
    /// accepts (a serialization failure, deadlock or busy database, raised by a query
    /// in `f`, by `BEGIN` or by `COMMIT`) rolls back and runs `f` again in a new
    /// transaction, so `f` must be callable more than once: see
    /// [`TransactionFnMut`](crate::TransactionFnMut) for what it may capture. The
    /// timeout, if set, applies to each attempt. `f` must be `FnMut` whether or not a
    /// policy is set (so that a policy, or the `retry` feature, never changes which
    /// closures compile); for a closure that can only run once, such as an
    /// `async move` closure that gives away what it captured, use
    /// [`run_once`](TransactionManager::run_once), which never retries.
    ///
    /// The closure's error type must implement [`AsSqlxError`], so that a retry can
    /// find the database error inside it: `sqlx::Error`, `uno_tx::Error`,
    /// `anyhow::Error` and `Box<dyn Error + Send + Sync>` do out of the box (`Via` is
    /// inferred from the error type; never write it).
    ///
    /// # Deadlines
    ///
    /// Run under a caller's deadline (`uno_deadline::within` or `at`), each attempt may
    /// take at most the earlier of the timeout and the time left
    /// (`uno_deadline::remaining()`), from waiting for a connection to the end of `f`;
    /// the `COMMIT` is never cut short (that would leave the outcome unknown).
    ///
    /// - A deadline that has already passed fails at once with
    ///   [`Error::DeadlinePassed`]: no connection is taken, nothing is sent.
    /// - A deadline that passes while waiting for a connection, during `BEGIN` or while
    ///   `f` runs rolls the transaction back (as a timeout does) and returns
    ///   [`Error::DeadlinePassed`]; a timeout that ends first is still
    ///   [`Error::Timeout`].
    /// - On PostgreSQL the server is told too: `BEGIN` goes out with
    ///   `SET LOCAL statement_timeout = <the milliseconds left, rounded up>` in the same
    ///   round trip, so a statement still running past the deadline is stopped by the
    ///   server rather than left running after the caller gave up. `SET LOCAL` ends
    ///   with the transaction, so the pooled connection goes back with the server's
    ///   setting. Should the server's stop (SQLSTATE `57014`) reach `f` before the
    ///   client gives up, it is reported as [`Error::DeadlinePassed`] as well. On
    ///   SQLite and MySQL/MariaDB the deadline is enforced by the client only.
    /// - With a retry policy, no attempt starts and no backoff sleep runs past the
    ///   deadline: the run stops there with the last attempt's outcome.
    /// - Without a deadline nothing changes and nothing extra is sent.
    ///
    /// The caller sees uno-tx's own error: under `within(d, manager.run(..))` the
    /// outcome is `Ok(Err(Error::DeadlinePassed { .. }))`, because the transaction
    /// is polled before the caller's deadline gives up and answers first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use uno_tx::{Error, TransactionManager};
    ///
    /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
    /// let manager = TransactionManager::write(pool);
    /// let outcome = uno_deadline::within(
    ///     Duration::from_millis(20),
    ///     manager.run(async |_conn| {
    ///         std::future::pending::<()>().await; // slower than the deadline
    ///         Ok::<_, sqlx::Error>(())
    ///     }),
    /// )
    /// .await;
    /// assert!(matches!(outcome, Ok(Err(Error::DeadlinePassed { .. }))));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`transaction`](crate::transaction), plus [`Error::Timeout`] when `BEGIN` and
    /// `f` together take longer than the timeout, and [`Error::DeadlinePassed`] when the
    /// caller's deadline passed first (see "Deadlines" above). After the last attempt,
    /// its error is returned.
    ///
    /// # Panics
    ///
    /// When `f` panics, the transaction is rolled back and then the panic resumes.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future rolls back the current attempt, and no further attempt
    /// starts. Its connection is rolled back before the pool hands it out again, or
    /// closed where sqlx could not recover it (see
    /// [`TransactionSource`](crate::TransactionSource)).
    pub fn run<'m, T, E, F, Via>(
        &'m self,
        mut f: F,
    ) -> impl Future<Output = Result<T, Error<E>>> + Send + 'm
    where
        F: for<'a> TransactionFnMut<'a, DB::Connection, Result<T, E>> + Send + 'm,
        T: Send + 'm,
        E: AsSqlxError<Via> + Send + 'm,
        Via: 'm,
    {
        let span = TransactionSpan::new(DB::BACKEND_NAME);
        span.clone().instrument(async move {
            #[cfg(feature = "retry")]
            if let Some(policy) = &self.retry {
                return self.run_with_retry(policy, &span, f).await;
            }
            self.attempt(&mut f).await
        })
    }

    /// Runs `f` once in a transaction, like [`run`](TransactionManager::run) but for a
    /// closure that can only be called once: an `FnOnce`, such as an `async move`
    /// closure that hands an owned value to a query. Every closure that
    /// [`transaction(&pool, ..)`](crate::transaction) accepts works here, with the
    /// manager's options: its `BEGIN` statement (isolation level, access mode, SQLite
    /// begin mode), its timeout and the caller's deadline.
    ///
    /// **It never retries**, whatever the manager's retry policy: a closure called once
    /// cannot run again. That is why this is a method of its own rather than what
    /// `run` does when no policy is set: which closures compile must not depend on a
    /// runtime option or on the `retry` feature. Use `run` where a serialization
    /// failure should be retried; a retryable error from `run_once` comes back like any
    /// other ([`Error::is_retryable`] still says so).
    ///
    /// The closure's error needs no [`AsSqlxError`] implementation, since nothing is
    /// classified. As with `transaction(&pool, ..)`, a statement PostgreSQL stopped at
    /// the caller's deadline (SQLSTATE `57014`) before the client gave up comes back
    /// as the closure's error in [`Error::Aborted`] rather than as
    /// [`Error::DeadlinePassed`]; everything else about deadlines is as for `run`.
    ///
    /// # Examples
    ///
    /// The closure moves `note` into the query, so it is `FnOnce` only:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use uno_tx::TransactionManager;
    ///
    /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
    /// sqlx::query("CREATE TABLE notes (body TEXT NOT NULL)").execute(&pool).await?;
    /// let manager = TransactionManager::write(pool);
    ///
    /// let note = String::from("hello");
    /// manager
    ///     .run_once(async move |conn| {
    ///         sqlx::query("INSERT INTO notes (body) VALUES (?)")
    ///             .bind(note)
    ///             .execute(&mut *conn)
    ///             .await
    ///     })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// The same closure does not compile with `run`, which may call it once per
    /// attempt ("async closure does not implement `FnMut` because it captures state
    /// from its environment"):
    ///
    /// ```compile_fail
    /// # async fn example(manager: uno_tx::TransactionManager<sqlx::Sqlite>) {
    /// let note = String::from("hello");
    /// let _ = manager
    ///     .run(async move |conn| {
    ///         sqlx::query("INSERT INTO notes (body) VALUES (?)")
    ///             .bind(note)
    ///             .execute(&mut *conn)
    ///             .await
    ///     })
    ///     .await;
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`run`](TransactionManager::run) with one attempt.
    ///
    /// # Panics
    ///
    /// When `f` panics, the transaction is rolled back and then the panic resumes.
    ///
    /// # Cancel safety
    ///
    /// As `run`: dropping the future rolls the transaction back.
    pub fn run_once<'m, T, E, F>(
        &'m self,
        f: F,
    ) -> impl Future<Output = Result<T, Error<E>>> + Send + 'm
    where
        F: for<'a> TransactionFn<'a, DB::Connection, Result<T, E>> + Send + 'm,
        T: Send + 'm,
        E: Send + 'm,
    {
        let span = TransactionSpan::new(DB::BACKEND_NAME);
        span.instrument(run_pooled(
            &self.pool,
            self.statement.clone(),
            self.timeout,
            |_| None,
            f,
        ))
    }

    /// Begins a transaction and hands it over as a [`Tx`] guard that rolls back unless
    /// committed. The timeout, the retry policy and the caller's deadline do not apply:
    /// they belong to [`run`](TransactionManager::run), which owns the whole attempt (a
    /// caller's `uno_deadline::within` around `begin` still drops it, which is
    /// cancel-safe, and no `statement_timeout` is set).
    ///
    /// # Errors
    ///
    /// [`Error::Begin`] when no connection or no `BEGIN` could be had.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a transaction begun for a caller that went away is rolled back
    /// before its connection returns to the pool.
    pub async fn begin(&self) -> Result<Tx<DB>, Error> {
        let transaction = begin_on_pool(&self.pool, self.statement.clone())
            .await
            .map_err(Error::Begin)?;
        Ok(Tx::new(transaction))
    }

    /// The pool transactions run on.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The isolation level transactions begin with; `None` for the server's default.
    pub fn isolation_level(&self) -> Option<IsolationLevel> {
        self.options.isolation_level
    }

    /// The access mode transactions begin with; `None` for the server's default.
    pub fn access_mode(&self) -> Option<AccessMode> {
        self.options.access_mode
    }

    /// The time each attempt may take, if limited.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The retry policy that re-runs failed attempts, if any.
    #[cfg(feature = "retry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "retry")))]
    pub fn retry_policy(&self) -> Option<&RetryPolicy<Infallible>> {
        self.retry.as_ref()
    }

    /// Runs attempts until one succeeds, fails for a reason that is not retryable, or
    /// the policy gives up; returns that attempt's outcome.
    #[cfg(feature = "retry")]
    async fn run_with_retry<T, E, F, Via>(
        &self,
        policy: &RetryPolicy<Infallible>,
        span: &TransactionSpan,
        f: F,
    ) -> Result<T, Error<E>>
    where
        F: for<'a> TransactionFnMut<'a, DB::Connection, Result<T, E>> + Send,
        T: Send,
        E: AsSqlxError<Via> + Send,
    {
        // Each attempt needs `&mut f`, which a future returned by an `FnMut` cannot
        // borrow from the closure itself; attempts never overlap, so the lock is never
        // contended. The lock also keeps the latest attempt's outcome, so that a run
        // the caller's deadline stops between attempts returns it.
        let attempts = tokio::sync::Mutex::new(Attempts { f, last: None });
        let deadline = uno_deadline::current();
        let mut number = 0_u32;
        let run = policy
            .run(|| {
                number += 1;
                let attempt = number;
                let attempts = &attempts;
                span.record_attempt(attempt);
                if attempt > 1 {
                    crate::metrics::retried(DB::BACKEND_NAME);
                }
                async move {
                    let mut attempts = attempts.lock().await;
                    // No new attempt once the deadline passed: the last one's outcome
                    // stands (a first attempt reports the deadline itself).
                    if let (Some(_), Some(deadline)) = (&attempts.last, deadline)
                        && Instant::now() >= deadline
                    {
                        return Ok::<_, Infallible>(false);
                    }
                    let outcome = self.attempt(&mut attempts.f).await;
                    let again = match &outcome {
                        Err(error) => error.is_retryable::<Via>(),
                        Ok(_) => false,
                    };
                    attempts.last = Some(outcome);
                    Ok(again)
                }
            })
            // The attempts report whether to go again as `Ok` values, so that uno-tx,
            // not the policy, decides what is retryable.
            .retry_if_ok(|again: &bool| *again);
        // The policy never sleeps past the caller's deadline either: cut short there,
        // the run returns the last attempt's outcome (an attempt in progress at the
        // deadline answers first, with its own `DeadlinePassed`). Under a deadline that
        // has already passed, the first attempt reports it without touching the
        // database. The run's own output only says whether to go again; the outcome is
        // in `attempts`.
        //
        // Written out here rather than with `Cap::wait`: the generic async fn would
        // hide the attempts' future in an opaque type whose `Send` rustc then cannot
        // prove for every lifetime.
        {
            // Pinned in this block, so that `attempts` is free again after it.
            let mut run = pin!(run);
            match deadline {
                None => {
                    let _ = run.await;
                }
                Some(deadline) => {
                    let mut timer = pin!(tokio::time::sleep_until(deadline));
                    std::future::poll_fn(|cx| {
                        if run.as_mut().poll(cx).is_ready()
                            || Instant::now() >= deadline
                            || timer.as_mut().poll(cx).is_ready()
                        {
                            return Poll::Ready(());
                        }
                        Poll::Pending
                    })
                    .await;
                }
            }
        }
        let last = attempts.into_inner().last;
        last.unwrap_or_else(|| {
            Err(Error::DeadlinePassed {
                deadline: deadline.unwrap_or_else(Instant::now),
            })
        })
    }

    /// One attempt: begin, run `f`, commit or roll back.
    async fn attempt<T, E, F, Via>(&self, f: &mut F) -> Result<T, Error<E>>
    where
        F: for<'a> TransactionFnMut<'a, DB::Connection, Result<T, E>>,
        E: AsSqlxError<Via>,
    {
        run_pooled(
            &self.pool,
            self.statement.clone(),
            self.timeout,
            <E as AsSqlxError<Via>>::as_sqlx_error,
            f,
        )
        .await
    }
}

/// The caller's closure and the latest attempt's outcome, shared by a retried run's
/// attempts.
#[cfg(feature = "retry")]
struct Attempts<F, T, E> {
    f: F,
    last: Option<Result<T, Error<E>>>,
}

impl<DB: Backend> TransactionManagerBuilder<DB> {
    /// Begins transactions at this isolation level. SQLite only accepts
    /// [`IsolationLevel::Serializable`]; [`build`](Self::build) reports the others.
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.options.isolation_level = Some(level);
        self
    }

    /// Begins transactions read-only or read-write (see [`AccessMode`] for what each
    /// backend does with it).
    pub fn access_mode(mut self, mode: AccessMode) -> Self {
        self.options.access_mode = Some(mode);
        self
    }

    /// SQLite's `BEGIN` mode; by default `IMMEDIATE` for writers and `DEFERRED` for
    /// read-only managers. Other backends have none, and [`build`](Self::build) reports
    /// it.
    pub fn begin_mode(mut self, mode: BeginMode) -> Self {
        self.options.begin_mode = Some(mode);
        self
    }

    /// Limits how long each attempt of [`run`](TransactionManager::run) may take from
    /// `BEGIN` to the end of the closure; past it the transaction is rolled back with
    /// [`Error::Timeout`]. Must not be zero; a timeout too large to add to the clock,
    /// such as `Duration::MAX`, means no limit. The timeout is measured by the client:
    /// a statement it interrupts may keep running on the server until it ends (use
    /// the server's `statement_timeout` / `max_statement_time` for that). A caller's
    /// deadline that comes first shortens it (see
    /// [`run`](TransactionManager::run)).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Re-runs the whole transaction (a new `BEGIN`, the closure, `COMMIT`) when an
    /// attempt fails with an error that [`Error::is_retryable`] accepts: a
    /// serialization failure, deadlock, lock wait timeout or busy database, whether
    /// raised by `BEGIN`, by a query in the closure or by `COMMIT`. Nothing else is
    /// retried: not the closure's other errors, not timeouts, and never a `COMMIT` that
    /// failed with an unknown outcome.
    ///
    /// The policy decides how often and how long to wait (its strategy, jitter,
    /// `max_attempts`, `max_elapsed` and budget); its error type is
    /// [`Infallible`] because uno-tx, not the policy, decides what is retryable, so its
    /// `retry_if`, `notify` and `delay_hint` hooks are never called.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_retry::RetryPolicy;
    /// use uno_tx::TransactionManager;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = sqlx::SqlitePool::connect("sqlite::memory:").await?;
    /// let policy = RetryPolicy::exponential(Duration::from_millis(5))
    ///     .max_attempts(5)
    ///     .max_delay(Duration::from_millis(200))
    ///     .build()?;
    /// let manager = TransactionManager::builder(pool).retry(policy).build()?;
    /// # let _ = manager;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "retry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "retry")))]
    pub fn retry(mut self, policy: RetryPolicy<Infallible>) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Checks the options against the backend and makes the manager.
    ///
    /// # Errors
    ///
    /// [`BuildError::Unsupported`] for an option the backend cannot do (an isolation
    /// level other than `SERIALIZABLE` on SQLite, a begin mode elsewhere), and
    /// [`BuildError::ZeroTimeout`] for a zero timeout.
    pub fn build(self) -> Result<TransactionManager<DB>, BuildError> {
        if self.timeout == Some(Duration::ZERO) {
            return Err(BuildError::ZeroTimeout);
        }
        let statement =
            DB::begin_statement(&self.options).map_err(|option| BuildError::Unsupported {
                option,
                backend: DB::BACKEND_NAME,
            })?;
        Ok(TransactionManager {
            pool: self.pool,
            options: self.options,
            statement,
            timeout: self.timeout,
            #[cfg(feature = "retry")]
            retry: self.retry,
        })
    }
}
