//! [`PgLimiter`]: a concurrency limit shared by every process that uses the same
//! PostgreSQL database and name.
//!
//! This module owns the limiter and how it waits (`mod.rs`); `permit.rs` owns the
//! permit, its connection and how it is given back; `sql.rs` owns every statement and
//! how a name becomes a key.
//!
//! Invariants:
//!
//! - A permit is one session-level advisory lock `(key, slot)` with `slot < limit`,
//!   held on one pooled connection for the permit's life. Only the server decides who
//!   holds a slot, so no process can exceed the limit, and a process that dies (or
//!   whose connection is killed) frees its slots when its session ends.
//! - A connection goes back to the pool only when it provably holds none of this
//!   limiter's locks (no lock was taken, or the unlock said `true`); every other path
//!   closes it, which ends its session and frees whatever it held.
//! - Within a process one caller at a time asks the server (FIFO, a fair tokio mutex);
//!   the others wait their turn without a connection.
//!
//! The file runs past 450 lines because of the public methods' documentation (what a
//! lost session means, cancel safety); its code (about 270 lines) is the limiter
//! itself, the SQL and the permit being in `sql.rs` and `permit.rs`.

mod permit;
mod sql;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgListener, Postgres};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

pub use self::permit::PgPermit;
use self::permit::Tainted;
use crate::policy::{WaitingGuard, wait_until};
use crate::{BuildError, LimitError};

/// The largest limit a [`PgLimiter`] takes. Each held permit keeps a database
/// connection, so a real limit is far smaller (PostgreSQL's `max_connections` is 100 by
/// default), and a full limiter's waiter tries every slot on each poll.
pub const MAX_LIMIT: usize = 10_000;

/// How often a waiter asks the server again when no release was announced: the
/// fallback for releases nobody announces (a process that crashed, a connection that
/// was killed) and for a lost `LISTEN` connection.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// A concurrency limit shared by every process that uses the same PostgreSQL database
/// and name: five replicas with `PgLimiter::new(pool, "payments-api", 10)` send at most
/// 10 calls between them.
///
/// A permit ([`PgPermit`]) is a session-level advisory lock on `(the name's key, a
/// slot in 0..limit)`, held on a connection of `pool` for the permit's life. Dropping
/// the permit unlocks the slot and returns the connection; a process that crashes, or
/// whose connection is killed, frees its slots because the server releases a session's
/// locks when it ends. Waiters wake on release (`LISTEN`/`NOTIFY` on a channel derived
/// from the name) and ask again every [poll interval](PgLimiterBuilder::poll_interval)
/// in case a release was not announced. Within a process, waiters are served in FIFO
/// order; across processes, every release wakes every waiting process, and the slot
/// goes to whichever asks first.
///
/// Clones share the limit (and one `LISTEN` connection).
///
/// # The pool
///
/// Each held permit keeps one connection of `pool`; one more is used by the waiter
/// whose turn it is, and one by the `LISTEN` connection once a caller has had to
/// wait. Give the pool at least `limit + 2` connections (or share it knowing that
/// permits take connections from other users). A caller that cannot get a connection
/// within the pool's `acquire_timeout` fails with [`LimitError::Backend`].
///
/// # Failure modes
///
/// - **A process crashes** (or is killed with `SIGKILL`): its sockets close, its
///   sessions end, the server releases their locks, and waiters elsewhere take the
///   slots at their next poll (within the poll interval).
/// - **A holder's connection is killed** (`pg_terminate_backend`, a server restart):
///   the slot is freed at once, so another process may take it while the holder's
///   work still runs. The holder can tell: [`PgPermit::check`] and
///   [`PgPermit::release`] fail with [`LimitError::Lost`].
/// - **A network partition**: the server still thinks the holder is alive, and keeps
///   its slot, until TCP keepalive (`tcp_keepalives_idle`, `tcp_keepalives_interval`,
///   `tcp_keepalives_count`) or `idle_session_timeout` ends the session. Set them on the
///   server (or per role) to bound how long a vanished holder can keep a slot.
/// - **Failover** to a replica: advisory locks are not replicated, so the new primary
///   starts with every slot free while old holders may still be running. Holders see
///   [`LimitError::Lost`] from `check`/`release`; the limit is only as strong as the
///   session that holds it.
///
/// # Examples
///
/// ```no_run
/// use sqlx::PgPool;
/// use uno_limit::postgres::PgLimiter;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = PgPool::connect("postgres://postgres@127.0.0.1:5432/test").await?;
/// // At most 10 calls to the payments API across every replica.
/// let limiter = PgLimiter::new(pool, "payments-api", 10)?;
///
/// let charged = limiter.run(async { /* call the API */ 42 }).await?;
/// assert_eq!(charged, 42);
///
/// // Or hold a permit, and find out whether it was lost on the way.
/// let permit = limiter.acquire().await?;
/// /* call the API */
/// permit.release().await?; // Err(LimitError::Lost) if the session ended meanwhile
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    name: Arc<str>,
    key: i32,
    channel: String,
    limit: i32,
    poll_interval: Duration,
    /// Woken by the `LISTEN` task on every announced release, this process's too.
    released: Arc<Notify>,
    /// Callers of this process in `acquire` without a slot yet.
    waiting: AtomicUsize,
    /// Whose turn it is to ask the server, FIFO.
    turn: tokio::sync::Mutex<()>,
    /// The `LISTEN` task, started by the first caller that has to wait.
    listener: Mutex<Option<AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let listener = self
            .listener
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = listener.take() {
            task.abort();
        }
    }
}

/// Builds a [`PgLimiter`]; made by [`PgLimiter::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PgLimiterBuilder {
    pool: PgPool,
    name: String,
    limit: usize,
    poll_interval: Duration,
}

impl PgLimiterBuilder {
    /// The largest limit a [`PgLimiter`] takes. Each held permit keeps a database
    /// connection, so a real limit is far smaller (PostgreSQL's `max_connections` is 100 by
    /// default), and a full limiter's waiter tries every slot on each poll.
    pub const MAX_LIMIT: usize = 10_000;

    /// How often a waiter asks the server again when no release was announced
    /// (default [`DEFAULT_POLL_INTERVAL`], 250 ms). It bounds how long a slot freed by a
    /// crash or a killed connection stays unused; each waiting process sends one query
    /// per interval.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Builds the limiter. Nothing is sent to the server until the first call.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroLimit`] for a limit of 0, [`BuildError::LimitTooLarge`] above
    /// [`MAX_LIMIT`] slots, [`BuildError::InvalidConfig`] for an empty name or a zero poll
    /// interval.
    pub fn build(self) -> Result<PgLimiter, BuildError> {
        if self.limit == 0 {
            return Err(BuildError::ZeroLimit);
        }
        if self.limit > MAX_LIMIT {
            return Err(BuildError::LimitTooLarge {
                limit: self.limit,
                max: MAX_LIMIT,
            });
        }
        // At most MAX_LIMIT, so it fits.
        let limit = i32::try_from(self.limit).unwrap_or(i32::MAX);
        if self.name.is_empty() {
            return Err(BuildError::InvalidConfig {
                reason: "a shared limit needs a non-empty name; every process that shares it uses the same name",
            });
        }
        if self.poll_interval.is_zero() {
            return Err(BuildError::InvalidConfig {
                reason: "a poll interval of zero would query the server in a loop; use at least a few milliseconds",
            });
        }
        let key = sql::key(&self.name);
        Ok(PgLimiter {
            inner: Arc::new(Inner {
                pool: self.pool,
                channel: sql::channel(key),
                name: self.name.into(),
                key,
                limit,
                poll_interval: self.poll_interval,
                released: Arc::new(Notify::new()),
                waiting: AtomicUsize::new(0),
                turn: tokio::sync::Mutex::new(()),
                listener: Mutex::new(None),
            }),
        })
    }
}

impl PgLimiter {
    /// A limit of `limit` concurrent holders across every process that uses `name` on
    /// the database of `pool`, with the default poll interval.
    ///
    /// The name is hashed to a 32-bit advisory-lock key (no SQL is built from it); two
    /// names share slots only if their hashes collide, about one chance in four billion
    /// per pair. The hash is fixed forever, so every version of uno agrees on it.
    ///
    /// # Errors
    ///
    /// As [`PgLimiterBuilder::build`].
    pub fn new(pool: PgPool, name: impl Into<String>, limit: usize) -> Result<Self, BuildError> {
        Self::builder(pool, name, limit).build()
    }

    /// A builder for a limiter with a chosen poll interval.
    pub fn builder(pool: PgPool, name: impl Into<String>, limit: usize) -> PgLimiterBuilder {
        PgLimiterBuilder {
            pool,
            name: name.into(),
            limit,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// The name every process shares.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The number of slots.
    pub fn limit(&self) -> usize {
        self.inner.limit as usize
    }

    /// Waits for a slot, then returns a permit that holds it.
    ///
    /// Callers of this process are served in FIFO order; the wait stops at the
    /// caller's `uno_deadline` deadline.
    ///
    /// # Errors
    ///
    /// [`LimitError::DeadlinePassed`] when the caller's deadline passed first;
    /// [`LimitError::Backend`] when no connection could be had from the pool, or the
    /// server failed.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. If it is dropped while waiting, it holds no slot and
    /// leaves the queue; if it is dropped while a lock request is on the wire, its
    /// connection is closed instead of returned, so the server frees any lock that
    /// request took.
    pub async fn acquire(&self) -> Result<PgPermit, LimitError> {
        wait_until(
            uno_deadline::current(),
            LimitError::DeadlinePassed,
            self.wait(),
        )
        .await?
    }

    async fn wait(&self) -> Result<PgPermit, LimitError> {
        let inner = &self.inner;
        let _waiting = WaitingGuard::new(&inner.waiting, None);
        let _turn = inner.turn.lock().await;
        let mut connection = self.connection().await?;
        // A connection that fails (killed while idle between polls, a server restart)
        // is replaced once; failing again before any answer is the caller's error.
        let mut replaced = false;
        loop {
            // Registered before asking, so a release announced meanwhile is not missed.
            let released = inner.released.notified();
            let mut released = std::pin::pin!(released);
            released.as_mut().enable();
            match self.try_lock(&mut connection).await {
                Ok(Some(permit)) => return Ok(permit),
                Ok(None) => replaced = false,
                Err(_lost) if !replaced => {
                    // The failed connection is closed as its guard is replaced.
                    connection = self.connection().await?;
                    replaced = true;
                    continue;
                }
                Err(error) => return Err(error),
            }
            self.ensure_listener();
            // Either wakes the loop; a spurious wake-up costs one query.
            let _ = tokio::time::timeout(inner.poll_interval, released).await;
        }
    }

    /// Takes a slot if one is free now, without waiting.
    ///
    /// It does not queue behind this process's waiters.
    ///
    /// # Errors
    ///
    /// [`LimitError::Full`] when every slot is held; [`LimitError::Backend`] as
    /// [`acquire`](Self::acquire).
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe, as [`acquire`](Self::acquire).
    pub async fn try_acquire(&self) -> Result<PgPermit, LimitError> {
        let mut connection = self.connection().await?;
        self.try_lock(&mut connection)
            .await?
            .ok_or(LimitError::Full {
                limit: self.limit(),
            })
    }

    /// Runs `operation` while holding a permit, and gives the permit back when it ends
    /// (or is cancelled, or panics).
    ///
    /// If the permit's session ends while `operation` runs, its output is still
    /// returned: a caller that must know holds the permit itself ([`acquire`],
    /// [`PgPermit::check`], [`PgPermit::release`]).
    ///
    /// [`acquire`]: Self::acquire
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire); `operation` does not run then.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops `operation` and gives the permit back.
    pub async fn run<F: Future>(&self, operation: F) -> Result<F::Output, LimitError> {
        let permit = self.acquire().await?;
        let output = operation.await;
        // A lost session was reported by the server already; the output stands.
        let _ = permit.release().await;
        Ok(output)
    }

    /// How many callers of this process are waiting in [`acquire`](Self::acquire) (queued
    /// for their turn, or asking the server), not counting those that hold a slot.
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// How many slots are held now, by every process, as the server's `pg_locks` sees
    /// them.
    ///
    /// # Errors
    ///
    /// [`LimitError::Backend`] when the server cannot be asked.
    pub async fn in_flight(&self) -> Result<usize, LimitError> {
        sql::in_flight(&self.inner.pool, self.inner.key).await
    }

    /// A connection of the pool, closed when dropped unless known to hold nothing.
    async fn connection(&self) -> Result<Tainted, LimitError> {
        let connection: PoolConnection<Postgres> = self
            .inner
            .pool
            .acquire()
            .await
            .map_err(|error| sql::backend(&error))?;
        Ok(Tainted::new(connection))
    }

    /// One try at every slot (starting at a different one each time, so that processes
    /// asking at once rarely collide). On a free slot, the connection becomes the
    /// permit's.
    async fn try_lock(&self, connection: &mut Tainted) -> Result<Option<PgPermit>, LimitError> {
        let inner = &self.inner;
        let start = sql::start_slot(inner.limit);
        // Closed if this future is dropped while the request is on the wire.
        let outcome =
            connection.while_tainted(|conn| sql::try_lock(conn, inner.key, inner.limit, start));
        let Some((slot, backend_pid)) = outcome.await? else {
            return Ok(None);
        };
        crate::trace!(name = %inner.name, slot, backend_pid, "took a shared slot");
        Ok(Some(PgPermit::new(
            connection
                .take()
                .expect("a connection that just answered is still in its guard"),
            inner.key,
            inner.channel.clone(),
            slot,
            backend_pid,
        )))
    }

    /// Starts the `LISTEN` task unless it runs.
    fn ensure_listener(&self) {
        let inner = &self.inner;
        let mut listener = inner
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if listener.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        // A bare task on purpose: it belongs to the limiter, whose last clone aborts
        // it, and it has no outcome to report (a failure only means waiters poll).
        #[allow(clippy::disallowed_methods)]
        let task = tokio::spawn(listen(
            inner.pool.clone(),
            inner.channel.clone(),
            Arc::clone(&inner.released),
            inner.poll_interval,
        ));
        *listener = Some(task.abort_handle());
    }
}

/// Wakes every waiter of this process on each release announced on `channel`, for as
/// long as the limiter lives (its last clone aborts it). When the connection fails it
/// wakes them anyway (a release may have been missed) and connects again after a
/// poll interval; meanwhile waiters poll.
async fn listen(pool: PgPool, channel: String, released: Arc<Notify>, poll_interval: Duration) {
    loop {
        if let Ok(mut listener) = PgListener::connect_with(&pool).await
            && listener.listen(&channel).await.is_ok()
        {
            // A release may have come before the LISTEN took effect.
            released.notify_waiters();
            while let Ok(_notification) = listener.recv().await {
                released.notify_waiters();
            }
        }
        released.notify_waiters();
        tokio::time::sleep(poll_interval).await;
    }
}

impl fmt::Debug for PgLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgLimiter")
            .field("name", &self.inner.name)
            .field("key", &self.inner.key)
            .field("limit", &self.inner.limit)
            .field("poll_interval", &self.inner.poll_interval)
            .finish_non_exhaustive()
    }
}
