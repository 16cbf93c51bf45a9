//! [`PgPermit`], a held slot, and `Tainted`, the connection guard that keeps a
//! connection which may hold a lock out of the pool.
//!
//! Invariant: a pooled connection goes back to the pool only from an untainted
//! `Tainted` guard, after a statement proved it holds none of the limiter's locks. Every other way out
//! (a dropped future, an error, a failed unlock, a runtime shutting down) closes it, and
//! the server frees whatever its session held.

use std::fmt;
use std::future::Future;

use sqlx::PgConnection;
use sqlx::pool::PoolConnection;
use sqlx::postgres::Postgres;

use super::sql;
use crate::LimitError;

/// A connection that goes back to the pool only once known to hold no lock; closed
/// otherwise.
pub(super) struct Tainted {
    connection: Option<PoolConnection<Postgres>>,
    /// Whether a lock may be held (a lock request went out and no answer said no).
    tainted: bool,
}

impl Tainted {
    /// A connection known to hold nothing (fresh from the pool).
    pub(super) fn new(connection: PoolConnection<Postgres>) -> Self {
        Tainted {
            connection: Some(connection),
            tainted: false,
        }
    }

    /// A connection that may hold a lock (a permit's): closed unless proven clean.
    fn holding(connection: Option<PoolConnection<Postgres>>) -> Self {
        Tainted {
            connection,
            tainted: true,
        }
    }

    /// Marks the connection as proven to hold nothing: dropped, it goes back to the
    /// pool.
    fn untaint(&mut self) {
        self.tainted = false;
    }

    /// Runs `statement` on the connection, keeping it tainted until `statement` ends
    /// with an answer that took nothing (`Ok(None)`); an error or a lock taken leaves it
    /// tainted, as does dropping the returned future before it ends.
    pub(super) async fn while_tainted<'c, T, F>(
        &'c mut self,
        statement: impl FnOnce(&'c mut PgConnection) -> F,
    ) -> Result<Option<T>, LimitError>
    where
        F: Future<Output = Result<Option<T>, LimitError>> + 'c,
    {
        let Tainted {
            connection,
            tainted,
        } = self;
        *tainted = true;
        let Some(connection) = connection.as_mut() else {
            return Err(LimitError::Lost);
        };
        let outcome = statement(connection).await;
        if matches!(outcome, Ok(None)) {
            *tainted = false;
        }
        outcome
    }

    /// Takes the connection out; the guard then closes nothing.
    pub(super) fn take(&mut self) -> Option<PoolConnection<Postgres>> {
        self.tainted = false;
        self.connection.take()
    }
}

impl Drop for Tainted {
    fn drop(&mut self) {
        // Untainted, it goes back to the pool as it is dropped.
        if let Some(connection) = self.connection.take()
            && self.tainted
        {
            close(connection);
        }
    }
}

/// Closes `connection` instead of returning it, so its session ends and the server
/// frees its locks. Outside a runtime (where sqlx cannot close it gracefully) the
/// socket is closed by dropping the detached connection.
fn close(mut connection: PoolConnection<Postgres>) {
    if tokio::runtime::Handle::try_current().is_ok() {
        connection.close_on_drop();
        drop(connection);
    } else {
        drop(connection.detach());
    }
}

/// A slot of a [`PgLimiter`](super::PgLimiter), held until this permit is dropped or
/// [released](Self::release).
///
/// Dropping it gives the slot back in a spawned task (unlock, announce, return the
/// connection); outside a tokio runtime it closes the connection instead, which frees
/// the slot as well.
#[must_use = "the slot is given back as soon as the permit is dropped"]
pub struct PgPermit {
    connection: Option<PoolConnection<Postgres>>,
    key: i32,
    channel: String,
    slot: i32,
    backend_pid: i32,
}

impl PgPermit {
    pub(super) fn new(
        connection: PoolConnection<Postgres>,
        key: i32,
        channel: String,
        slot: i32,
        backend_pid: i32,
    ) -> Self {
        PgPermit {
            connection: Some(connection),
            key,
            channel,
            slot,
            backend_pid,
        }
    }

    /// The slot this permit holds, in `0..limit`.
    pub fn slot(&self) -> usize {
        self.slot as usize
    }

    /// The server process (`pg_stat_activity.pid`) of the session that holds the slot.
    pub fn backend_pid(&self) -> i32 {
        self.backend_pid
    }

    /// Asks the server whether this permit's session still holds its slot.
    ///
    /// # Errors
    ///
    /// [`LimitError::Lost`] when the session ended (its connection was killed or
    /// lost, the server restarted) or no longer holds the lock: the slot is free for
    /// others, and the work this permit guards now runs beyond the limit.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. Dropping it mid-way closes the connection (a
    /// statement was left on the wire), which frees the slot; the permit then reports
    /// [`LimitError::Lost`].
    pub async fn check(&mut self) -> Result<(), LimitError> {
        // Put back only once the statement answered; on every other path it closes.
        let mut guard = Tainted::holding(self.connection.take());
        let Some(connection) = guard.connection.as_mut() else {
            return Err(LimitError::Lost);
        };
        match sql::holds(connection, self.key, self.slot).await {
            Ok(true) => {
                self.connection = guard.take();
                Ok(())
            }
            Ok(false) | Err(_) => Err(LimitError::Lost),
        }
    }

    /// Gives the slot back now, and says whether it was still held.
    ///
    /// # Errors
    ///
    /// [`LimitError::Lost`] when the session had ended (or no longer held the slot)
    /// before this call: the slot was freed by the server earlier, and the work this
    /// permit guarded may have run beyond the limit.
    ///
    /// # Cancel safety
    ///
    /// Dropping it mid-way closes the connection, which frees the slot.
    pub async fn release(mut self) -> Result<(), LimitError> {
        let connection = self.connection.take();
        release(connection, self.key, self.slot, &self.channel).await
    }
}

/// Unlocks the slot on `connection`, announces it, and returns the connection to the
/// pool if the unlock proved the session held it; closes it on every other path.
async fn release(
    connection: Option<PoolConnection<Postgres>>,
    key: i32,
    slot: i32,
    channel: &str,
) -> Result<(), LimitError> {
    let mut guard = Tainted::holding(connection);
    let Some(connection) = guard.connection.as_mut() else {
        return Err(LimitError::Lost);
    };
    // Waiters of this process learn of it from the same announcement as everyone
    // else's: waking them here first would let a busy process keep every slot.
    match sql::unlock(connection, key, slot, channel).await {
        Ok(true) => {
            // Proven clean: back to the pool as the guard drops.
            guard.untaint();
            Ok(())
        }
        Ok(false) | Err(_) => Err(LimitError::Lost),
    }
}

impl Drop for PgPermit {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let (key, slot) = (self.key, self.slot);
                let channel = std::mem::take(&mut self.channel);
                // If the runtime drops this task unfinished, the guard in `release`
                // closes the connection, which frees the slot all the same.
                runtime.spawn(async move {
                    let _ = release(Some(connection), key, slot, &channel).await;
                });
            }
            Err(_) => close(connection),
        }
    }
}

impl fmt::Debug for PgPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgPermit")
            .field("slot", &self.slot)
            .field("backend_pid", &self.backend_pid)
            .field("held", &self.connection.is_some())
            .finish_non_exhaustive()
    }
}
