//! A handle that spawns into a group from inside its tasks.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::TaskId;
use crate::error::SpawnError;
use crate::shared::Shared;

/// A cloneable handle that spawns tasks into a [`TaskGroup`](crate::TaskGroup).
///
/// Tasks use it to spawn siblings; those are awaited by the group's `join` like any
/// other task. A spawner does not keep the group alive: once the group has finished,
/// failed or been cancelled, [`spawn`](Self::spawn) returns an error.
///
/// # Examples
///
/// ```
/// use uno_taskgroup::{SpawnError, TaskGroup};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let group = TaskGroup::<u32, SpawnError>::new();
/// let spawner = group.spawner();
/// group
///     .spawn(async move {
///         // A task that discovers more work spawns it into its own group.
///         spawner.spawn(async { Ok(2) })?;
///         Ok(1)
///     })
///     .unwrap();
/// assert_eq!(group.join().await.unwrap(), [1, 2]);
/// # }
/// ```
pub struct Spawner<T, E> {
    shared: Arc<Shared<T, E>>,
}

impl<T: Send + 'static, E: Send + 'static> Spawner<T, E> {
    pub(crate) fn new(shared: Arc<Shared<T, E>>) -> Self {
        Spawner { shared }
    }

    /// Spawns `task` into the group, as [`TaskGroup::spawn`](crate::TaskGroup::spawn)
    /// does.
    ///
    /// # Errors
    ///
    /// Returns a [`SpawnError`] when the group has failed, was cancelled or has
    /// finished; `task` is then dropped without being polled.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime, as `tokio::spawn` does; the panic,
    /// and tokio's record of where the task was spawned, name the caller's line.
    #[track_caller]
    pub fn spawn<F>(&self, task: F) -> Result<TaskId, SpawnError>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.shared.spawn(task)
    }

    /// The group's cancellation token (see [`TaskGroup::token`](crate::TaskGroup::token)).
    pub fn token(&self) -> CancellationToken {
        self.shared.share_token()
    }

    /// Cancels the group (see [`TaskGroup::cancel`](crate::TaskGroup::cancel)).
    pub fn cancel(&self) {
        self.shared.cancel();
    }
}

impl<T, E> Clone for Spawner<T, E> {
    fn clone(&self) -> Self {
        Spawner {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T, E> fmt::Debug for Spawner<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Spawner").field(&self.shared).finish()
    }
}
