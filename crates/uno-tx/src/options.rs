//! The options a transaction can begin with.

/// The SQL isolation level of a transaction.
///
/// PostgreSQL and MySQL/MariaDB accept all four levels. SQLite transactions are always
/// serializable, so on SQLite only [`IsolationLevel::Serializable`] is accepted and the
/// others are reported as [`BuildError::Unsupported`](crate::BuildError::Unsupported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED` (PostgreSQL runs it as `READ COMMITTED`).
    ReadUncommitted,
    /// `READ COMMITTED`, PostgreSQL's default.
    ReadCommitted,
    /// `REPEATABLE READ`, MySQL's default.
    RepeatableRead,
    /// `SERIALIZABLE`: the strongest level; conflicting transactions fail with a
    /// serialization failure that a retrying manager runs again.
    Serializable,
}

impl IsolationLevel {
    /// The level as SQL spells it, e.g. `REPEATABLE READ`.
    pub fn as_sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

/// How an SQLite transaction takes its locks (`BEGIN DEFERRED | IMMEDIATE | EXCLUSIVE`).
///
/// A deferred transaction that reads and then writes can fail with
/// `SQLITE_BUSY_SNAPSHOT` when another connection wrote in between, and it does not
/// wait for the busy timeout; that is why writers default to
/// [`BeginMode::Immediate`], which takes the write lock at `BEGIN` and waits there.
/// Other backends have no begin mode; asking for one there is an
/// [`BuildError::Unsupported`](crate::BuildError::Unsupported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BeginMode {
    /// `BEGIN DEFERRED`: take locks on first use (SQLite's default, used for readers).
    Deferred,
    /// `BEGIN IMMEDIATE`: take the write lock at once (the default for writers).
    Immediate,
    /// `BEGIN EXCLUSIVE`: also keep readers out (in rollback-journal mode).
    Exclusive,
}

/// Whether a transaction may write.
///
/// PostgreSQL and MySQL/MariaDB enforce [`AccessMode::ReadOnly`] (`READ ONLY`
/// transactions refuse writes). SQLite has no read-only transactions: there it only
/// selects a deferred `BEGIN`, and writes are not refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AccessMode {
    /// The transaction may write.
    ReadWrite,
    /// The transaction may only read.
    ReadOnly,
}

/// Everything that shapes the `BEGIN` statement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BeginOptions {
    pub(crate) isolation_level: Option<IsolationLevel>,
    pub(crate) access_mode: Option<AccessMode>,
    pub(crate) begin_mode: Option<BeginMode>,
}
