//! Processing a stream with at most `n` items in flight.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use futures_util::StreamExt as _;
use futures_util::stream::Fuse;
use tokio::task::{JoinError, JoinHandle, JoinSet};

use crate::BuildError;

/// Stream adapters that run `f` on each item as a tokio task, at most `limit` at once.
///
/// They are the safe counterpart of `futures`' `buffered` / `buffer_unordered`:
///
/// - a limit of 0 is refused with [`BuildError::ZeroLimit`] instead of a stream that
///   never yields;
/// - each item's future runs as its own task, so it keeps making progress while the
///   consumer is busy between `next()` calls (with `buffer_unordered`, buffered futures
///   stall until the consumer polls again, which turns into timeouts and deadlocks
///   when they hold locks or connections);
/// - dropping the stream aborts every task still in flight, and a task that panicked
///   re-raises its panic in the consumer when its turn comes.
///
/// Because the work is spawned, `f`'s futures must be `Send + 'static`, and the stream
/// must be polled inside a tokio runtime. For borrowed work that needs neither, use
/// `buffered(n)` with `n >= 1`.
///
/// # Examples
///
/// ```
/// use futures_util::StreamExt;
/// use uno_limit::LimitStreamExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let squares: Vec<u64> = futures_util::stream::iter(1..=5u64)
///     .map_limited(2, |n| async move { n * n })?
///     .collect()
///     .await;
/// assert_eq!(squares, [1, 4, 9, 16, 25]);
///
/// assert!(futures_util::stream::iter(1..=5u64).map_limited(0, |n| async move { n }).is_err());
/// # Ok(())
/// # }
/// ```
pub trait LimitStreamExt: Stream + Sized {
    /// Runs `f` on every item with at most `limit` tasks in flight and yields the
    /// results in the order of the input. A finished result waiting for an earlier one
    /// still counts as in flight.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroLimit`] when `limit` is 0.
    ///
    /// # Panics
    ///
    /// Polling the returned stream outside a tokio runtime panics, and a task's panic
    /// is resumed in the consumer when its result is due.
    fn map_limited<F, Fut>(
        self,
        limit: usize,
        f: F,
    ) -> Result<MapLimited<Self, F, Fut::Output>, BuildError>
    where
        F: FnMut(Self::Item) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let limit = nonzero(limit)?;
        Ok(MapLimited {
            stream: self.fuse(),
            f,
            limit,
            tasks: VecDeque::with_capacity(limit.min(64)),
        })
    }

    /// Runs `f` on every item with at most `limit` tasks in flight and yields the
    /// results as they finish.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroLimit`] when `limit` is 0.
    ///
    /// # Panics
    ///
    /// Polling the returned stream outside a tokio runtime panics, and a task's panic
    /// is resumed in the consumer when it is collected.
    fn map_limited_unordered<F, Fut>(
        self,
        limit: usize,
        f: F,
    ) -> Result<MapLimitedUnordered<Self, F, Fut::Output>, BuildError>
    where
        F: FnMut(Self::Item) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let limit = nonzero(limit)?;
        Ok(MapLimitedUnordered {
            stream: self.fuse(),
            f,
            limit,
            tasks: JoinSet::new(),
        })
    }
}

impl<S: Stream> LimitStreamExt for S {}

pin_project_lite::pin_project! {
    /// The stream returned by [`LimitStreamExt::map_limited`]: results in input order.
    #[must_use = "streams do nothing unless polled"]
    pub struct MapLimited<S, F, O> {
        #[pin]
        stream: Fuse<S>,
        f: F,
        limit: usize,
        tasks: VecDeque<AbortOnDrop<O>>,
    }
}

pin_project_lite::pin_project! {
    /// The stream returned by [`LimitStreamExt::map_limited_unordered`]: results in
    /// completion order.
    #[must_use = "streams do nothing unless polled"]
    pub struct MapLimitedUnordered<S, F, O> {
        #[pin]
        stream: Fuse<S>,
        f: F,
        limit: usize,
        tasks: JoinSet<O>,
    }
}

/// A task handle that aborts its task when dropped, so an abandoned stream leaves no
/// work running.
struct AbortOnDrop<O>(JoinHandle<O>);

impl<O> Drop for AbortOnDrop<O> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<S, F, Fut> Stream for MapLimited<S, F, Fut::Output>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Item = Fut::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        while this.tasks.len() < *this.limit {
            #[expect(
                clippy::disallowed_methods,
                reason = "each item's task is owned by this stream and aborted when it is dropped"
            )]
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => this
                    .tasks
                    .push_back(AbortOnDrop(tokio::spawn((this.f)(item)))),
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        if let Some(front) = this.tasks.front_mut() {
            let result = ready!(Pin::new(&mut front.0).poll(cx));
            this.tasks.pop_front();
            return Poll::Ready(Some(task_output(result)));
        }
        if this.stream.is_done() {
            return Poll::Ready(None);
        }
        Poll::Pending
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, high) = self.stream.size_hint();
        let queued = self.tasks.len();
        (
            low.saturating_add(queued),
            high.and_then(|high| high.checked_add(queued)),
        )
    }
}

impl<S, F, Fut> Stream for MapLimitedUnordered<S, F, Fut::Output>
where
    S: Stream,
    F: FnMut(S::Item) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Item = Fut::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        while this.tasks.len() < *this.limit {
            match this.stream.as_mut().poll_next(cx) {
                Poll::Ready(Some(item)) => {
                    this.tasks.spawn((this.f)(item));
                }
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        match ready!(this.tasks.poll_join_next(cx)) {
            Some(result) => Poll::Ready(Some(task_output(result))),
            None if this.stream.is_done() => Poll::Ready(None),
            // No task in flight and the input has nothing yet: the input woke us up.
            None => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, high) = self.stream.size_hint();
        let queued = self.tasks.len();
        (
            low.saturating_add(queued),
            high.and_then(|high| high.checked_add(queued)),
        )
    }
}

fn nonzero(limit: usize) -> Result<usize, BuildError> {
    if limit == 0 {
        return Err(BuildError::ZeroLimit);
    }
    Ok(limit)
}

fn task_output<O>(result: Result<O, JoinError>) -> O {
    match result {
        Ok(output) => output,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        // Only a runtime shutting down cancels these tasks (the stream never aborts a
        // task it still owns), and then there is no consumer left to tell.
        Err(error) => panic!("a stream task was cancelled because the runtime shut down: {error}"),
    }
}

impl<S, F, O> fmt::Debug for MapLimited<S, F, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapLimited")
            .field("limit", &self.limit)
            .field("in_flight", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl<S, F, O> fmt::Debug for MapLimitedUnordered<S, F, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapLimitedUnordered")
            .field("limit", &self.limit)
            .field("in_flight", &self.tasks.len())
            .finish_non_exhaustive()
    }
}
