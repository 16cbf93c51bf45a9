//! [`Limited`], the named future that wrapped functions return.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::{FullPolicy, LimitError, Limiter, Permit};

type AcquireFuture = Pin<Box<dyn Future<Output = Result<Permit, LimitError>> + Send>>;

pin_project_lite::pin_project! {
    /// A future that runs its inner future under a [`Limiter`]; returned by the
    /// functions that [`Limiter::wrap`] makes.
    ///
    /// It first gets a permit as the limiter's [`FullPolicy`] says, then polls the
    /// inner future, then releases the permit. It is `Send` whenever the inner future
    /// is. A free permit is taken without allocating; waiting for one allocates once.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropped while waiting, it holds no permit and leaves the queue;
    /// dropped while running, it releases its permit (after dropping the inner future).
    ///
    /// # Panics
    ///
    /// Polling it again after it returned `Ready` panics, as most futures do.
    #[must_use = "futures do nothing unless polled"]
    pub struct Limited<Fut> {
        // Fields drop in order: the inner future goes before the permit held in `state`,
        // so whatever it holds is released before the next caller is admitted.
        #[pin]
        future: Fut,
        limiter: Limiter,
        state: State,
    }
}

enum State {
    Start,
    Waiting(AcquireFuture),
    Running { _permit: Permit },
    Done,
}

impl<Fut> Limited<Fut> {
    pub(crate) fn new(limiter: Limiter, future: Fut) -> Self {
        Limited {
            future,
            limiter,
            state: State::Start,
        }
    }
}

impl<Fut: Future> Future for Limited<Fut> {
    type Output = Result<Fut::Output, LimitError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state {
                State::Start => match this.limiter.try_acquire() {
                    Ok(permit) => *this.state = State::Running { _permit: permit },
                    Err(LimitError::Full { .. } | LimitError::Limited { .. })
                        if this.limiter.on_full() != FullPolicy::Reject =>
                    {
                        let limiter = this.limiter.clone();
                        let policy = limiter.on_full();
                        *this.state =
                            State::Waiting(Box::pin(
                                async move { limiter.acquire_with(policy).await },
                            ));
                    }
                    Err(error) => {
                        *this.state = State::Done;
                        return Poll::Ready(Err(error));
                    }
                },
                State::Waiting(acquire) => match ready!(acquire.as_mut().poll(cx)) {
                    Ok(permit) => *this.state = State::Running { _permit: permit },
                    Err(error) => {
                        *this.state = State::Done;
                        return Poll::Ready(Err(error));
                    }
                },
                State::Running { .. } => {
                    let output = ready!(this.future.as_mut().poll(cx));
                    *this.state = State::Done;
                    return Poll::Ready(Ok(output));
                }
                State::Done => panic!("`Limited` future polled after it completed"),
            }
        }
    }
}

impl<Fut> fmt::Debug for Limited<Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Start => "start",
            State::Waiting(_) => "waiting",
            State::Running { .. } => "running",
            State::Done => "done",
        };
        f.debug_struct("Limited")
            .field("limiter", &self.limiter)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
