//! `SharedManaged`: one managed resource shared by many `'static` tasks.
//!
//! Invariant: every clone holds one strong count of the same `Arc<Managed<R>>`, and
//! nothing else does. The `Managed` therefore leaves the `Arc` exactly once, either
//! through `Arc::into_inner` in the last `close` (which awaits its cleanup) or through
//! the last `Arc` being dropped (whose `Managed::drop` hands the cleanup to the
//! tracker). `Arc::into_inner` guarantees that when every clone races to close, exactly
//! one of them gets the resource; so cleanup runs once, however clones close or drop.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::error::Error;
use crate::managed::Managed;
use crate::resource::AsyncResource;
use crate::tracker::CleanupTracker;

/// A cheaply cloneable handle to one [`Managed`] resource, for sharing it across
/// `'static` tasks; its `cleanup` runs exactly once, when the last clone is closed or
/// dropped.
///
/// Made with [`Managed::into_shared`] (or `SharedManaged::from(managed)`). Every clone
/// derefs to the same `&R`. Each task [`close`](Self::close)s its clone when it is done
/// with the resource, or simply drops it:
///
/// - [`close`](Self::close) on the **last** clone runs `cleanup` and awaits it, exactly
///   like [`Managed::close`] (same errors, same cancel safety), and returns
///   [`SharedClose::CleanedUp`];
/// - `close` on any **other** clone only gives up its share and returns
///   [`SharedClose::StillShared`] at once; the cleanup is left to whichever clone is
///   closed or dropped last;
/// - **dropping** the last clone hands the cleanup to the resource's
///   [`CleanupTracker`], exactly as a dropped [`Managed`] does, so
///   [`CleanupTracker::wait`] (and uno-signal's `Shutdown::run`, which waits for the
///   global tracker) still sees it.
///
/// # Mutable access
///
/// The resource is shared, so tasks only get `&R`. For a resource whose methods need
/// `&mut self`, wrap it in `tokio::sync::Mutex` (or `tokio::sync::RwLock`) *before*
/// opening it: both implement [`AsyncResource`] when the resource inside does, so
/// `Managed::open(Mutex::new(resource))` initialises and cleans up the resource inside,
/// and each task locks it for as long as it needs `&mut R`. A resource with interior
/// mutability (a connection pool, a client with its own locking) needs nothing more.
///
/// To send clones to other threads (`tokio::spawn` on a multi-thread runtime), `R`
/// must be `Sync` as well as `Send`, as for `Arc<R>`; a `tokio::sync::Mutex<R>` is
/// `Sync` whenever `R` is `Send`.
///
/// # Examples
///
/// One connection, used by tasks that outlive the function that spawned them; the last
/// task to finish with it closes it:
///
/// ```
/// use std::convert::Infallible;
///
/// use tokio::sync::Mutex;
/// use uno_resource::{AsyncResource, CleanupTracker, Managed, SharedClose};
///
/// struct Connection {
///     open: bool,
///     queries: u32,
/// }
///
/// impl Connection {
///     async fn query(&mut self) -> u32 {
///         assert!(self.open, "query on a closed connection");
///         self.queries += 1;
///         self.queries
///     }
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
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // `query` needs `&mut self`, so the shared resource is a `Mutex<Connection>`.
/// let connection = Managed::open(Mutex::new(Connection { open: false, queries: 0 }))
///     .await?
///     .into_shared();
///
/// let mut tasks = Vec::new();
/// for _ in 0..4 {
///     // Each `'static` task owns a clone (an `Arc` inside: cloning is cheap).
///     let connection = connection.clone();
///     tasks.push(tokio::spawn(async move {
///         connection.lock().await.query().await;
///         // Whichever clone closes last runs the cleanup and reports its outcome.
///         connection.close().await
///     }));
/// }
/// // This handle is done too; dropping it instead of closing it would also be fine.
/// let mut cleaned_up = usize::from(connection.close().await? == SharedClose::CleanedUp);
/// for task in tasks {
///     if task.await?? == SharedClose::CleanedUp {
///         cleaned_up += 1;
///     }
/// }
/// assert_eq!(cleaned_up, 1, "exactly one clone was the last");
///
/// // Clones that are dropped instead of closed leave the cleanup to the tracker.
/// CleanupTracker::global().wait().await;
/// # Ok(())
/// # }
/// ```
pub struct SharedManaged<R: AsyncResource> {
    managed: Arc<Managed<R>>,
}

/// What [`SharedManaged::close`] did with its clone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SharedClose {
    /// This was the last clone: the resource's `cleanup` ran and succeeded.
    CleanedUp,
    /// Other clones were still alive: this clone gave up its share and nothing was
    /// cleaned up; the cleanup runs when the last of the others is closed or dropped.
    StillShared,
}

impl<R: AsyncResource> Managed<R> {
    /// Turns this resource into a [`SharedManaged`] handle that can be cloned into
    /// `'static` tasks; its cleanup runs once, when the last clone is closed or dropped,
    /// and still reports to this resource's [`tracker`](Self::tracker).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use uno_resource::AsyncResource;
    /// # struct Client;
    /// # impl AsyncResource for Client {
    /// #     type Error = Infallible;
    /// #     async fn initialize(&mut self) -> Result<(), Infallible> { Ok(()) }
    /// #     async fn cleanup(&mut self) -> Result<(), Infallible> { Ok(()) }
    /// # }
    /// use uno_resource::{Managed, SharedClose};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = Managed::open(Client).await?.into_shared();
    /// let for_a_task = client.clone();
    /// assert_eq!(for_a_task.close().await?, SharedClose::StillShared);
    /// assert_eq!(client.close().await?, SharedClose::CleanedUp);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn into_shared(self) -> SharedManaged<R> {
        SharedManaged {
            managed: Arc::new(self),
        }
    }
}

impl<R: AsyncResource> SharedManaged<R> {
    /// Gives up this clone; if it is the last one, runs `cleanup` and returns its
    /// outcome.
    ///
    /// Returns [`SharedClose::StillShared`] without waiting for anything if other
    /// clones are alive (a later close or drop of the last of them cleans up), and
    /// [`SharedClose::CleanedUp`] once the cleanup succeeded if this was the last clone.
    /// When several clones close at the same time, exactly one of them is the last.
    ///
    /// # Errors
    ///
    /// Only the last clone's close can fail, with the errors of [`Managed::close`]:
    /// [`Error::Cleanup`] with the error of `cleanup`, [`Error::CleanupTimeout`] if it
    /// ran past the tracker's cleanup timeout, [`Error::CleanupPanicked`] (with the
    /// message) if it panicked.
    ///
    /// # Cancel safety
    ///
    /// As for [`Managed::close`]: if this future is dropped before the last clone's
    /// cleanup finished, the cleanup carries on in the background on the tracker and
    /// still runs exactly once; its outcome is then reported to the tracker. Dropped
    /// before it was first polled, it drops the clone, which is also safe.
    pub async fn close(self) -> Result<SharedClose, Error<R::Error>> {
        match Arc::into_inner(self.managed) {
            Some(managed) => managed.close().await.map(|()| SharedClose::CleanedUp),
            None => Ok(SharedClose::StillShared),
        }
    }

    /// The tracker this resource's cleanup reports to if the last clone is dropped
    /// rather than closed.
    #[must_use]
    pub fn tracker(&self) -> &CleanupTracker {
        self.managed.tracker()
    }
}

impl<R: AsyncResource> From<Managed<R>> for SharedManaged<R> {
    fn from(managed: Managed<R>) -> Self {
        managed.into_shared()
    }
}

impl<R: AsyncResource> Clone for SharedManaged<R> {
    fn clone(&self) -> Self {
        Self {
            managed: Arc::clone(&self.managed),
        }
    }
}

impl<R: AsyncResource> Deref for SharedManaged<R> {
    type Target = R;

    fn deref(&self) -> &R {
        &self.managed
    }
}

impl<R: AsyncResource + fmt::Debug> fmt::Debug for SharedManaged<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedManaged")
            .field("resource", &**self.managed)
            .field("clones", &Arc::strong_count(&self.managed))
            .field("tracker", self.tracker())
            .finish()
    }
}
