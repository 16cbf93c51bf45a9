//! `ResourceStack`: enter resources, close them all in reverse order.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Index, IndexMut};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{BoxError, Error};
use crate::managed::Managed;
use crate::resource::AsyncResource;
use crate::tracker::CleanupTracker;

/// A group of resources closed together, last entered first closed: Python's
/// `AsyncExitStack`.
///
/// [`enter`](Self::enter) initialises a resource and keeps it, handing back a typed
/// [`StackKey`] to reach it (`stack[key]`). [`close`](Self::close) cleans every
/// resource up in reverse order of entry, runs every cleanup even when an earlier one
/// fails, and aggregates the failures. A stack dropped without `close` still closes
/// everything in reverse order, in one background task on its [`CleanupTracker`].
///
/// `E` is the error type of [`enter`](Self::enter) and [`close`](Self::close); every
/// entered resource's error must convert into it. It is [`BoxError`] for a stack made
/// with [`new`](Self::new); use [`with_tracker`](Self::with_tracker) to choose another.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
///
/// use uno_resource::{AsyncResource, ResourceStack};
///
/// struct Named(&'static str);
///
/// impl AsyncResource for Named {
///     type Error = Infallible;
///     async fn initialize(&mut self) -> Result<(), Infallible> { Ok(()) }
///     async fn cleanup(&mut self) -> Result<(), Infallible> {
///         println!("closing {}", self.0);
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), uno_resource::Error> {
/// let mut stack = ResourceStack::new();
/// let database = stack.enter(Named("database")).await?;
/// let cache = stack.enter(Named("cache")).await?;
/// assert_eq!(stack[database].0, "database");
/// assert_eq!(stack[cache].0, "cache");
/// stack.close().await?; // closes the cache, then the database
/// # Ok(())
/// # }
/// ```
pub struct ResourceStack<E = BoxError> {
    id: u64,
    entries: Vec<Box<dyn Entry<E>>>,
    tracker: CleanupTracker,
}

/// A typed handle to a resource entered into a [`ResourceStack`].
///
/// It is `Copy`; it only reaches its resource through the stack that made it.
pub struct StackKey<R> {
    stack: u64,
    index: usize,
    resource: PhantomData<fn() -> R>,
}

impl ResourceStack {
    /// Creates an empty stack whose errors are [`BoxError`]s, reporting background
    /// cleanups to [`CleanupTracker::global`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_tracker(CleanupTracker::global())
    }
}

impl Default for ResourceStack {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Send + 'static> ResourceStack<E> {
    /// Creates an empty stack with error type `E` whose cleanups are bounded by and,
    /// if the stack is dropped unclosed, reported to `tracker`.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_resource::{CleanupTracker, ResourceStack};
    ///
    /// let stack: ResourceStack<std::io::Error> =
    ///     ResourceStack::with_tracker(&CleanupTracker::new());
    /// assert!(stack.is_empty());
    /// ```
    #[must_use]
    pub fn with_tracker(tracker: &CleanupTracker) -> Self {
        Self {
            id: next_stack_id(),
            entries: Vec::new(),
            tracker: tracker.clone(),
        }
    }

    /// Initialises `resource` and keeps it on the stack until [`close`](Self::close).
    ///
    /// # Errors
    ///
    /// [`Error::Initialize`] with the error of `initialize`; the resource is then not
    /// entered and not cleaned up, and the stack is unchanged.
    ///
    /// # Cancel safety
    ///
    /// If this future is dropped during `initialize`, the resource is dropped without
    /// cleanup and the stack is unchanged.
    pub async fn enter<R>(&mut self, resource: R) -> Result<StackKey<R>, Error<E>>
    where
        R: AsyncResource,
        E: From<R::Error>,
    {
        let managed = Managed::open_in(resource, &self.tracker)
            .await
            .map_err(|error| Error::Initialize(E::from(error)))?;
        self.entries.push(Box::new(managed));
        Ok(StackKey {
            stack: self.id,
            index: self.entries.len() - 1,
            resource: PhantomData,
        })
    }

    /// Schedules `cleanup` to run when the stack closes, in reverse order with the
    /// resources (Python's `AsyncExitStack.push_async_callback`). The future does not
    /// start before then; like a resource's cleanup, it is bounded by the tracker's
    /// cleanup timeout and runs even if the stack is dropped unclosed.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_resource::ResourceStack;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uno_resource::Error> {
    /// let mut stack = ResourceStack::new();
    /// stack.defer(async {
    ///     println!("flushing metrics");
    ///     Ok::<_, std::io::Error>(())
    /// });
    /// stack.close().await?; // runs the deferred cleanup
    /// # Ok(())
    /// # }
    /// ```
    pub fn defer<F, CleanupError>(&mut self, cleanup: F)
    where
        F: Future<Output = Result<(), CleanupError>> + Send + 'static,
        CleanupError: std::error::Error + Send + Sync + 'static,
        E: From<CleanupError>,
    {
        // A deferred cleanup is a resource with nothing to initialise.
        let managed = Managed::already_open(Deferred(Some(cleanup)), &self.tracker);
        self.entries.push(Box::new(managed));
    }

    /// The resource behind `key`, or `None` if `key` belongs to another stack or the
    /// stack was closed.
    #[must_use]
    pub fn get<R: AsyncResource>(&self, key: StackKey<R>) -> Option<&R> {
        if key.stack != self.id {
            return None;
        }
        let managed = self
            .entries
            .get(key.index)?
            .as_any()
            .downcast_ref::<Managed<R>>()?;
        Some(managed)
    }

    /// The resource behind `key`, mutably, or `None` if `key` belongs to another stack
    /// or the stack was closed.
    #[must_use]
    pub fn get_mut<R: AsyncResource>(&mut self, key: StackKey<R>) -> Option<&mut R> {
        if key.stack != self.id {
            return None;
        }
        let managed = self
            .entries
            .get_mut(key.index)?
            .as_any_mut()
            .downcast_mut::<Managed<R>>()?;
        Some(managed)
    }

    /// How many resources are on the stack.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no resource is on the stack.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Cleans every resource up, last entered first, and empties the stack.
    ///
    /// Every cleanup runs even if an earlier one failed. Closing an empty (or already
    /// closed) stack does nothing and returns `Ok`. Keys handed out before no longer
    /// reach anything; the stack can be used again.
    ///
    /// # Errors
    ///
    /// The failure of the one cleanup that failed ([`Error::Cleanup`],
    /// [`Error::CleanupTimeout`] or [`Error::CleanupPanicked`]), or
    /// [`Error::Multiple`] with every failure, in the order the cleanups ran.
    ///
    /// # Cancel safety
    ///
    /// If this future is dropped midway, the cleanup in progress finishes in the
    /// background and the resources not yet closed stay on the stack, to be closed by
    /// a later `close` or when the stack is dropped.
    pub async fn close(&mut self) -> Result<(), Error<E>> {
        // Keys of the closed resources must not reach resources entered later.
        self.id = next_stack_id();
        let mut errors = Vec::new();
        while let Some(entry) = self.entries.pop() {
            if let Err(error) = entry.close().await {
                errors.push(error);
            }
        }
        Error::aggregate(errors)
    }
}

impl<E> Drop for ResourceStack<E> {
    fn drop(&mut self) {
        if self.entries.is_empty() {
            return;
        }
        // The closing futures do not start until polled, and they no longer mention
        // `E`, so they can move to the tracker's task.
        let closes: Vec<_> = std::mem::take(&mut self.entries)
            .into_iter()
            .map(|entry| entry.close_boxed())
            .collect();
        self.tracker.spawn(
            "a resource stack",
            Box::pin(async move {
                let mut errors = Vec::new();
                for close in closes.into_iter().rev() {
                    if let Err(error) = close.await {
                        errors.push(error);
                    }
                }
                Error::aggregate(errors)
            }),
        );
    }
}

impl<E, R: AsyncResource> Index<StackKey<R>> for ResourceStack<E>
where
    E: Send + 'static,
{
    type Output = R;

    /// # Panics
    ///
    /// If `key` belongs to another stack or the stack was closed.
    fn index(&self, key: StackKey<R>) -> &R {
        self.get(key)
            .expect("the key belongs to another ResourceStack or the stack was closed")
    }
}

impl<E, R: AsyncResource> IndexMut<StackKey<R>> for ResourceStack<E>
where
    E: Send + 'static,
{
    /// # Panics
    ///
    /// If `key` belongs to another stack or the stack was closed.
    fn index_mut(&mut self, key: StackKey<R>) -> &mut R {
        self.get_mut(key)
            .expect("the key belongs to another ResourceStack or the stack was closed")
    }
}

impl<E> fmt::Debug for ResourceStack<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceStack")
            .field("len", &self.entries.len())
            .field("tracker", &self.tracker)
            .finish()
    }
}

impl<R> Clone for StackKey<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for StackKey<R> {}

impl<R> fmt::Debug for StackKey<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackKey")
            .field("resource", &std::any::type_name::<R>())
            .field("index", &self.index)
            .finish()
    }
}

/// A fresh identity for a stack, so that keys only work on the stack that made them.
fn next_stack_id() -> u64 {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

type BoxedClose<E> = Pin<Box<dyn Future<Output = Result<(), Error<E>>> + Send>>;

/// A managed resource of any type, as the stack holds it.
trait Entry<E>: Send {
    fn close(self: Box<Self>) -> BoxedClose<E>;
    fn close_boxed(self: Box<Self>) -> BoxedClose<BoxError>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<R, E> Entry<E> for Managed<R>
where
    R: AsyncResource,
    E: From<R::Error>,
{
    fn close(self: Box<Self>) -> BoxedClose<E> {
        Box::pin(async move {
            (*self)
                .close()
                .await
                .map_err(|error| error.map_inner(E::from))
        })
    }

    fn close_boxed(self: Box<Self>) -> BoxedClose<BoxError> {
        Box::pin(async move {
            (*self)
                .close()
                .await
                .map_err(|error| error.map_inner(BoxError::from))
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A future run as a cleanup by [`ResourceStack::defer`].
struct Deferred<F>(Option<F>);

impl<F, CleanupError> AsyncResource for Deferred<F>
where
    F: Future<Output = Result<(), CleanupError>> + Send + 'static,
    CleanupError: std::error::Error + Send + Sync + 'static,
{
    type Error = CleanupError;

    async fn initialize(&mut self) -> Result<(), CleanupError> {
        Ok(())
    }

    async fn cleanup(&mut self) -> Result<(), CleanupError> {
        match self.0.take() {
            Some(cleanup) => cleanup.await,
            None => Ok(()),
        }
    }
}
