//! `CleanupTracker`: where cleanups that nobody awaits run, and how to wait for them.
//!
//! The file runs past 450 lines with its documentation; its code (about 300 lines) is
//! one idea: cleanups in the background, bounded by the cleanup timeout, and the
//! bounded record of their failures.

use std::collections::VecDeque;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Poll;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::runtime::Handle;
use tokio_util::task::TaskTracker;

use crate::error::{BoxError, Error, panic_message};
use crate::resource::AsyncResource;

/// How long a cleanup may run before it is abandoned, unless configured otherwise.
pub const DEFAULT_CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How many failed background cleanups a tracker keeps for
/// [`take_failures`](CleanupTracker::take_failures); older ones are dropped (and
/// still counted by [`failure_count`](CleanupTracker::failure_count)).
const MAX_KEPT_FAILURES: usize = 256;

/// Runs the cleanups that nobody awaits, and lets the owner of their scope wait for them.
///
/// Rust has no async drop. When a [`Managed`](crate::Managed) resource (or a
/// [`ResourceStack`](crate::ResourceStack)) is dropped without being closed, for
/// example because the future that owned it was cancelled or panicked, its `cleanup`
/// is spawned onto the current tokio runtime and tracked here. Before the application
/// (or a `Shutdown` coordinator) lets the runtime go, it awaits
/// [`wait`](Self::wait), so no cleanup is lost at shutdown.
///
/// Every cleanup, awaited or not, is bounded by the tracker's cleanup timeout
/// ([`DEFAULT_CLEANUP_TIMEOUT`] unless set with
/// [`with_cleanup_timeout`](Self::with_cleanup_timeout)). Background cleanups that fail,
/// time out or panic are logged (with the `tracing` feature) and kept for
/// [`take_failures`](Self::take_failures).
///
/// [`Managed::open`](crate::Managed::open) uses the process-wide
/// [`global`](Self::global) tracker; give a scope its own with
/// [`Managed::open_in`](crate::Managed::open_in). Clones share the same tracker.
///
/// # No runtime
///
/// A resource dropped where no tokio runtime is running (after the runtime was dropped,
/// or on a plain thread), or whose spawned cleanup is dropped unstarted because the
/// runtime is shutting down, is cleaned up on a helper thread with its own
/// current-thread runtime, and the dropping thread blocks until that cleanup finished
/// or timed out. A cleanup that had already started when its runtime shut down cannot
/// be resumed: it is reported as [`Error::CleanupCancelled`].
///
/// # Runtime
///
/// Cleanups use tokio's timer for their timeout, so the runtime must have time enabled
/// (`#[tokio::main]` and `#[tokio::test]` do) unless every cleanup finishes on its first
/// poll.
///
/// # Examples
///
/// ```
/// # use std::convert::Infallible;
/// # use uno_resource::AsyncResource;
/// # struct Connection;
/// # impl AsyncResource for Connection {
/// #     type Error = Infallible;
/// #     async fn initialize(&mut self) -> Result<(), Infallible> { Ok(()) }
/// #     async fn cleanup(&mut self) -> Result<(), Infallible> { Ok(()) }
/// # }
/// use uno_resource::{CleanupTracker, Managed};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Infallible> {
/// let tracker = CleanupTracker::new();
/// let connection = Managed::open_in(Connection, &tracker).await?;
/// drop(connection); // no close: cleanup now runs in the background
///
/// tracker.wait().await; // ...and is finished here
/// assert_eq!(tracker.pending(), 0);
/// assert!(tracker.take_failures().is_empty());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CleanupTracker {
    inner: Arc<Inner>,
}

struct Inner {
    tasks: TaskTracker,
    cleanup_timeout: Duration,
    failures: Mutex<Failures>,
    /// What each pending cleanup cleans up, for reports of what did not finish.
    pending: Mutex<PendingNames>,
}

#[derive(Default)]
struct PendingNames {
    next_id: u64,
    names: std::collections::HashMap<u64, &'static str>,
}

#[derive(Default)]
struct Failures {
    kept: VecDeque<Error>,
    count: usize,
}

/// A boxed cleanup future, as run in the background.
pub(crate) type CleanupFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

impl CleanupTracker {
    /// Creates a tracker whose cleanups time out after [`DEFAULT_CLEANUP_TIMEOUT`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_cleanup_timeout(DEFAULT_CLEANUP_TIMEOUT)
    }

    /// Creates a tracker whose cleanups (awaited or in the background) are abandoned
    /// and reported as [`Error::CleanupTimeout`] after `cleanup_timeout`.
    ///
    /// # Panics
    ///
    /// If `cleanup_timeout` is zero: no cleanup could ever finish.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use uno_resource::CleanupTracker;
    ///
    /// let tracker = CleanupTracker::with_cleanup_timeout(Duration::from_secs(5));
    /// assert_eq!(tracker.cleanup_timeout(), Duration::from_secs(5));
    /// ```
    #[must_use]
    pub fn with_cleanup_timeout(cleanup_timeout: Duration) -> Self {
        assert!(
            !cleanup_timeout.is_zero(),
            "the cleanup timeout must be greater than zero"
        );
        let tasks = TaskTracker::new();
        // A closed TaskTracker still tracks new tasks; closing it up front makes
        // `wait` mean "until nothing is pending" rather than "until closed and empty".
        tasks.close();
        Self {
            inner: Arc::new(Inner {
                tasks,
                cleanup_timeout,
                failures: Mutex::new(Failures::default()),
                pending: Mutex::new(PendingNames::default()),
            }),
        }
    }

    /// The process-wide tracker that [`Managed::open`](crate::Managed::open) and
    /// [`ResourceStack::new`](crate::ResourceStack::new) use.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // At the end of main, before the runtime goes away:
    /// uno_resource::CleanupTracker::global().wait().await;
    /// # }
    /// ```
    pub fn global() -> &'static Self {
        static GLOBAL: OnceLock<CleanupTracker> = OnceLock::new();
        GLOBAL.get_or_init(Self::new)
    }

    /// How long a cleanup may run before it is abandoned.
    #[must_use]
    pub fn cleanup_timeout(&self) -> Duration {
        self.inner.cleanup_timeout
    }

    /// How many background cleanups are running or waiting to run.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.inner.tasks.len()
    }

    /// What each pending background cleanup cleans up (the resource's type name, or
    /// "a resource stack"), oldest first: what an exit path reports when the cleanups
    /// did not finish in time.
    ///
    /// # Examples
    ///
    /// ```
    /// let tracker = uno_resource::CleanupTracker::new();
    /// assert!(tracker.pending_cleanups().is_empty());
    /// ```
    #[must_use]
    pub fn pending_cleanups(&self) -> Vec<&'static str> {
        let pending = lock_pending(&self.inner.pending);
        let mut names: Vec<(u64, &'static str)> = pending
            .names
            .iter()
            .map(|(id, name)| (*id, *name))
            .collect();
        names.sort_unstable_by_key(|(id, _)| *id);
        names.into_iter().map(|(_, name)| name).collect()
    }

    /// Records that a cleanup of `what` is pending until the returned guard drops.
    fn pending_name(&self, what: &'static str) -> PendingName {
        let mut pending = lock_pending(&self.inner.pending);
        let id = pending.next_id;
        pending.next_id += 1;
        pending.names.insert(id, what);
        PendingName {
            tracker: self.clone(),
            id,
        }
    }

    /// Waits until no background cleanup is pending.
    ///
    /// Cleanups spawned while waiting are waited for too. Each cleanup is bounded by
    /// the cleanup timeout, so this returns after at most that long once the last
    /// resource was dropped.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping this future does not affect the cleanups.
    pub async fn wait(&self) {
        self.inner.tasks.wait().await;
    }

    /// Takes the failures of background cleanups recorded since the last call, oldest
    /// first (the most recent 256 are kept).
    #[must_use]
    pub fn take_failures(&self) -> Vec<Error> {
        let mut failures = lock(&self.inner.failures);
        failures.kept.drain(..).collect()
    }

    /// How many background cleanups failed since the tracker was created, including
    /// those no longer kept for [`take_failures`](Self::take_failures).
    #[must_use]
    pub fn failure_count(&self) -> usize {
        lock(&self.inner.failures).count
    }

    /// Runs `cleanup` of `what`, which has not been polled yet, in the background.
    pub(crate) fn spawn(&self, what: &'static str, cleanup: CleanupFuture) {
        let name = self.pending_name(what);
        match Handle::try_current() {
            Ok(handle) => {
                let unstarted = Unstarted {
                    cleanup: Some(cleanup),
                    tracker: self.clone(),
                };
                let tracker = self.clone();
                self.inner.tasks.spawn_on(
                    async move {
                        let _name = name;
                        let mut unstarted = unstarted;
                        if let Some(cleanup) = unstarted.cleanup.take() {
                            tracker.run_to_end(cleanup).await;
                        }
                    },
                    &handle,
                );
            }
            Err(_) => self.run_on_helper_thread(cleanup),
        }
    }

    /// Finishes `cleanup`, which has already been polled, in the background. Such a
    /// future may hold timers of the runtime it started on, so it cannot move to a
    /// helper thread; without a runtime it is reported as cancelled.
    pub(crate) fn spawn_started(&self, what: &'static str, cleanup: CleanupFuture) {
        match Handle::try_current() {
            Ok(handle) => {
                let name = self.pending_name(what);
                let tracker = self.clone();
                self.inner.tasks.spawn_on(
                    async move {
                        let _name = name;
                        tracker.run_to_end(cleanup).await;
                    },
                    &handle,
                );
            }
            Err(_) => self.record(Err(Error::CleanupCancelled)),
        }
    }

    /// Polls `cleanup` to its end, recording its outcome; if the runtime drops it first,
    /// records that it was cancelled.
    async fn run_to_end(&self, cleanup: CleanupFuture) {
        let mut running = Running {
            tracker: self,
            finished: false,
        };
        let result = cleanup.await;
        running.finished = true;
        self.record(result);
    }

    /// Runs an unstarted cleanup on a helper thread with its own runtime, blocking the
    /// current thread until it finished (it is bounded by its cleanup timeout).
    fn run_on_helper_thread(&self, cleanup: CleanupFuture) {
        // The token keeps `wait` from returning while the helper thread works.
        let token = self.inner.tasks.token();
        let tracker = self.clone();
        let spawned = std::thread::Builder::new()
            .name("uno-resource-cleanup".to_owned())
            .spawn(move || {
                let _token = token;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => tracker.record(runtime.block_on(cleanup)),
                    Err(_) => tracker.record(Err(Error::CleanupCancelled)),
                }
            });
        match spawned {
            // The helper catches cleanup panics itself, so joining cannot fail
            // with one; there is nothing more to report if it somehow does.
            Ok(helper) => drop(helper.join()),
            Err(_) => self.record(Err(Error::CleanupCancelled)),
        }
    }

    fn record(&self, result: Result<(), Error>) {
        let Err(error) = result else { return };
        #[cfg(feature = "tracing")]
        tracing::warn!(error = %error, "uno-resource: background cleanup failed");
        let mut failures = lock(&self.inner.failures);
        failures.count += 1;
        if failures.kept.len() == MAX_KEPT_FAILURES {
            failures.kept.pop_front();
        }
        failures.kept.push_back(error);
    }
}

impl Default for CleanupTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for CleanupTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CleanupTracker")
            .field("cleanup_timeout", &self.inner.cleanup_timeout)
            .field("pending", &self.pending())
            .field("failure_count", &self.failure_count())
            .finish()
    }
}

/// Holds a spawned cleanup until its task first runs. If the runtime drops the task
/// before that (it is shutting down), the cleanup runs on a helper thread instead.
struct Unstarted {
    cleanup: Option<CleanupFuture>,
    tracker: CleanupTracker,
}

impl Drop for Unstarted {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            self.tracker.run_on_helper_thread(cleanup);
        }
    }
}

/// Records a started cleanup that its runtime dropped before it finished.
struct Running<'a> {
    tracker: &'a CleanupTracker,
    finished: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.tracker.record(Err(Error::CleanupCancelled));
        }
    }
}

/// Removes a pending cleanup's name when its task ends, however it ends.
struct PendingName {
    tracker: CleanupTracker,
    id: u64,
}

impl Drop for PendingName {
    fn drop(&mut self) {
        lock_pending(&self.tracker.inner.pending)
            .names
            .remove(&self.id);
    }
}

fn lock_pending(pending: &Mutex<PendingNames>) -> std::sync::MutexGuard<'_, PendingNames> {
    // Only inserts and removes happen under the lock: a poisoned lock is consistent.
    pending
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock(failures: &Mutex<Failures>) -> std::sync::MutexGuard<'_, Failures> {
    // The lock only guards plain pushes and pops, so a poisoned lock still holds
    // consistent data.
    failures
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `resource.cleanup()` bounded by `limit`, turning a panic into an error.
///
/// The timer is only created if the cleanup does not finish on its first poll, which
/// keeps closing a resource whose cleanup is synchronous as cheap as calling it by hand.
pub(crate) async fn bounded_cleanup<R: AsyncResource>(
    resource: &mut R,
    limit: Duration,
) -> Result<(), Error<R::Error>> {
    let mut cleanup = pin!(AssertUnwindSafe(resource.cleanup()).catch_unwind());
    let mut deadline: Option<Pin<Box<tokio::time::Sleep>>> = None;
    let outcome = poll_fn(|cx| {
        if let Poll::Ready(outcome) = cleanup.as_mut().poll(cx) {
            return Poll::Ready(Some(outcome));
        }
        let deadline = deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    match outcome {
        Some(Ok(Ok(()))) => Ok(()),
        Some(Ok(Err(error))) => Err(Error::Cleanup(error)),
        Some(Err(panic)) => Err(Error::CleanupPanicked(panic_message(&*panic))),
        None => Err(Error::CleanupTimeout(limit)),
    }
}

/// A background cleanup of `resource`, its error boxed for the tracker.
pub(crate) fn boxed_cleanup<R: AsyncResource>(mut resource: R, limit: Duration) -> CleanupFuture {
    Box::pin(async move {
        bounded_cleanup(&mut resource, limit)
            .await
            .map_err(|error| error.map_inner(BoxError::from))
    })
}
