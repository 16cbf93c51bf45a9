//! The crate's errors: [`LimitError`] for asking a limiter for room, [`BuildError`] for
//! making one.

use std::time::Duration;

/// What can go wrong when asking a limiter for room.
///
/// Every limiter in this crate reports a refusal as a value of this type, never as a
/// panic: a closed limiter, a full limiter in [`FullPolicy::Reject`] mode, a wait that
/// timed out. Bad configuration is refused when the limiter is made, with
/// [`BuildError`].
///
/// [`FullPolicy::Reject`]: crate::FullPolicy::Reject
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The limiter was closed: it admits no new work (work already running finishes).
    #[error(
        "the limiter is closed and admits no new work; stop submitting, or create a new limiter"
    )]
    Closed,
    /// The limiter was full and is set to reject at once instead of waiting.
    #[error(
        "the limiter is full ({limit} in flight) and rejects work when full; retry later, shed the load, or raise the limit"
    )]
    Full {
        /// The limit that was reached.
        limit: usize,
    },
    /// No permit became free within the allowed wait.
    #[error(
        "no permit became free within {timeout:?}; retry later, or raise the limit or the timeout"
    )]
    Timeout {
        /// How long the caller waited.
        timeout: Duration,
    },
    /// The rate limit is reached: a call now would come sooner than the rate allows.
    #[error(
        "the rate limit is reached; a call conforms again in {retry_after:?}; retry then, or raise the rate"
    )]
    Limited {
        /// How long until a call would be admitted (if nobody else takes the slot).
        retry_after: Duration,
    },
    /// The caller's deadline (see `uno_deadline`) passed while it waited for room.
    #[error(
        "the caller's deadline passed while it waited for the limiter; give the call more time, or raise the limit"
    )]
    DeadlinePassed,
    /// A shared permit's (`postgres::PgPermit`, feature `postgres`) database session ended while it
    /// held its slot (its connection was killed or lost, or the server restarted), so
    /// the server freed the slot and another process may hold it now.
    #[error(
        "the permit's database session ended while it held its slot, so the slot was freed and the guarded work ran beyond the limit; stop that work or acquire again"
    )]
    Lost,
    /// The database behind a shared limit failed, or no pooled connection could be had.
    #[error(
        "the shared limit's database failed: {reason}; check that the server is reachable and the pool has a free connection"
    )]
    Backend {
        /// What the database driver or the pool reported.
        reason: String,
    },
}

/// Why a limiter's constructor or builder refused its settings. Apart from
/// [`LimitError`], which says why a limiter refused room, so that each error type holds
/// only what can happen where it is returned.
///
/// ```
/// use uno_limit::{BuildError, Limiter};
///
/// assert_eq!(Limiter::new(0).unwrap_err(), BuildError::ZeroLimit);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A limit of zero was asked for; such a limiter would never admit any work.
    #[error("a concurrency limit of 0 would never admit any work; use a limit of at least 1")]
    ZeroLimit,
    /// A limit larger than the underlying semaphore supports was asked for.
    #[error(
        "a concurrency limit of {limit} is larger than the supported maximum of {max}; use a smaller limit"
    )]
    LimitTooLarge {
        /// The limit asked for.
        limit: usize,
        /// The largest supported limit.
        max: usize,
    },
    /// A builder was given settings that do not fit together.
    #[error("invalid limiter configuration: {reason}")]
    InvalidConfig {
        /// What is wrong and how to fix it.
        reason: &'static str,
    },
}

impl From<BuildError> for std::io::Error {
    /// Bad configuration is [`std::io::ErrorKind::InvalidInput`], so that code failing
    /// with `std::io::Error` can build a limiter with `?`.
    fn from(error: BuildError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, error)
    }
}

impl From<LimitError> for std::io::Error {
    /// Maps a refusal to the closest [`std::io::ErrorKind`], so that operations failing
    /// with `std::io::Error` can use [`Limiter::try_run`](crate::Limiter::try_run) and
    /// `?` directly: a wait that ran out ([`Timeout`](LimitError::Timeout),
    /// [`DeadlinePassed`](LimitError::DeadlinePassed)) is `TimedOut`; a refusal to
    /// wait ([`Full`](LimitError::Full), [`Limited`](LimitError::Limited)) is
    /// `WouldBlock`; a closed limiter is `BrokenPipe`; a lost
    /// shared permit is `ConnectionAborted` and a database failure `Other`.
    fn from(error: LimitError) -> Self {
        use std::io::ErrorKind;
        let kind = match error {
            LimitError::Timeout { .. } | LimitError::DeadlinePassed => ErrorKind::TimedOut,
            LimitError::Full { .. } | LimitError::Limited { .. } => ErrorKind::WouldBlock,
            LimitError::Closed => ErrorKind::BrokenPipe,
            LimitError::Lost => ErrorKind::ConnectionAborted,
            LimitError::Backend { .. } => ErrorKind::Other,
        };
        std::io::Error::new(kind, error)
    }
}

/// Checks a fixed concurrency limit.
pub(crate) fn check_limit(limit: usize) -> Result<usize, BuildError> {
    if limit == 0 {
        return Err(BuildError::ZeroLimit);
    }
    let max = tokio::sync::Semaphore::MAX_PERMITS;
    if limit > max {
        return Err(BuildError::LimitTooLarge { limit, max });
    }
    Ok(limit)
}
