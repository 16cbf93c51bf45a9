//! Deadlines that flow through a whole async call tree, like Python's
//! `asyncio.timeout` and trio's cancel scopes.
//!
//! [`within`]`(d, fut)` and [`at`]`(instant, fut)` run a future under a deadline and
//! resolve to `Err(`[`Elapsed`]`)` if it passes first. Inside, [`current`] and
//! [`remaining`] tell any code how long it has left, and a nested deadline never
//! extends an outer one: the effective deadline is always the earliest. uno's patterns
//! read it at every place where they wait: retry never sleeps past it, a limiter waits
//! at most until it, a batcher drops an item whose caller ran out of time, a
//! transaction caps its timeout with it (and tells PostgreSQL), and tasks spawned into
//! a `TaskGroup` or a `Shutdown` inherit it.
//!
//! ```
//! use std::time::Duration;
//! use uno_deadline::{Elapsed, remaining, within};
//!
//! async fn verify() -> &'static str {
//!     // Code deep inside sees the caller's budget without being passed it.
//!     assert_eq!(remaining(), Some(Duration::from_secs(2)));
//!     tokio::time::sleep(Duration::from_secs(5)).await; // too slow
//!     "verified"
//! }
//!
//! #[tokio::main(flavor = "current_thread", start_paused = true)]
//! async fn main() {
//!     // Python: async with asyncio.timeout(2): await verify()
//!     let outcome: Result<&str, Elapsed> = within(Duration::from_secs(2), verify()).await;
//!     assert!(outcome.is_err());
//!
//!     // A nested deadline cannot extend the outer one.
//!     let nested = within(Duration::from_secs(1), async {
//!         within(Duration::from_secs(60), async { remaining() }).await
//!     });
//!     assert_eq!(nested.await, Ok(Ok(Some(Duration::from_secs(1)))));
//! }
//! ```
//!
//! # Semantics
//!
//! - The deadline is an instant on tokio's clock, so `tokio::time::pause()` makes
//!   deadlines exact and instant in tests.
//! - It is task-local: it belongs to the future run under [`within`] or [`at`] and to
//!   everything that future awaits, not to the thread. A task spawned with bare
//!   `tokio::spawn` does not inherit it; wrap the spawned future in [`inherit`] to
//!   carry it across, as uno's `TaskGroup::spawn`, `Spawner` and `Shutdown::spawn` do.
//! - When a deadline passes, the [`Deadline`] future that set it answers
//!   `Err(Elapsed)` and drops everything inside, as trio's cancel scope does: the
//!   caller who set the deadline is the one who sees it. A nested deadline that is
//!   later than (or equal to) an outer one never fires; the outer one does.
//! - The work is polled before the deadline is checked, as with
//!   `tokio::time::timeout`: a value ready at the deadline is kept, a future run under
//!   a deadline that already passed is polled (at most twice) before it is given up,
//!   and a uno pattern waiting inside (a limiter, a retry, the batcher) stops at the
//!   deadline with its own error, saying which wait it cut short. The future gives up
//!   only if its timer had fired before it last polled the work, so on a multi-thread
//!   runtime too the pattern inside always answers first.
//! - The deadline a future runs under is read when it is first polled, in the task
//!   that polls it: [`within`] made in one task and spawned into another runs under
//!   its own deadline only, while [`inherit`] carries the deadline of the task that
//!   made it.
//! - A duration too long for tokio's clock (`Duration::MAX`) is no deadline at all.
//!
//! | Python / trio | uno-deadline |
//! | --- | --- |
//! | `async with asyncio.timeout(d):` / `trio.fail_after(d)` | `within(d, fut).await?` |
//! | `asyncio.timeout_at(when)` / `trio.fail_at(when)` | `at(when, fut).await?` |
//! | `trio.move_on_after(d)` | `within(d, fut).await.ok()` |
//! | `trio.current_effective_deadline()` | [`current()`](current) |
//!
//! # Features
//!
//! - `tower`: [`tower::DeadlineLayer`], a tower middleware that runs every request
//!   under a deadline that the layers and code below it see.
//!
//! This crate is part of [uno](https://docs.rs/uno); it is a leaf on tokio alone, so
//! every uno pattern crate may depend on it.
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, Sleep};

#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

tokio::task_local! {
    /// The effective deadline of the future being polled (`None`: no deadline).
    static DEADLINE: Option<Instant>;
}

/// The error of a future whose deadline passed before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed {
    deadline: Instant,
}

impl Elapsed {
    /// Creates the error for a deadline that passed; pattern crates use it to report
    /// that a wait was cut short by the caller's deadline.
    pub fn new(deadline: Instant) -> Self {
        Elapsed { deadline }
    }

    /// The deadline that passed.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the deadline passed before the work finished; give the caller more time, or do less under it",
        )
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(elapsed: Elapsed) -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, elapsed)
    }
}

/// The effective deadline of the running task: the earliest of every [`within`] and
/// [`at`] it runs under, or `None` outside any.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tokio::time::Instant;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// assert_eq!(uno_deadline::current(), None);
/// let when = Instant::now() + Duration::from_secs(3);
/// let seen = uno_deadline::at(when, async { uno_deadline::current() }).await;
/// assert_eq!(seen, Ok(Some(when)));
/// # }
/// ```
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|deadline| *deadline).ok().flatten()
}

/// How long the running task has until its effective deadline (zero once it passed),
/// or `None` without a deadline.
pub fn remaining() -> Option<Duration> {
    current().map(|deadline| deadline.saturating_duration_since(Instant::now()))
}

/// Runs `future` for at most `duration` from now: `Err(Elapsed)` if it has not
/// finished by then. Inside, [`current`] is the earlier of this deadline and any
/// outer one.
///
/// A `duration` too long for tokio's clock (`Duration::MAX`) sets no deadline of its
/// own; a zero `duration` polls `future` (at most twice), then gives up.
///
/// # Panics
///
/// When polled with a deadline and no tokio runtime with time enabled, as
/// `tokio::time::sleep` is.
///
/// # Cancel safety
///
/// Dropping the returned future drops `future`; nothing else is held.
pub fn within<F: Future>(duration: Duration, future: F) -> Deadline<F> {
    Deadline::new(Instant::now().checked_add(duration), future)
}

/// Runs `future` until `deadline` at most: `Err(Elapsed)` if it has not finished by
/// then. Inside, [`current`] is the earlier of `deadline` and any outer deadline.
///
/// # Panics
///
/// When polled outside a tokio runtime with time enabled, as
/// `tokio::time::sleep_until` is.
///
/// # Cancel safety
///
/// Dropping the returned future drops `future`; nothing else is held.
pub fn at<F: Future>(deadline: Instant, future: F) -> Deadline<F> {
    Deadline::new(Some(deadline), future)
}

/// Carries the running task's deadline (if any) into `future`, for a future that will
/// run elsewhere, such as in a spawned task: there it sees the same [`current`]
/// deadline and is cut short at it with `Err(Elapsed)`. Without a deadline, it only
/// passes `future`'s output through as `Ok`.
///
/// # Panics
///
/// When polled with a deadline and no tokio runtime with time enabled.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_deadline::{inherit, within};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let spawned = within(Duration::from_secs(1), async {
///     // A bare spawn would lose the deadline; inherit carries it.
///     let child = tokio::spawn(inherit(async {
///         tokio::time::sleep(Duration::from_secs(10)).await;
///     }));
///     child.await.unwrap()
/// });
/// // The child was cut short at the parent's deadline (and so was the parent).
/// assert!(spawned.await.is_err());
/// # }
/// ```
pub fn inherit<F: Future>(future: F) -> Deadline<F> {
    Deadline::new(current(), future)
}

pin_project_lite::pin_project! {
    /// A future run under a deadline; returned by [`within`], [`at`] and [`inherit`].
    ///
    /// It resolves to `Ok(output)` or, once its deadline passes first, to
    /// `Err(Elapsed)` (dropping the inner future).
    #[must_use = "futures do nothing unless polled"]
    pub struct Deadline<F> {
        #[pin]
        future: F,
        // The deadline this future was given (for `inherit`, the one it carries).
        own: Option<Instant>,
        // Set at the first poll: the earliest of `own` and the deadline of the task
        // polling it.
        effective: Option<Option<Instant>>,
        // Present when this future enforces the effective deadline itself: when no
        // future further out in the same task enforces an earlier or equal one.
        #[pin]
        sleep: Option<Sleep>,
    }
}

impl<F: Future> Deadline<F> {
    fn new(own: Option<Instant>, future: F) -> Self {
        Deadline {
            future,
            own,
            effective: None,
            sleep: None,
        }
    }
}

impl<F: Future> Future for Deadline<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let effective = match *this.effective {
            Some(effective) => effective,
            None => {
                // The deadline of the task that polls this future, read at the first
                // poll: a future made here and spawned elsewhere takes its new task's.
                let outer = current();
                let effective = match (*this.own, outer) {
                    (Some(own), Some(outer)) => Some(own.min(outer)),
                    (own, outer) => own.or(outer),
                };
                // An outer deadline at or before ours is enforced further out, by the
                // future that set it, so the caller who set it is the one who sees
                // it; only a deadline of our own that comes first is ours to enforce.
                if let Some(own) = *this.own
                    && outer.is_none_or(|outer| own < outer)
                {
                    this.sleep.set(Some(tokio::time::sleep_until(own)));
                }
                *this.effective = Some(effective);
                effective
            }
        };
        // As `tokio::time::timeout` does, poll the work first: a value ready at the
        // deadline is kept, and a uno pattern waiting inside, which stops at the same
        // deadline, reports its own error. The work must have been polled once after
        // the deadline fired for that, so whether it had fired is noted *before* the
        // work is polled: on a multi-thread runtime the timer may fire in between.
        let mut sleep = this.sleep.as_pin_mut();
        let fired_before = sleep.as_ref().is_some_and(|sleep| sleep.is_elapsed());
        let future = this.future;
        if let Poll::Ready(output) = DEADLINE.sync_scope(effective, || future.poll(cx)) {
            return Poll::Ready(Ok(output));
        }
        let Some(deadline) = effective else {
            return Poll::Pending;
        };
        if fired_before {
            return Poll::Ready(Err(Elapsed { deadline }));
        }
        if let Some(sleep) = sleep.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            // Fired while the work was being polled: let the work see it first, on
            // the next poll, which this wake asks for at once.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

impl<F> fmt::Debug for Deadline<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deadline")
            .field("deadline", &self.own)
            .finish_non_exhaustive()
    }
}
