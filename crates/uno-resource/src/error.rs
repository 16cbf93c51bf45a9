//! The crate's error type.

use std::fmt;
use std::time::Duration;

/// A type-erased error, used where resources with different error types meet (a
/// [`ResourceStack`](crate::ResourceStack), a [`CleanupTracker`](crate::CleanupTracker)).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong while opening, using, closing or pooling a resource.
///
/// `E` is the error type of the resource (or of the body of [`using`](crate::using), or
/// of a [`ResourceStack`](crate::ResourceStack)). Where resources of different types
/// meet, `E` is [`BoxError`].
///
/// The message of an inner `E` is part of this error's message, so
/// [`source`](std::error::Error::source) returns `None`; match on the variant to get
/// the inner error itself.
#[non_exhaustive]
pub enum Error<E = BoxError> {
    /// The resource's `initialize` failed. Its `cleanup` was not run.
    Initialize(E),
    /// The resource's `initialize` did not finish within the pool's initialize timeout.
    InitializeTimeout(Duration),
    /// The resource's `cleanup` failed.
    Cleanup(E),
    /// The resource's `cleanup` did not finish within the cleanup timeout and was
    /// abandoned (its future was dropped).
    CleanupTimeout(Duration),
    /// The resource's `cleanup` panicked; the panic's message is kept.
    CleanupPanicked(String),
    /// The resource's `cleanup` was interrupted because the runtime it ran on shut down
    /// before it finished.
    CleanupCancelled,
    /// The body of [`using`](crate::using) failed. If the cleanup that followed failed
    /// too, its error is kept beside the body's.
    Body {
        /// The body's own error.
        error: E,
        /// The error of the cleanup that ran after the body failed, if it failed.
        cleanup: Option<Box<Error<E>>>,
    },
    /// Several cleanups failed (a [`ResourceStack`](crate::ResourceStack) or a
    /// [`ResourcePool`](crate::ResourcePool) closing); in the order they ran.
    Multiple(Vec<Error<E>>),
    /// No pooled resource became available within the pool's acquire timeout.
    AcquireTimeout(Duration),
    /// The pool is closed and hands out no more resources.
    PoolClosed,
}

/// Why [`ResourcePoolBuilder::build`](crate::ResourcePoolBuilder::build) refused its
/// settings. Apart from [`Error`], which says what happened to a resource, so that each
/// error type holds only what can happen where it is returned.
///
/// ```
/// use uno_resource::{AsyncResource, BuildError, ResourcePool};
///
/// struct Connection;
///
/// impl AsyncResource for Connection {
///     type Error = std::io::Error;
///     async fn initialize(&mut self) -> Result<(), std::io::Error> { Ok(()) }
///     async fn cleanup(&mut self) -> Result<(), std::io::Error> { Ok(()) }
/// }
///
/// let refused = ResourcePool::builder(|| Connection).max_size(0).build();
/// assert!(matches!(refused, Err(BuildError::ZeroMaxSize)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// `max_size(0)`: the pool could never hand out a resource.
    #[error("the pool's max size is zero; give it room for at least one resource")]
    ZeroMaxSize,
    /// A max size above [`MAX_POOL_SIZE`](crate::MAX_POOL_SIZE).
    #[error(
        "the pool's max size {size} is above MAX_POOL_SIZE (65,536), which deadpool would \
         reserve memory for up front; use a smaller size"
    )]
    MaxSizeTooLarge {
        /// The refused size.
        size: usize,
    },
    /// A zero acquire, initialize, health-check or cleanup timeout: nothing could ever
    /// finish in time.
    #[error("a pool timeout is zero; leave it unset for no timeout or give it a length")]
    ZeroTimeout,
}

impl<E> Error<E> {
    /// The body's error if this is [`Error::Body`], else `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_resource::Error;
    ///
    /// let error: Error<&str> = Error::Body { error: "no such user", cleanup: None };
    /// assert_eq!(error.into_body_error(), Some("no such user"));
    /// ```
    pub fn into_body_error(self) -> Option<E> {
        match self {
            Self::Body { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Converts the inner error type with `convert`, keeping the variant.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_resource::{BoxError, Error};
    ///
    /// let error: Error<std::io::Error> = Error::Cleanup(std::io::Error::other("disk full"));
    /// let boxed: Error<BoxError> = error.map_inner(BoxError::from);
    /// assert_eq!(boxed.to_string(), "resource cleanup failed: disk full");
    /// ```
    pub fn map_inner<F, T>(self, mut convert: F) -> Error<T>
    where
        F: FnMut(E) -> T,
    {
        self.map_with(&mut convert)
    }

    fn map_with<T>(self, convert: &mut dyn FnMut(E) -> T) -> Error<T> {
        match self {
            Self::Initialize(error) => Error::Initialize(convert(error)),
            Self::InitializeTimeout(after) => Error::InitializeTimeout(after),
            Self::Cleanup(error) => Error::Cleanup(convert(error)),
            Self::CleanupTimeout(after) => Error::CleanupTimeout(after),
            Self::CleanupPanicked(message) => Error::CleanupPanicked(message),
            Self::CleanupCancelled => Error::CleanupCancelled,
            Self::Body { error, cleanup } => Error::Body {
                error: convert(error),
                cleanup: cleanup.map(|cleanup| Box::new(cleanup.map_with(convert))),
            },
            Self::Multiple(errors) => Error::Multiple(
                errors
                    .into_iter()
                    .map(|error| error.map_with(convert))
                    .collect(),
            ),
            Self::AcquireTimeout(after) => Error::AcquireTimeout(after),
            Self::PoolClosed => Error::PoolClosed,
        }
    }

    /// Folds a list of cleanup failures into one result: none is `Ok`, one is that
    /// error, several are [`Error::Multiple`].
    pub(crate) fn aggregate(mut errors: Vec<Self>) -> Result<(), Self> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Self::Multiple(errors)),
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Initialize(error) => write!(f, "resource failed to initialize: {error}"),
            Self::InitializeTimeout(after) => write!(
                f,
                "resource did not initialize within {after:?}; raise the pool's initialize \
                 timeout or check what initialize waits for"
            ),
            Self::Cleanup(error) => write!(f, "resource cleanup failed: {error}"),
            Self::CleanupTimeout(after) => write!(
                f,
                "resource cleanup did not finish within {after:?} and was abandoned; raise the \
                 cleanup timeout or make cleanup return sooner"
            ),
            Self::CleanupPanicked(message) => write!(f, "resource cleanup panicked: {message}"),
            Self::CleanupCancelled => f.write_str(
                "resource cleanup was interrupted because its runtime shut down; await \
                 CleanupTracker::wait before shutting the runtime down",
            ),
            Self::Body { error, cleanup } => match cleanup {
                None => write!(f, "{error}"),
                Some(cleanup) => write!(f, "{error} (and then {cleanup})"),
            },
            Self::Multiple(errors) => {
                write!(f, "{} resource cleanups failed", errors.len())?;
                for (index, error) in errors.iter().enumerate() {
                    let separator = if index == 0 { ": " } else { "; " };
                    write!(f, "{separator}{error}")?;
                }
                Ok(())
            }
            Self::AcquireTimeout(after) => write!(
                f,
                "no pooled resource became available within {after:?}; raise the pool's max \
                 size or acquire timeout, or return resources to the pool sooner"
            ),
            Self::PoolClosed => {
                f.write_str("the resource pool is closed; acquire from a pool that is open")
            }
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Initialize(error) => f.debug_tuple("Initialize").field(error).finish(),
            Self::InitializeTimeout(after) => {
                f.debug_tuple("InitializeTimeout").field(after).finish()
            }
            Self::Cleanup(error) => f.debug_tuple("Cleanup").field(error).finish(),
            Self::CleanupTimeout(after) => f.debug_tuple("CleanupTimeout").field(after).finish(),
            Self::CleanupPanicked(message) => {
                f.debug_tuple("CleanupPanicked").field(message).finish()
            }
            Self::CleanupCancelled => f.write_str("CleanupCancelled"),
            Self::Body { error, cleanup } => f
                .debug_struct("Body")
                .field("error", error)
                .field("cleanup", cleanup)
                .finish(),
            Self::Multiple(errors) => f.debug_tuple("Multiple").field(errors).finish(),
            Self::AcquireTimeout(after) => f.debug_tuple("AcquireTimeout").field(after).finish(),
            Self::PoolClosed => f.write_str("PoolClosed"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for Error<E> {}

/// The message of a caught panic payload, for [`Error::CleanupPanicked`].
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        return (*message).to_owned();
    }
    if let Some(message) = payload.downcast_ref::<String>() {
        return message.clone();
    }
    "a panic with a non-string payload".to_owned()
}
