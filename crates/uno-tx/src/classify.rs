//! Which database errors mean "run the transaction again".

/// Whether `error` is a transient conflict after which running the whole transaction
/// again may succeed.
///
/// These errors count as retryable:
///
/// | backend | error | meaning |
/// |---|---|---|
/// | PostgreSQL | SQLSTATE `40001` | serialization failure (also raised at `COMMIT`) |
/// | PostgreSQL | SQLSTATE `40P01` | deadlock detected |
/// | MySQL / MariaDB | error `1213` (SQLSTATE `40001`) | deadlock found when trying to get lock |
/// | MySQL / MariaDB | error `1205` | lock wait timeout exceeded |
/// | SQLite | primary code `5` (`SQLITE_BUSY`), including `517` (`SQLITE_BUSY_SNAPSHOT`, a deferred transaction that tried to write after another committed) | the database is busy |
/// | SQLite | primary code `6` (`SQLITE_LOCKED`) | a table is locked |
///
/// Everything else is not: constraint violations, syntax errors, pool timeouts, and
/// I/O errors. An I/O error during `COMMIT` in particular leaves the outcome unknown
/// (the commit may have happened), so the transaction must not be re-run blindly.
///
/// # Examples
///
/// ```
/// use uno_tx::is_retryable;
///
/// assert!(!is_retryable(&sqlx::Error::RowNotFound));
/// assert!(!is_retryable(&sqlx::Error::PoolTimedOut));
/// ```
pub fn is_retryable(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(database_error) = error else {
        return false;
    };
    #[cfg(feature = "mysql")]
    if let Some(mysql) = database_error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return is_retryable_mysql(mysql.number());
    }
    #[cfg(feature = "sqlite")]
    if database_error
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()
        .is_some()
    {
        return database_error
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(is_retryable_sqlite);
    }
    // PostgreSQL, and any other backend that reports SQLSTATEs.
    database_error
        .code()
        .is_some_and(|code| is_retryable_sqlstate(&code))
}

/// SQLSTATE `40001` (serialization failure) and `40P01` (deadlock detected).
fn is_retryable_sqlstate(sqlstate: &str) -> bool {
    matches!(sqlstate, "40001" | "40P01")
}

/// `SQLITE_BUSY` and `SQLITE_LOCKED`, with all their extended codes (which keep the
/// primary code in the low byte, e.g. 517 = `SQLITE_BUSY_SNAPSHOT`).
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
fn is_retryable_sqlite(extended_code: i32) -> bool {
    matches!(extended_code & 0xff, 5 | 6)
}

/// `ER_LOCK_DEADLOCK` (1213) and `ER_LOCK_WAIT_TIMEOUT` (1205).
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
fn is_retryable_mysql(number: u16) -> bool {
    matches!(number, 1213 | 1205)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates() {
        assert!(is_retryable_sqlstate("40001"));
        assert!(is_retryable_sqlstate("40P01"));
        assert!(!is_retryable_sqlstate("23505"));
        assert!(!is_retryable_sqlstate("40002"));
    }

    #[test]
    fn sqlite_codes() {
        for code in [5, 6, 261, 517, 773, 262] {
            assert!(is_retryable_sqlite(code), "{code}");
        }
        for code in [0, 1, 19, 2067, 8, 10] {
            assert!(!is_retryable_sqlite(code), "{code}");
        }
    }

    #[test]
    fn mysql_numbers() {
        assert!(is_retryable_mysql(1213));
        assert!(is_retryable_mysql(1205));
        assert!(!is_retryable_mysql(1062));
    }

    #[test]
    fn non_database_errors_are_not_retryable() {
        assert!(!is_retryable(&sqlx::Error::PoolTimedOut));
        assert!(!is_retryable(&sqlx::Error::Io(std::io::Error::other(
            "reset"
        ))));
    }
}
