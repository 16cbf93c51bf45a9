//! The `AsyncResource` trait: a resource with an async lifecycle.

use std::future::Future;

/// A resource with an async lifecycle: `initialize` before use, `cleanup` after.
///
/// This is Python uno's `AsyncResource` (`_initialize`, `_cleanup`). Implement it for a
/// connection, a client, a file: anything that must be set up and torn down with async
/// work. Then use it through [`Managed`](crate::Managed), [`using`](crate::using), a
/// [`ResourceStack`](crate::ResourceStack) or a [`ResourcePool`](crate::ResourcePool),
/// which make sure `cleanup` runs on every exit path.
///
/// # Contract
///
/// - `cleanup` runs exactly once for every resource whose `initialize` returned `Ok`.
/// - A resource whose `initialize` failed, panicked or was cancelled is dropped without
///   `cleanup` (as Python's `__aexit__` does not run when `__aenter__` raised). If
///   `initialize` can fail halfway, undo the half it did before returning the error.
/// - `cleanup` is bounded by a timeout (see
///   [`CleanupTracker::with_cleanup_timeout`](crate::CleanupTracker::with_cleanup_timeout));
///   when it runs out, the `cleanup` future is dropped and the failure is reported.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
///
/// use uno_resource::AsyncResource;
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
/// ```
pub trait AsyncResource: Send + 'static {
    /// What `initialize` and `cleanup` fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Sets the resource up; runs once, before the resource is handed out.
    ///
    /// # Errors
    ///
    /// Whatever setting up the resource fails with. The resource is then dropped
    /// without `cleanup`.
    fn initialize(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Tears the resource down; runs once, after its last use.
    ///
    /// # Errors
    ///
    /// Whatever tearing the resource down fails with; it is reported to whoever closes
    /// the resource (or to its [`CleanupTracker`](crate::CleanupTracker)).
    fn cleanup(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Whether a pooled resource can be handed out again; checked by
    /// [`ResourcePool`](crate::ResourcePool) each time an idle resource is acquired.
    /// A resource that is not healthy is discarded and cleaned up. The default says
    /// every resource is healthy.
    fn is_healthy(&mut self) -> impl Future<Output = bool> + Send {
        std::future::ready(true)
    }
}

/// A resource behind a `tokio::sync::Mutex` is a resource: `initialize`, `cleanup` and
/// `is_healthy` reach the one inside (through `get_mut`, so without locking).
///
/// This is how tasks sharing one resource through a
/// [`SharedManaged`](crate::SharedManaged) get `&mut` access to it: open a
/// `Mutex<R>` and lock it where `&mut R` is needed.
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
/// use tokio::sync::Mutex;
/// use uno_resource::Managed;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let shared = Managed::open(Mutex::new(Connection)).await?.into_shared();
/// let _connection: &mut Connection = &mut *shared.lock().await;
/// # Ok(())
/// # }
/// ```
impl<R: AsyncResource> AsyncResource for tokio::sync::Mutex<R> {
    type Error = R::Error;

    fn initialize(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.get_mut().initialize()
    }

    fn cleanup(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.get_mut().cleanup()
    }

    fn is_healthy(&mut self) -> impl Future<Output = bool> + Send {
        self.get_mut().is_healthy()
    }
}

/// A resource behind a `tokio::sync::RwLock` is a resource: `initialize`, `cleanup`
/// and `is_healthy` reach the one inside (through `get_mut`, so without locking).
///
/// Like the `Mutex` implementation, for sharing one resource through a
/// [`SharedManaged`](crate::SharedManaged) when most tasks only read it.
impl<R: AsyncResource> AsyncResource for tokio::sync::RwLock<R> {
    type Error = R::Error;

    fn initialize(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.get_mut().initialize()
    }

    fn cleanup(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.get_mut().cleanup()
    }

    fn is_healthy(&mut self) -> impl Future<Output = bool> + Send {
        self.get_mut().is_healthy()
    }
}
