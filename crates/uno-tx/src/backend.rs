//! The databases uno-tx runs on, how each spells `BEGIN`, and how each is told about
//! the caller's deadline.

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
use std::time::Duration;

use sqlx::{Database, SqlStr};

use crate::options::BeginOptions;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
use crate::options::{AccessMode, IsolationLevel};

/// A database uno-tx can run transactions on: `sqlx::Sqlite` (feature `sqlite`,
/// default), `sqlx::Postgres` (feature `postgres`) and `sqlx::MySql` (feature `mysql`,
/// also for MariaDB).
///
/// The trait is sealed: what it needs from a backend (how to spell `BEGIN` with an
/// isolation level, whether its `BEGIN` is safe to cancel) is an implementation detail.
pub trait Backend: Database + sealed::Sealed {}

pub(crate) mod sealed {
    use std::time::Duration;

    use super::{BeginOptions, SqlStr};

    /// The part of [`Backend`](super::Backend) that stays private.
    pub trait Sealed: sqlx::Database {
        /// The backend's name in error messages.
        const BACKEND_NAME: &'static str;

        /// Whether cancelling sqlx's `BEGIN` can leave the connection inside a
        /// transaction without anything to roll it back (sqlx issue 4385). On such
        /// backends a pool connection abandoned during `BEGIN` is closed, or its
        /// `BEGIN` finished and rolled back in a task (for `Tx`).
        const BEGIN_IS_CANCEL_UNSAFE: bool;

        /// Whether a query cancelled mid-flight inside a transaction can leave the
        /// connection unable to be released: with sqlx 0.9 on MySQL, the queued
        /// `ROLLBACK` and the abandoned result together can hang the pool's check on
        /// release forever. Such connections are closed instead of returned.
        const QUERY_IS_CANCEL_UNSAFE: bool;

        /// Whether dropping sqlx's begin while a `SAVEPOINT` is in flight queues a
        /// rollback of the enclosing level (PostgreSQL, sqlx 0.9). There uno-tx forgets
        /// an abandoned savepoint begin instead of dropping it; see `level.rs`.
        const ABANDONED_SAVEPOINT_ENDS_ENCLOSING_LEVEL: bool;

        /// Whether the connection is a worker that acknowledges each command and expects
        /// the rollback sqlx queues after a commit whose acknowledgement nobody
        /// received (SQLite). See `level.rs`.
        const ACKNOWLEDGES_COMMANDS: bool;

        /// Waits until commands already queued on the connection have run, so that its
        /// transaction depth can be read. Only SQLite needs this: its worker thread
        /// updates the depth when it runs a queued rollback, where the other backends
        /// update it at once.
        fn settle(
            connection: &mut Self::Connection,
        ) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send + '_;

        /// The statement that begins a transaction with `options`, `None` for sqlx's
        /// plain `BEGIN`, or the option the backend cannot do.
        ///
        /// Only fixed SQL text comes out of here: every piece is a literal chosen by an
        /// enum, never text from the caller.
        fn begin_statement(options: &BeginOptions) -> Result<Option<SqlStr>, &'static str>;

        /// The statement that begins a pool transaction (`statement`, or a plain
        /// `BEGIN` for `None`) under a caller's deadline `remaining` from now, and tells
        /// the server to stop any statement still running by then; `None` where the
        /// backend enforces deadlines on the client only, which then begins with
        /// `statement` as usual.
        ///
        /// Only for a transaction at depth 0 (never a savepoint), and only fixed text
        /// and integers come out of here.
        fn begin_statement_under_deadline(
            statement: Option<&SqlStr>,
            remaining: Duration,
        ) -> Option<SqlStr>;
    }
}

/// Joins literal SQL pieces into one statement.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn join(pieces: &[&'static str]) -> SqlStr {
    use sqlx::SqlSafeStr;

    // Every piece is a `'static` literal from this file, so the joined text is as safe
    // as the literals.
    sqlx::AssertSqlSafe(pieces.concat()).into_sql_str()
}

/// For the server backends: refuses SQLite's begin modes, and says whether the options
/// need a `BEGIN` of uno's own (`false`: sqlx's plain `BEGIN` will do).
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn server_needs_own_begin(options: &BeginOptions) -> Result<bool, &'static str> {
    if options.begin_mode.is_some() {
        return Err("an SQLite begin mode");
    }
    Ok(options.isolation_level.is_some() || options.access_mode.is_some())
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn access_mode_sql(access_mode: Option<AccessMode>) -> &'static str {
    match access_mode {
        None => "",
        Some(AccessMode::ReadWrite) => " READ WRITE",
        Some(AccessMode::ReadOnly) => " READ ONLY",
    }
}

#[cfg(feature = "sqlite")]
impl Backend for sqlx::Sqlite {}

#[cfg(feature = "sqlite")]
impl sealed::Sealed for sqlx::Sqlite {
    const BACKEND_NAME: &'static str = "SQLite";
    // The SQLite worker rolls back a BEGIN whose caller went away.
    const BEGIN_IS_CANCEL_UNSAFE: bool = false;
    const QUERY_IS_CANCEL_UNSAFE: bool = false;
    const ABANDONED_SAVEPOINT_ENDS_ENCLOSING_LEVEL: bool = false;
    const ACKNOWLEDGES_COMMANDS: bool = true;

    fn settle(
        connection: &mut sqlx::SqliteConnection,
    ) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send + '_ {
        // A ping is a round trip to the connection's worker thread, which runs
        // commands in order: every rollback queued before it has run when it returns.
        sqlx::Connection::ping(connection)
    }

    fn begin_statement(options: &BeginOptions) -> Result<Option<SqlStr>, &'static str> {
        use crate::options::BeginMode;
        use sqlx::SqlSafeStr;

        match options.isolation_level {
            None | Some(IsolationLevel::Serializable) => {}
            Some(IsolationLevel::ReadUncommitted) => {
                return Err("isolation level READ UNCOMMITTED");
            }
            Some(IsolationLevel::ReadCommitted) => return Err("isolation level READ COMMITTED"),
            Some(IsolationLevel::RepeatableRead) => return Err("isolation level REPEATABLE READ"),
        }
        // SQLite has no read-only transactions; read-only work begins deferred so that
        // it takes no write lock.
        let begin_mode = options.begin_mode.unwrap_or(match options.access_mode {
            Some(AccessMode::ReadOnly) => BeginMode::Deferred,
            Some(AccessMode::ReadWrite) | None => BeginMode::Immediate,
        });
        let statement = match begin_mode {
            BeginMode::Deferred => "BEGIN DEFERRED",
            BeginMode::Immediate => "BEGIN IMMEDIATE",
            BeginMode::Exclusive => "BEGIN EXCLUSIVE",
        };
        Ok(Some(statement.into_sql_str()))
    }

    fn begin_statement_under_deadline(
        _statement: Option<&SqlStr>,
        _remaining: Duration,
    ) -> Option<SqlStr> {
        // The database runs in this process: the client-side cap is all there is, and
        // a cancelled query stops at once.
        None
    }
}

#[cfg(feature = "postgres")]
impl Backend for sqlx::Postgres {}

#[cfg(feature = "postgres")]
impl sealed::Sealed for sqlx::Postgres {
    const BACKEND_NAME: &'static str = "PostgreSQL";
    const BEGIN_IS_CANCEL_UNSAFE: bool = true;
    const QUERY_IS_CANCEL_UNSAFE: bool = false;
    const ABANDONED_SAVEPOINT_ENDS_ENCLOSING_LEVEL: bool = true;
    const ACKNOWLEDGES_COMMANDS: bool = false;

    fn settle(
        _connection: &mut sqlx::PgConnection,
    ) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send + '_ {
        std::future::ready(Ok(()))
    }

    fn begin_statement(options: &BeginOptions) -> Result<Option<SqlStr>, &'static str> {
        if !server_needs_own_begin(options)? {
            return Ok(None);
        }
        let isolation = match options.isolation_level {
            None => "",
            Some(IsolationLevel::ReadUncommitted) => " ISOLATION LEVEL READ UNCOMMITTED",
            Some(IsolationLevel::ReadCommitted) => " ISOLATION LEVEL READ COMMITTED",
            Some(IsolationLevel::RepeatableRead) => " ISOLATION LEVEL REPEATABLE READ",
            Some(IsolationLevel::Serializable) => " ISOLATION LEVEL SERIALIZABLE",
        };
        Ok(Some(join(&[
            "BEGIN",
            isolation,
            access_mode_sql(options.access_mode),
        ])))
    }

    fn begin_statement_under_deadline(
        statement: Option<&SqlStr>,
        remaining: Duration,
    ) -> Option<SqlStr> {
        use sqlx::SqlSafeStr;

        // `SET LOCAL` ends with the transaction (commit or rollback alike), so the
        // pooled connection goes back with the server's setting. Sent with `BEGIN` as
        // one simple query: a deadline costs no extra round trip.
        let begin = statement.map_or("BEGIN", SqlStr::as_str);
        let millis = statement_timeout_millis(remaining);
        // `begin` is one of this file's literal statements and `millis` an integer, so
        // no caller text reaches the server.
        Some(
            sqlx::AssertSqlSafe(format!("{begin}; SET LOCAL statement_timeout = {millis}"))
                .into_sql_str(),
        )
    }
}

/// PostgreSQL's `statement_timeout` for `remaining`: whole milliseconds rounded up, so
/// that the server never stops a statement before the deadline, at least 1 (0 would
/// mean no timeout), and at most the largest value the server accepts (`INT_MAX`
/// milliseconds, about 24.8 days, which is as good as forever).
#[cfg(feature = "postgres")]
fn statement_timeout_millis(remaining: Duration) -> u128 {
    const LARGEST: u128 = 2_147_483_647;
    remaining.as_nanos().div_ceil(1_000_000).clamp(1, LARGEST)
}

#[cfg(feature = "mysql")]
impl Backend for sqlx::MySql {}

#[cfg(feature = "mysql")]
impl sealed::Sealed for sqlx::MySql {
    const BACKEND_NAME: &'static str = "MySQL";
    const BEGIN_IS_CANCEL_UNSAFE: bool = true;
    const QUERY_IS_CANCEL_UNSAFE: bool = true;
    const ABANDONED_SAVEPOINT_ENDS_ENCLOSING_LEVEL: bool = false;
    const ACKNOWLEDGES_COMMANDS: bool = false;

    fn settle(
        _connection: &mut sqlx::MySqlConnection,
    ) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send + '_ {
        std::future::ready(Ok(()))
    }

    fn begin_statement(options: &BeginOptions) -> Result<Option<SqlStr>, &'static str> {
        if !server_needs_own_begin(options)? {
            return Ok(None);
        }
        // MySQL sets the isolation level of the next transaction with its own
        // statement; both go in one round trip.
        let isolation = match options.isolation_level {
            None => "",
            Some(IsolationLevel::ReadUncommitted) => {
                "SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED; "
            }
            Some(IsolationLevel::ReadCommitted) => {
                "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; "
            }
            Some(IsolationLevel::RepeatableRead) => {
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; "
            }
            Some(IsolationLevel::Serializable) => "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; ",
        };
        Ok(Some(join(&[
            isolation,
            "START TRANSACTION",
            access_mode_sql(options.access_mode),
        ])))
    }

    fn begin_statement_under_deadline(
        _statement: Option<&SqlStr>,
        _remaining: Duration,
    ) -> Option<SqlStr> {
        // `max_execution_time` is a session variable: set here, it would outlive the
        // transaction and reach the pool's next user whenever the transaction ends
        // without a reset (a cancelled caller, a client-side cap), and MariaDB spells
        // it differently. The per-statement optimizer hint would mean rewriting the
        // caller's SQL. So MySQL is held to the deadline on the client only.
        None
    }
}

#[cfg(test)]
mod tests {
    #[allow(unused_imports)]
    use super::*;
    #[allow(unused_imports)]
    use crate::options::BeginMode;

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_writers_begin_immediate_and_readers_deferred() {
        use sealed::Sealed;

        let write = BeginOptions::default();
        let statement = sqlx::Sqlite::begin_statement(&write).unwrap().unwrap();
        assert_eq!(statement.as_str(), "BEGIN IMMEDIATE");
        let read = BeginOptions {
            access_mode: Some(AccessMode::ReadOnly),
            ..BeginOptions::default()
        };
        let statement = sqlx::Sqlite::begin_statement(&read).unwrap().unwrap();
        assert_eq!(statement.as_str(), "BEGIN DEFERRED");
        let repeatable = BeginOptions {
            isolation_level: Some(IsolationLevel::RepeatableRead),
            ..BeginOptions::default()
        };
        assert!(sqlx::Sqlite::begin_statement(&repeatable).is_err());
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_statements() {
        use sealed::Sealed;

        assert!(
            sqlx::Postgres::begin_statement(&BeginOptions::default())
                .unwrap()
                .is_none()
        );
        let options = BeginOptions {
            isolation_level: Some(IsolationLevel::Serializable),
            access_mode: Some(AccessMode::ReadOnly),
            begin_mode: None,
        };
        let statement = sqlx::Postgres::begin_statement(&options).unwrap().unwrap();
        assert_eq!(
            statement.as_str(),
            "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY"
        );
        let sqlite_only = BeginOptions {
            begin_mode: Some(BeginMode::Immediate),
            ..BeginOptions::default()
        };
        assert!(sqlx::Postgres::begin_statement(&sqlite_only).is_err());
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_tells_the_server_the_deadline_in_whole_milliseconds_rounded_up() {
        use sealed::Sealed;

        let plain =
            sqlx::Postgres::begin_statement_under_deadline(None, Duration::from_micros(499_001))
                .unwrap();
        assert_eq!(plain.as_str(), "BEGIN; SET LOCAL statement_timeout = 500");
        let options = BeginOptions {
            isolation_level: Some(IsolationLevel::Serializable),
            ..BeginOptions::default()
        };
        let serializable = sqlx::Postgres::begin_statement(&options).unwrap();
        let statement = sqlx::Postgres::begin_statement_under_deadline(
            serializable.as_ref(),
            Duration::from_millis(250),
        )
        .unwrap();
        assert_eq!(
            statement.as_str(),
            "BEGIN ISOLATION LEVEL SERIALIZABLE; SET LOCAL statement_timeout = 250"
        );
        assert_eq!(statement_timeout_millis(Duration::ZERO), 1);
        assert_eq!(statement_timeout_millis(Duration::from_nanos(1)), 1);
        assert_eq!(statement_timeout_millis(Duration::from_millis(7)), 7);
        assert_eq!(statement_timeout_millis(Duration::MAX), 2_147_483_647);
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn mysql_statements() {
        use sealed::Sealed;

        let options = BeginOptions {
            isolation_level: Some(IsolationLevel::Serializable),
            access_mode: Some(AccessMode::ReadWrite),
            begin_mode: None,
        };
        let statement = sqlx::MySql::begin_statement(&options).unwrap().unwrap();
        assert_eq!(
            statement.as_str(),
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; START TRANSACTION READ WRITE"
        );
    }
}
