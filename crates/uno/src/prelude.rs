//! The names most programs using uno need, for a glob import.
//!
//! ```
//! #[allow(unused_imports)]
//! use uno::prelude::*;
//! ```
//!
//! Each pattern adds its main types here when its feature is enabled.

#[cfg(feature = "retry")]
#[doc(no_inline)]
pub use crate::retry::{BackoffStrategy, Jitter, RetryExt, RetryPolicy};

#[cfg(feature = "resource")]
#[doc(no_inline)]
pub use crate::resource::{
    AsyncResource, CleanupTracker, Managed, ResourcePool, ResourceStack, SharedManaged, using,
};

#[cfg(feature = "limit")]
#[doc(no_inline)]
pub use crate::limit::{
    AdaptiveLimiter, FullPolicy, KeyedLimiter, KeyedRateLimiter, LimitStreamExt, Limiter,
    RateLimiter,
};

#[cfg(feature = "breaker")]
#[doc(no_inline)]
pub use crate::breaker::{BreakerError, CircuitBreaker};

#[cfg(feature = "deadline")]
#[doc(no_inline)]
pub use crate::deadline::Elapsed;

#[cfg(feature = "signal")]
#[doc(no_inline)]
pub use crate::signal::{Shutdown, Signal, on_signal};

#[cfg(feature = "batch")]
#[doc(no_inline)]
pub use crate::batch::{AsyncBatcher, BatchError};

#[cfg(feature = "taskgroup")]
#[doc(no_inline)]
pub use crate::taskgroup::{GroupError, SpawnError, Spawner, TaskError, TaskGroup, TaskId};

#[cfg(feature = "tx")]
#[doc(no_inline)]
pub use crate::tx::{TransactionManager, transaction};
