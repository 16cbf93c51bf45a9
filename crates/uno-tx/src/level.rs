//! `Level`: one transaction or savepoint that uno-tx began on a borrowed connection, and
//! the checks that keep a lost transaction from ever being reported as committed.
//!
//! uno-tx begins its transactions and savepoints through sqlx's per-backend
//! `TransactionManager` rather than `sqlx::Transaction::begin`, because sqlx 0.9 cannot
//! abandon a savepoint's `BEGIN` safely: dropped while the `SAVEPOINT` statement is in
//! flight, it queues a rollback at the connection's *current* depth, which is the
//! enclosing level (a full `ROLLBACK` when that is the outermost transaction). Later
//! statements then autocommit one by one and the outer `COMMIT` does nothing.
//!
//! Invariants this file keeps:
//! - A `Level` at depth `d` was begun when sqlx's depth on its connection went from
//!   `d - 1` to `d`, and it only ever commits or rolls back while that depth is still
//!   `d`. When the depth is lower, something else ended this level (and the levels
//!   around it): `commit` refuses with [`Error::Lost`](crate::Error::Lost), and
//!   rollback and drop touch nothing, so they never end an enclosing level by mistake.
//! - An abandoned begin never rolls back an enclosing level: on backends whose begin
//!   would, the in-flight begin is forgotten instead of dropped (see [`AbandonSafely`]).

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use sqlx::{Database, SqlStr};
use sqlx_core::transaction::TransactionManager;

use crate::backend::Backend;

/// The connection's transaction depth as sqlx counts it: 0 outside a transaction, 1 in
/// one, 2 and more in savepoints.
pub(crate) fn depth<DB: Database>(connection: &DB::Connection) -> usize {
    DB::TransactionManager::get_transaction_depth(connection)
}

/// A transaction (depth 1) or savepoint (depth 2 and more) on a borrowed connection.
/// Dropped before [`commit`](Level::commit) or [`rollback`](Level::rollback), it queues
/// its rollback, which the connection sends before its next statement.
pub(crate) struct Level<'c, DB: Backend> {
    connection: &'c mut DB::Connection,
    depth: usize,
    stage: Stage,
}

/// Where a [`Level`] is in its life, which decides what dropping it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Begun and not yet ended (also while a rollback is in flight: a second rollback
    /// queued behind it is harmless on every backend).
    Open,
    /// `COMMIT` or `RELEASE SAVEPOINT` is in flight.
    Committing,
    /// Committed or rolled back, or found ended by something else.
    Ended,
}

/// Why a level could not commit.
#[derive(Debug)]
pub(crate) enum CommitFailure {
    /// The database refused the `COMMIT` (or `RELEASE SAVEPOINT`).
    Database(sqlx::Error),
    /// Something else ended this level before uno-tx could commit it.
    Lost { expected: usize, found: usize },
}

/// Begins a transaction (with `statement`, or sqlx's plain `BEGIN` for `None`) or, on a
/// connection already inside one, a savepoint.
pub(crate) async fn begin<'c, DB: Backend>(
    connection: &'c mut DB::Connection,
    statement: Option<SqlStr>,
) -> Result<Level<'c, DB>, sqlx::Error> {
    // Only PostgreSQL's choice below depends on this read, and its depth is always
    // current; SQLite's may lag behind queued rollbacks, which is why the level's own
    // depth is read after its begin, when the worker has run everything before it.
    let before = depth::<DB>(connection);
    AbandonSafely {
        begin: Some(Box::pin(DB::TransactionManager::begin(
            connection, statement,
        ))),
        polled: false,
        forget_when_abandoned: before > 0 && DB::ABANDONED_SAVEPOINT_ENDS_ENCLOSING_LEVEL,
    }
    .await?;
    let after = depth::<DB>(connection);
    Ok(Level {
        connection,
        depth: after,
        stage: Stage::Open,
    })
}

impl<DB: Backend> Level<'_, DB> {
    /// Commits this level: `COMMIT` for a transaction, `RELEASE SAVEPOINT` for a
    /// savepoint. Refuses when the level was already ended by something else.
    pub(crate) async fn commit(mut self) -> Result<(), CommitFailure> {
        DB::settle(self.connection)
            .await
            .map_err(CommitFailure::Database)?;
        let found = depth::<DB>(self.connection);
        if found != self.depth {
            let expected = self.depth;
            // Below: this level is gone already, and nothing must touch the levels
            // around it. Above: a deeper level was leaked open; roll everything from it
            // down to this level back rather than commit on top of it.
            if found > expected {
                let _ = self.roll_back_to_own_depth().await;
            }
            self.stage = Stage::Ended;
            return Err(CommitFailure::Lost { expected, found });
        }
        self.stage = Stage::Committing;
        let committed = DB::TransactionManager::commit(self.connection).await;
        // A failed COMMIT leaves sqlx's depth where it was; the rollback queued on drop
        // then ends the level (the server has usually rolled it back already).
        self.stage = match committed {
            Ok(()) => Stage::Ended,
            Err(_) => Stage::Open,
        };
        committed.map_err(CommitFailure::Database)
    }

    /// Rolls this level back (`ROLLBACK`, or `ROLLBACK TO SAVEPOINT` for a savepoint). A
    /// level something else already ended counts as rolled back.
    pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        let result = self.roll_back_to_own_depth().await;
        self.stage = Stage::Ended;
        result
    }

    async fn roll_back_to_own_depth(&mut self) -> Result<(), sqlx::Error> {
        DB::settle(self.connection).await?;
        while depth::<DB>(self.connection) >= self.depth {
            DB::TransactionManager::rollback(self.connection).await?;
        }
        Ok(())
    }
}

impl<DB: Backend> Deref for Level<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &Self::Target {
        self.connection
    }
}

impl<DB: Backend> DerefMut for Level<'_, DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.connection
    }
}

impl<DB: Backend> Drop for Level<'_, DB> {
    fn drop(&mut self) {
        let roll_back = match self.stage {
            Stage::Ended => false,
            // A level already ended by something else (lower depth) is left alone:
            // queueing a rollback now would end the level around it.
            Stage::Open => depth::<DB>(self.connection) >= self.depth,
            // The COMMIT or RELEASE still reaches the server. SQLite's worker expects
            // the rollback that follows an unacknowledged commit, and skips it; on the
            // server backends a rollback behind a finished transaction is a harmless
            // no-op, but behind a released savepoint it names a savepoint that no
            // longer exists, which on PostgreSQL aborts the enclosing transaction. So
            // there nothing is queued: sqlx's depth stays one too high, and the
            // enclosing level refuses to commit (`Error::Lost`) instead of committing a
            // transaction the server has aborted.
            Stage::Committing => DB::ACKNOWLEDGES_COMMANDS || self.depth == 1,
        };
        if roll_back {
            DB::TransactionManager::start_rollback(self.connection);
        }
    }
}

/// A begin in flight that, when abandoned, is dropped or forgotten as its backend needs.
///
/// On PostgreSQL, sqlx's begin holds a guard that, dropped while a `SAVEPOINT` is in
/// flight, queues a rollback of the *enclosing* level. Forgetting the begin instead
/// keeps that guard from running: the `SAVEPOINT` still reaches the server, which
/// leaves an empty savepoint nobody refers to (harmless: it is released or rolled back
/// with the level around it), and sqlx's depth stays as it was. The cost is the begin's
/// small allocation, leaked once per abandoned savepoint.
///
/// SQLite and MySQL need no such care: their begins queue nothing when dropped (the
/// SQLite worker rolls back a savepoint whose caller went away), and forgetting the
/// SQLite one would block its worker forever waiting for the acknowledgement.
struct AbandonSafely<F: Future> {
    /// `None` once finished.
    begin: Option<Pin<Box<F>>>,
    polled: bool,
    forget_when_abandoned: bool,
}

impl<F: Future> Future for AbandonSafely<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let Some(begin) = this.begin.as_mut() else {
            panic!("uno-tx polled a finished begin");
        };
        this.polled = true;
        let output = ready!(begin.as_mut().poll(cx));
        this.begin = None;
        Poll::Ready(output)
    }
}

impl<F: Future> Drop for AbandonSafely<F> {
    fn drop(&mut self) {
        let Some(begin) = self.begin.take() else {
            return;
        };
        // Before its first poll nothing was sent, and dropping is harmless everywhere.
        if self.polled && self.forget_when_abandoned {
            std::mem::forget(begin);
        }
    }
}
