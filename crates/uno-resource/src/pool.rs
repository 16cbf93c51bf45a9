//! `ResourcePool`: a pool of initialised resources on deadpool's managed pool.
//!
//! The file runs past 450 lines with its documentation; its code (about 300 lines) is
//! the pool, its builder and deadpool's manager, which only make sense together.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{
    self, Metrics, Object, PoolError, RecycleError, RecycleResult, TimeoutType,
};

use crate::error::{BoxError, BuildError, Error};
use crate::managed::Managed;
use crate::resource::AsyncResource;
use crate::tracker::{CleanupTracker, DEFAULT_CLEANUP_TIMEOUT};

/// A pool of initialised resources, built on deadpool's managed pool.
///
/// The pool creates resources with its factory and `initialize`s them on demand, up to
/// its max size. An idle resource is checked with
/// [`is_healthy`](AsyncResource::is_healthy) each time it is acquired; an unhealthy one
/// is discarded and cleaned up in the background, and another is tried. A
/// [`Pooled`] resource goes back to the pool when dropped. [`close`](Self::close)
/// refuses new acquires and cleans up every idle resource.
///
/// Every resource the pool discards or drops is cleaned up on the pool's own
/// [`CleanupTracker`] (see [`tracker`](Self::tracker)), bounded by the pool's cleanup
/// timeout. Clones share the same pool.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
///
/// use uno_resource::{AsyncResource, ResourcePool};
///
/// struct Connection;
///
/// impl AsyncResource for Connection {
///     type Error = Infallible;
///     async fn initialize(&mut self) -> Result<(), Infallible> { Ok(()) }
///     async fn cleanup(&mut self) -> Result<(), Infallible> { Ok(()) }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = ResourcePool::builder(|| Connection)
///     .max_size(4)
///     .acquire_timeout(Duration::from_secs(5))
///     .build()?;
/// {
///     let _connection = pool.acquire().await?;
/// } // back to the pool
/// assert_eq!(pool.size(), 1);
/// pool.close().await?; // cleans the idle connection up
/// # Ok(())
/// # }
/// ```
pub struct ResourcePool<R: AsyncResource> {
    pool: managed::Pool<PoolManager<R>>,
    acquire_timeout: Option<Duration>,
    initialize_timeout: Option<Duration>,
}

/// Builds a [`ResourcePool`]; made by [`ResourcePool::builder`].
pub struct ResourcePoolBuilder<R: AsyncResource> {
    factory: Box<dyn Fn() -> R + Send + Sync>,
    max_size: usize,
    acquire_timeout: Option<Duration>,
    initialize_timeout: Option<Duration>,
    health_check_timeout: Option<Duration>,
    cleanup_timeout: Duration,
    name: Option<Arc<str>>,
}

/// A resource acquired from a [`ResourcePool`]; derefs to the resource and goes back to
/// the pool when dropped.
pub struct Pooled<R: AsyncResource> {
    object: Object<PoolManager<R>>,
    // Dropped after the object went back, so the gauges see it returned.
    #[cfg(feature = "metrics")]
    _returned: Returned<R>,
}

/// Reports the pool's gauges when dropped.
#[cfg(feature = "metrics")]
struct Returned<R: AsyncResource>(managed::Pool<PoolManager<R>>);

#[cfg(feature = "metrics")]
impl<R: AsyncResource> Drop for Returned<R> {
    fn drop(&mut self) {
        crate::metrics::report(self.0.manager().name.as_ref(), self.0.status());
    }
}

/// Creates and recycles the pool's resources for deadpool.
struct PoolManager<R: AsyncResource> {
    factory: Box<dyn Fn() -> R + Send + Sync>,
    tracker: CleanupTracker,
    /// What the `metrics` feature labels the pool's metrics with.
    name: Option<Arc<str>>,
}

impl<R: AsyncResource> ResourcePool<R> {
    /// Starts building a pool whose resources `factory` makes (uninitialised; the pool
    /// runs `initialize`).
    ///
    /// The defaults: a max size of 4 per CPU (deadpool's default), no acquire,
    /// initialize or health-check timeout, and a cleanup timeout of
    /// [`DEFAULT_CLEANUP_TIMEOUT`].
    pub fn builder<F>(factory: F) -> ResourcePoolBuilder<R>
    where
        F: Fn() -> R + Send + Sync + 'static,
    {
        ResourcePoolBuilder {
            factory: Box::new(factory),
            max_size: managed::PoolConfig::default().max_size,
            acquire_timeout: None,
            initialize_timeout: None,
            health_check_timeout: None,
            cleanup_timeout: DEFAULT_CLEANUP_TIMEOUT,
            name: None,
        }
    }

    /// Takes an idle resource (checked with `is_healthy`) or initialises a new one, or
    /// waits for one to be returned while the pool is at its max size.
    ///
    /// # Errors
    ///
    /// - [`Error::AcquireTimeout`] if none became available within the acquire timeout;
    /// - [`Error::Initialize`] or [`Error::InitializeTimeout`] if a new resource failed
    ///   to initialise (it is then dropped without cleanup);
    /// - [`Error::PoolClosed`] if the pool is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping this future gives up the place in line; a resource being
    /// initialised is dropped without cleanup, and an idle one being checked is
    /// discarded and cleaned up in the background.
    pub async fn acquire(&self) -> Result<Pooled<R>, Error<R::Error>> {
        #[cfg(feature = "metrics")]
        let got = {
            let name = self.pool.manager().name.as_ref();
            let got = crate::metrics::watched(name, || self.pool.status(), self.pool.get()).await;
            if let Err(PoolError::Timeout(TimeoutType::Wait)) = &got {
                crate::metrics::acquire_timed_out(name);
            }
            got
        };
        #[cfg(not(feature = "metrics"))]
        let got = self.pool.get().await;
        match got {
            Ok(object) => Ok(Pooled {
                object,
                #[cfg(feature = "metrics")]
                _returned: Returned(self.pool.clone()),
            }),
            Err(PoolError::Backend(error)) => Err(Error::Initialize(error)),
            Err(PoolError::Timeout(TimeoutType::Create)) => Err(Error::InitializeTimeout(
                self.initialize_timeout.unwrap_or_default(),
            )),
            Err(PoolError::Timeout(_)) => Err(Error::AcquireTimeout(
                self.acquire_timeout.unwrap_or_default(),
            )),
            // The pool is built with a runtime and without hooks, so deadpool can
            // only report these if it was closed meanwhile.
            Err(
                PoolError::Closed | PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_),
            ) => Err(Error::PoolClosed),
        }
    }

    /// Refuses new acquires, cleans up every idle resource and waits for all pending
    /// cleanups of the pool's resources.
    ///
    /// Resources still acquired are cleaned up when they are returned (in the
    /// background; [`tracker`](Self::tracker)`.wait()` waits for them). Closing a closed
    /// pool does nothing more than waiting for pending cleanups.
    ///
    /// # Errors
    ///
    /// The cleanup failures recorded by the pool's tracker since it was last
    /// asked: one error, or [`Error::Multiple`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the pool is closed at the first poll; dropping the future only
    /// stops waiting for the cleanups, which carry on.
    pub async fn close(&self) -> Result<(), Error<BoxError>> {
        // Deadpool drops the idle resources while resizing to zero; each drop hands
        // its cleanup to the tracker.
        self.pool.close();
        let tracker = self.tracker();
        tracker.wait().await;
        Error::aggregate(tracker.take_failures())
    }

    /// Whether the pool is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    /// How many resources the pool holds, idle or acquired.
    #[must_use]
    pub fn size(&self) -> usize {
        self.pool.status().size
    }

    /// How many idle resources wait in the pool.
    #[must_use]
    pub fn idle(&self) -> usize {
        self.pool.status().available
    }

    /// The most resources the pool holds at once (zero once closed).
    #[must_use]
    pub fn max_size(&self) -> usize {
        self.pool.status().max_size
    }

    /// The name given with [`ResourcePoolBuilder::name`], if any.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.pool.manager().name.as_deref()
    }

    /// The tracker on which the pool's discarded and dropped resources are cleaned up.
    #[must_use]
    pub fn tracker(&self) -> &CleanupTracker {
        &self.pool.manager().tracker
    }
}

/// The largest [`max_size`](ResourcePoolBuilder::max_size) a pool accepts: 65,536.
///
/// deadpool reserves a slot for every resource up front, so a size far beyond what a
/// process can hold would abort it on allocation; no real pool needs more.
pub const MAX_POOL_SIZE: usize = 1 << 16;

impl<R: AsyncResource> ResourcePoolBuilder<R> {
    /// Names the pool: with the `metrics` feature, its metrics carry the label
    /// `pool="<name>"` (`"unnamed"` without one).
    #[must_use]
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The most resources the pool holds at once, idle or acquired: at least 1 and at
    /// most [`MAX_POOL_SIZE`] ([`build`](Self::build) refuses others with
    /// [`BuildError::ZeroMaxSize`] or [`BuildError::MaxSizeTooLarge`]). deadpool reserves room for every resource when the
    /// pool is built, so a size such as `usize::MAX` cannot mean "unbounded" here.
    #[must_use]
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size;
        self
    }

    /// How long [`acquire`](ResourcePool::acquire) waits for a resource while the pool
    /// is at its max size. Unbounded by default; a duration too long for tokio's clock
    /// (such as `Duration::MAX`) is unbounded too. Zero is refused by
    /// [`build`](Self::build).
    #[must_use]
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = Some(timeout);
        self
    }

    /// How long a new resource's `initialize` may take. Unbounded by default; a duration
    /// too long for tokio's clock (such as `Duration::MAX`) is unbounded too. Zero is
    /// refused by [`build`](Self::build).
    ///
    /// The timeout is enforced on this side only: the `initialize` future is dropped
    /// and the resource with it, without `cleanup`. Whatever `initialize` had started
    /// elsewhere (a half-open connection, a session on a server) is not told and must
    /// expire there by itself.
    #[must_use]
    pub fn initialize_timeout(mut self, timeout: Duration) -> Self {
        self.initialize_timeout = Some(timeout);
        self
    }

    /// How long an idle resource's `is_healthy` may take; one that takes longer is
    /// discarded (its `is_healthy` future dropped, then the resource cleaned up in the
    /// background). Unbounded by default; a duration too long for tokio's clock (such as
    /// `Duration::MAX`) is unbounded too. Zero is refused by [`build`](Self::build).
    #[must_use]
    pub fn health_check_timeout(mut self, timeout: Duration) -> Self {
        self.health_check_timeout = Some(timeout);
        self
    }

    /// How long a resource's `cleanup` may take before it is abandoned and reported.
    /// [`DEFAULT_CLEANUP_TIMEOUT`] by default; a duration too long for tokio's clock
    /// (such as `Duration::MAX`) means cleanups are never abandoned. Zero is refused by
    /// [`build`](Self::build).
    ///
    /// The timeout is enforced on this side only: an abandoned `cleanup` future is
    /// dropped, and what it had not yet released elsewhere stays as it is.
    #[must_use]
    pub fn cleanup_timeout(mut self, timeout: Duration) -> Self {
        self.cleanup_timeout = timeout;
        self
    }

    /// Builds the pool. It creates no resource until the first acquire.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroMaxSize`], [`BuildError::MaxSizeTooLarge`] (above
    /// [`MAX_POOL_SIZE`]) or [`BuildError::ZeroTimeout`].
    ///
    /// # Panics
    ///
    /// Never: deadpool, underneath, refuses only timeouts without a runtime, and the
    /// pool always gives it tokio's.
    pub fn build(self) -> Result<ResourcePool<R>, BuildError> {
        if self.max_size == 0 {
            return Err(BuildError::ZeroMaxSize);
        }
        if self.max_size > MAX_POOL_SIZE {
            return Err(BuildError::MaxSizeTooLarge {
                size: self.max_size,
            });
        }
        let timeouts = [
            self.acquire_timeout,
            self.initialize_timeout,
            self.health_check_timeout,
            Some(self.cleanup_timeout),
        ];
        if timeouts
            .into_iter()
            .flatten()
            .any(|timeout| timeout.is_zero())
        {
            return Err(BuildError::ZeroTimeout);
        }
        let manager = PoolManager {
            factory: self.factory,
            tracker: CleanupTracker::with_cleanup_timeout(self.cleanup_timeout),
            name: self.name,
        };
        let pool = managed::Pool::builder(manager)
            .max_size(self.max_size)
            .wait_timeout(self.acquire_timeout)
            .create_timeout(self.initialize_timeout)
            .recycle_timeout(self.health_check_timeout)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            // deadpool refuses only timeouts without a runtime, and the runtime is
            // always given above.
            .expect("deadpool takes every configuration the checks above let through");
        Ok(ResourcePool {
            pool,
            acquire_timeout: self.acquire_timeout,
            initialize_timeout: self.initialize_timeout,
        })
    }
}

impl<R: AsyncResource> Pooled<R> {
    /// Takes the resource out of the pool for good and cleans it up now, making room
    /// for a new one. Use it for a resource you know is broken.
    ///
    /// # Errors
    ///
    /// As for [`Managed::close`].
    ///
    /// # Cancel safety
    ///
    /// As for [`Managed::close`].
    pub async fn discard(self) -> Result<(), Error<R::Error>> {
        Object::take(self.object).close().await
    }
}

impl<R: AsyncResource> managed::Manager for PoolManager<R> {
    type Type = Managed<R>;
    type Error = R::Error;

    async fn create(&self) -> Result<Managed<R>, R::Error> {
        Managed::open_in((self.factory)(), &self.tracker).await
    }

    async fn recycle(&self, resource: &mut Managed<R>, _: &Metrics) -> RecycleResult<R::Error> {
        if resource.is_healthy().await {
            return Ok(());
        }
        #[cfg(feature = "tracing")]
        tracing::debug!("uno-resource: discarding an unhealthy pooled resource");
        // Deadpool drops a resource that fails to recycle; dropping a Managed cleans it
        // up in the background, so the caller waiting for a resource is not delayed.
        Err(RecycleError::message(
            "the resource reported itself unhealthy",
        ))
    }
}

impl<R: AsyncResource> Clone for ResourcePool<R> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            acquire_timeout: self.acquire_timeout,
            initialize_timeout: self.initialize_timeout,
        }
    }
}

impl<R: AsyncResource> Deref for Pooled<R> {
    type Target = R;

    fn deref(&self) -> &R {
        &self.object
    }
}

impl<R: AsyncResource> DerefMut for Pooled<R> {
    fn deref_mut(&mut self) -> &mut R {
        &mut self.object
    }
}

impl<R: AsyncResource> fmt::Debug for ResourcePool<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("ResourcePool")
            .field("size", &status.size)
            .field("idle", &status.available)
            .field("max_size", &status.max_size)
            .field("closed", &self.pool.is_closed())
            .finish()
    }
}

impl<R: AsyncResource> fmt::Debug for ResourcePoolBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourcePoolBuilder")
            .field("max_size", &self.max_size)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("initialize_timeout", &self.initialize_timeout)
            .field("health_check_timeout", &self.health_check_timeout)
            .field("cleanup_timeout", &self.cleanup_timeout)
            .finish_non_exhaustive()
    }
}

impl<R: AsyncResource + fmt::Debug> fmt::Debug for Pooled<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pooled").field(&**self).finish()
    }
}
