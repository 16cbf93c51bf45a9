//! What a limiter does when it is full, and the admission logic shared by all limiters.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{AcquireError, TryAcquireError};

use crate::metrics::Meter;
use crate::{BuildError, LimitError};

/// What a limiter does when a caller asks for room and every permit is taken.
///
/// The default is [`FullPolicy::Wait`]. [`FullPolicy::Reject`] is resilience4j's
/// *bulkhead* mode: refusing at once keeps a saturated dependency from piling up
/// waiting callers.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_limit::{FullPolicy, LimitError, Limiter};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let bulkhead = Limiter::builder().limit(1).on_full(FullPolicy::Reject).build()?;
/// let _held = bulkhead.acquire().await?;
/// assert_eq!(bulkhead.run(async {}).await, Err(LimitError::Full { limit: 1 }));
///
/// let patient = Limiter::builder()
///     .limit(8)
///     .on_full(FullPolicy::Timeout(Duration::from_millis(250)))
///     .build()?;
/// assert_eq!(patient.run(async { 42 }).await, Ok(42));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FullPolicy {
    /// Wait, in FIFO order, until a permit is free (or the limiter is closed).
    #[default]
    Wait,
    /// Wait up to this long, then fail with [`LimitError::Timeout`]. Zero is refused
    /// by the constructors (use `Reject`); a duration too long for tokio's clock (such
    /// as `Duration::MAX`) waits as [`Wait`](Self::Wait) does.
    Timeout(Duration),
    /// Fail at once with [`LimitError::Full`] (the bulkhead mode).
    Reject,
}

impl FullPolicy {
    pub(crate) fn validate(self) -> Result<Self, BuildError> {
        if self == FullPolicy::Timeout(Duration::ZERO) {
            return Err(BuildError::InvalidConfig {
                reason: "a full-limiter timeout of zero never waits; use FullPolicy::Reject to refuse at once",
            });
        }
        Ok(self)
    }
}

/// Counts a caller as waiting for as long as it lives, so that a cancelled waiter is
/// uncounted too.
pub(crate) struct WaitingGuard<'a>(&'a AtomicUsize, Option<&'a Meter>);

impl<'a> WaitingGuard<'a> {
    /// Counts a waiter in `waiting`, and reports the count to `meter` if there is one.
    pub(crate) fn new(waiting: &'a AtomicUsize, meter: Option<&'a Meter>) -> Self {
        let now = waiting.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if let Some(meter) = meter {
            meter.waiting(now);
        }
        WaitingGuard(waiting, meter)
    }
}

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        let now = self.0.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
        if let Some(meter) = self.1 {
            meter.waiting(now);
        }
    }
}

/// Admits a caller under `policy`: first without waiting, then as the policy says.
/// `limit` is only asked for to report a rejection.
///
/// The fast path never queues: tokio's semaphore hands released permits straight to
/// queued waiters, so a free permit is only visible when nobody waits, and trying first
/// keeps FIFO order.
pub(crate) async fn admit<P, Acquire>(
    policy: FullPolicy,
    limit: impl FnOnce() -> usize,
    waiting: (&AtomicUsize, Option<&Meter>),
    try_acquire: impl FnOnce() -> Result<P, TryAcquireError>,
    acquire: impl FnOnce() -> Acquire,
) -> Result<P, LimitError>
where
    Acquire: Future<Output = Result<P, AcquireError>>,
{
    match try_acquire() {
        Ok(permit) => return Ok(permit),
        Err(TryAcquireError::Closed) => return Err(LimitError::Closed),
        Err(TryAcquireError::NoPermits) => {}
    }
    // The caller's deadline bounds every wait; it is read only here, on the slow path.
    let deadline = uno_deadline::current();
    let (end, cut) = match policy {
        FullPolicy::Reject => {
            let limit = limit();
            crate::trace!(limit, "limiter full, rejecting");
            return Err(LimitError::Full { limit });
        }
        FullPolicy::Wait => (deadline, LimitError::DeadlinePassed),
        FullPolicy::Timeout(timeout) => {
            let own = tokio::time::Instant::now().checked_add(timeout);
            match (own, deadline) {
                (Some(own), Some(deadline)) if deadline <= own => {
                    (Some(deadline), LimitError::DeadlinePassed)
                }
                (None, Some(deadline)) => (Some(deadline), LimitError::DeadlinePassed),
                (own, _) => (own, LimitError::Timeout { timeout }),
            }
        }
    };
    wait_until(end, cut, queued(waiting, acquire()))
        .await?
        .map_err(|_closed| LimitError::Closed)
}

/// Awaits `wait` until `end` (forever without one), failing with `cut` at `end`.
pub(crate) async fn wait_until<T>(
    end: Option<tokio::time::Instant>,
    cut: LimitError,
    wait: impl Future<Output = T>,
) -> Result<T, LimitError> {
    let Some(end) = end else {
        return Ok(wait.await);
    };
    tokio::time::timeout_at(end, wait)
        .await
        .map_err(|_elapsed| {
            crate::trace!(error = %cut, "gave up waiting for a permit");
            cut
        })
}

/// Awaits `acquire`, counting the caller in `waiting` from the moment it is queued
/// (its first `Pending`) until it is admitted, fails or is cancelled.
///
/// Counting only once queued makes `waiting() == n` mean that `n` callers hold a place
/// in the FIFO queue, which callers (and tests of FIFO order) can rely on.
async fn queued<P>(
    (waiting, meter): (&AtomicUsize, Option<&Meter>),
    acquire: impl Future<Output = Result<P, AcquireError>>,
) -> Result<P, AcquireError> {
    let mut acquire = std::pin::pin!(acquire);
    let mut counted = None;
    std::future::poll_fn(|cx| {
        let poll = acquire.as_mut().poll(cx);
        if poll.is_pending() && counted.is_none() {
            counted = Some(WaitingGuard::new(waiting, meter));
        }
        poll
    })
    .await
}

/// Maps a failed `try_acquire` to the crate's error.
pub(crate) fn try_error(error: &TryAcquireError, limit: usize) -> LimitError {
    match error {
        TryAcquireError::Closed => LimitError::Closed,
        TryAcquireError::NoPermits => LimitError::Full { limit },
    }
}
