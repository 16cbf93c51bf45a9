//! `Managed`: an initialised resource whose cleanup always runs.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::error::{BoxError, Error};
use crate::resource::AsyncResource;
use crate::tracker::{CleanupTracker, bounded_cleanup, boxed_cleanup};

/// An initialised resource whose `cleanup` runs exactly once, on every exit path.
///
/// [`open`](Self::open) runs `initialize`; the `Managed` then derefs to the resource;
/// [`close`](Self::close) runs `cleanup` and reports its outcome. A `Managed` that is
/// dropped without `close` (its owner returned early, panicked or was cancelled) still
/// runs `cleanup`, in the background on the current runtime, tracked by its
/// [`CleanupTracker`] so that the application can wait for it before it exits
/// (uno-signal's `Shutdown::run` waits for the global tracker: the exit path of the
/// uno guide's "Shutting down"). See [`CleanupTracker`] for what happens when no
/// runtime is running.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
///
/// use uno_resource::{AsyncResource, Managed};
///
/// struct Connection {
///     open: bool,
/// }
///
/// impl AsyncResource for Connection {
///     type Error = Infallible;
///
///     async fn initialize(&mut self) -> Result<(), Infallible> {
///         self.open = true;
///         Ok(())
///     }
///
///     async fn cleanup(&mut self) -> Result<(), Infallible> {
///         self.open = false;
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let connection = Managed::open(Connection { open: false }).await?;
/// assert!(connection.open); // derefs to the resource
/// connection.close().await?;
/// # Ok(())
/// # }
/// ```
pub struct Managed<R: AsyncResource> {
    /// Always `Some` until `close` or `drop` takes it.
    resource: Option<R>,
    /// `None` means the global tracker; it saves a reference count per resource.
    tracker: Option<CleanupTracker>,
}

impl<R: AsyncResource> Managed<R> {
    /// Initialises `resource` and manages it; its cleanup goes to
    /// [`CleanupTracker::global`] if it is dropped without [`close`](Self::close).
    ///
    /// # Errors
    ///
    /// The error of `initialize`. The resource is then dropped without `cleanup`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: if this future is dropped while `initialize` runs, the
    /// resource is dropped without `cleanup` (its `initialize` did not complete).
    pub async fn open(resource: R) -> Result<Self, R::Error> {
        Self::open_with(resource, None).await
    }

    /// Initialises `resource` and manages it; its cleanup goes to `tracker` if it is
    /// dropped without [`close`](Self::close), and is bounded by that tracker's
    /// cleanup timeout.
    ///
    /// # Errors
    ///
    /// The error of `initialize`. The resource is then dropped without `cleanup`.
    ///
    /// # Cancel safety
    ///
    /// As for [`open`](Self::open).
    pub async fn open_in(resource: R, tracker: &CleanupTracker) -> Result<Self, R::Error> {
        Self::open_with(resource, Some(tracker.clone())).await
    }

    /// Manages a resource that needs no `initialize` (a deferred cleanup).
    pub(crate) fn already_open(resource: R, tracker: &CleanupTracker) -> Self {
        Self {
            resource: Some(resource),
            tracker: Some(tracker.clone()),
        }
    }

    async fn open_with(mut resource: R, tracker: Option<CleanupTracker>) -> Result<Self, R::Error> {
        resource.initialize().await?;
        Ok(Self {
            resource: Some(resource),
            tracker,
        })
    }

    /// The tracker this resource's cleanup reports to.
    #[must_use]
    pub fn tracker(&self) -> &CleanupTracker {
        match &self.tracker {
            Some(tracker) => tracker,
            None => CleanupTracker::global(),
        }
    }

    /// Runs `cleanup` and returns its outcome.
    ///
    /// Closing consumes the `Managed`, so a resource is cleaned up at most once by
    /// construction, and dropping it after `close` does nothing more.
    ///
    /// # Errors
    ///
    /// - [`Error::Cleanup`] with the error of `cleanup`;
    /// - [`Error::CleanupTimeout`] if it did not finish within the tracker's cleanup
    ///   timeout (its future was dropped);
    /// - [`Error::CleanupPanicked`] if it panicked.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe in the sense that matters: if this future is dropped before the
    /// cleanup finished (for example by `tokio::time::timeout`), the cleanup carries on
    /// in the background on the tracker and still runs exactly once; its outcome is
    /// then reported to the tracker.
    pub async fn close(mut self) -> Result<(), Error<R::Error>> {
        let limit = self.tracker().cleanup_timeout();
        let tracker = self.tracker.take();
        let Some(resource) = self.resource.take() else {
            return Ok(());
        };
        Closing {
            cleanup: Some(Box::pin(owned_cleanup(resource, limit))),
            tracker,
            what: std::any::type_name::<R>(),
        }
        .await
    }
}

async fn owned_cleanup<R: AsyncResource>(
    mut resource: R,
    limit: std::time::Duration,
) -> Result<(), Error<R::Error>> {
    bounded_cleanup(&mut resource, limit).await
}

type OwnedCleanup<E> = Pin<Box<dyn Future<Output = Result<(), Error<E>>> + Send>>;

/// The future of [`Managed::close`]: if dropped unfinished, it hands the cleanup to
/// the tracker so that the cleanup is neither lost nor run twice.
struct Closing<E: std::error::Error + Send + Sync + 'static> {
    cleanup: Option<OwnedCleanup<E>>,
    tracker: Option<CleanupTracker>,
    /// The resource's type name, for reports of cleanups that did not finish.
    what: &'static str,
}

impl<E: std::error::Error + Send + Sync + 'static> Future for Closing<E> {
    type Output = Result<(), Error<E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(cleanup) = self.cleanup.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let outcome = std::task::ready!(cleanup.as_mut().poll(cx));
        self.cleanup = None;
        Poll::Ready(outcome)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> Drop for Closing<E> {
    fn drop(&mut self) {
        let Some(cleanup) = self.cleanup.take() else {
            return;
        };
        let tracker = match &self.tracker {
            Some(tracker) => tracker,
            None => CleanupTracker::global(),
        };
        tracker.spawn_started(
            self.what,
            Box::pin(async move {
                cleanup
                    .await
                    .map_err(|error| error.map_inner(BoxError::from))
            }),
        );
    }
}

impl<R: AsyncResource> Drop for Managed<R> {
    fn drop(&mut self) {
        let Some(resource) = self.resource.take() else {
            return;
        };
        #[cfg(feature = "tracing")]
        tracing::debug!(
            resource = std::any::type_name::<R>(),
            "uno-resource: dropped without close, cleaning up in the background"
        );
        let tracker = self.tracker();
        tracker.spawn(
            std::any::type_name::<R>(),
            boxed_cleanup(resource, tracker.cleanup_timeout()),
        );
    }
}

impl<R: AsyncResource> Deref for Managed<R> {
    type Target = R;

    fn deref(&self) -> &R {
        self.resource
            .as_ref()
            .expect("a Managed holds its resource until close or drop")
    }
}

impl<R: AsyncResource> DerefMut for Managed<R> {
    fn deref_mut(&mut self) -> &mut R {
        self.resource
            .as_mut()
            .expect("a Managed holds its resource until close or drop")
    }
}

impl<R: AsyncResource + fmt::Debug> fmt::Debug for Managed<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Managed")
            .field("resource", &self.resource)
            .field("tracker", self.tracker())
            .finish()
    }
}
