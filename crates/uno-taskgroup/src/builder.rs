//! Options for a task group.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::TaskGroup;
use crate::error::BuildError;
use crate::shared::Config;

/// Options for a [`TaskGroup`], from [`TaskGroup::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tokio_util::sync::CancellationToken;
/// use uno_taskgroup::TaskGroup;
///
/// let shutdown = CancellationToken::new();
/// let group = TaskGroup::<(), std::io::Error>::builder()
///     .fail_fast(false)
///     .max_concurrency(16)
///     .grace_period(Duration::from_secs(2))
///     .parent_token(&shutdown)
///     .build()
///     .expect("valid options");
/// # drop(group);
/// ```
pub struct Builder<T, E> {
    fail_fast: bool,
    max_concurrency: Option<usize>,
    grace_period: Duration,
    parent: Option<CancellationToken>,
    _types: PhantomData<fn() -> (T, E)>,
}

impl<T: Send + 'static, E: Send + 'static> Builder<T, E> {
    pub(crate) fn new() -> Self {
        Builder {
            fail_fast: true,
            max_concurrency: None,
            grace_period: Duration::ZERO,
            parent: None,
            _types: PhantomData,
        }
    }

    /// Whether the first failure cancels the other tasks (`true`, the default).
    ///
    /// With `false`, every task runs to its end and `join` reports all failures.
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = fail_fast;
        self
    }

    /// At most `limit` task bodies run at once. Tasks beyond the limit wait in a queue,
    /// not spawned yet, and start in spawn order as running tasks end. No limit by
    /// default. `0` is rejected by [`build`](Self::build); `usize::MAX` is the same as
    /// no limit.
    pub fn max_concurrency(mut self, limit: usize) -> Self {
        self.max_concurrency = Some(limit);
        self
    }

    /// How long a cancelling group waits for tasks that watch its token to finish
    /// before it aborts them. Zero by default: tasks are aborted at once.
    ///
    /// A grace period too long to represent as a deadline (such as `Duration::MAX`)
    /// means "forever": a cancelling group then waits for its tasks to finish on their
    /// own and never aborts them itself. Dropping the group, or the future that awaits
    /// `join`, still aborts every task at once.
    pub fn grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }

    /// Cancels the group when `parent` is cancelled (a shutdown token, an outer
    /// group's token). The group's own token is a child of `parent`: cancelling the
    /// group never cancels `parent`.
    pub fn parent_token(mut self, parent: &CancellationToken) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Builds the group.
    ///
    /// # Errors
    ///
    /// Returns [`BuildError::ZeroConcurrency`] for `max_concurrency(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_taskgroup::{BuildError, TaskGroup};
    ///
    /// let error = TaskGroup::<(), std::io::Error>::builder()
    ///     .max_concurrency(0)
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(error, BuildError::ZeroConcurrency);
    /// ```
    pub fn build(self) -> Result<TaskGroup<T, E>, BuildError> {
        if self.max_concurrency == Some(0) {
            return Err(BuildError::ZeroConcurrency);
        }
        let token = match &self.parent {
            Some(parent) => parent.child_token(),
            None => CancellationToken::new(),
        };
        Ok(TaskGroup::from_config(Config {
            token,
            token_external: self.parent.is_some(),
            max_concurrency: self.max_concurrency,
            fail_fast: self.fail_fast,
            grace_period: self.grace_period,
            #[cfg(feature = "tracing")]
            span: tracing::debug_span!(
                "taskgroup",
                fail_fast = self.fail_fast,
                max_concurrency = self.max_concurrency,
            ),
        }))
    }
}

impl<T, E> fmt::Debug for Builder<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("fail_fast", &self.fail_fast)
            .field("max_concurrency", &self.max_concurrency)
            .field("grace_period", &self.grace_period)
            .field("parent", &self.parent)
            .finish()
    }
}
