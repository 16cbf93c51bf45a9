//! [`ResponseFuture`], what a [`BreakerService`](super::BreakerService) call returns: it
//! holds the call's ticket and reports the outcome when the inner call answers or
//! panics. Dropped before then, the ticket counts nothing and gives back a half-open
//! probe slot.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::{BoxError, ValuePredicate};
use crate::breaker::Ticket;
use crate::{BreakerError, CircuitBreaker};

pin_project! {
    /// The response of a [`BreakerService`](super::BreakerService): the inner service's
    /// response, its error (boxed), or the breaker's refusal (a boxed
    /// `BreakerError<Infallible>`; see [`rejection`](super::rejection)).
    ///
    /// It is `Send` whenever the inner future and the response predicate are.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the inner call and counts nothing; a half-open probe gives its
    /// slot back, so another call can probe.
    ///
    /// # Panics
    ///
    /// Panics if polled again after it completed. A panic of the inner future counts
    /// as a failure and is then resumed; a panic of the response predicate or of the
    /// breaker's hooks reaches the caller, and the breaker stays consistent.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ResponseFuture<F, E, P> {
        #[pin]
        state: State<F, E, P>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, E, P> {
        Called {
            #[pin]
            future: F,
            // Taken when the outcome is recorded.
            ticket: Option<Ticket<E, CircuitBreaker<E>>>,
            record_if_ok: P,
        },
        Refused {
            error: Option<BreakerError<Infallible>>,
        },
    }
}

impl<F, E, P> ResponseFuture<F, E, P> {
    pub(crate) fn called(future: F, ticket: Ticket<E, CircuitBreaker<E>>, record_if_ok: P) -> Self {
        ResponseFuture {
            state: State::Called {
                future,
                ticket: Some(ticket),
                record_if_ok,
            },
        }
    }

    pub(crate) fn refused(error: BreakerError<Infallible>) -> Self {
        ResponseFuture {
            state: State::Refused { error: Some(error) },
        }
    }
}

impl<F, E, P, T> Future for ResponseFuture<F, E, P>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    P: ValuePredicate<T>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Called {
                mut future,
                ticket,
                record_if_ok,
            } => {
                // The future's state is not observed after a panic: the breaker only
                // records that the call failed, and the panic is resumed.
                let result = match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                    Ok(poll) => ready!(poll),
                    Err(panic) => {
                        if let Some(ticket) = ticket.take() {
                            ticket.finish(true);
                        }
                        resume_unwind(panic)
                    }
                };
                let ticket = ticket
                    .take()
                    .expect("a breaker's response future polled after it completed");
                let failed = match &result {
                    Ok(response) => record_if_ok.is_failure(response),
                    Err(error) => ticket.breaker().records(error),
                };
                ticket.finish(failed);
                Poll::Ready(result.map_err(Into::into))
            }
            StateProj::Refused { error } => {
                let error = error
                    .take()
                    .expect("a breaker's response future polled after it completed");
                Poll::Ready(Err(Box::new(error)))
            }
        }
    }
}

impl<F, E, P> fmt::Debug for ResponseFuture<F, E, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Called {
                ticket: Some(_), ..
            } => "running",
            State::Called { ticket: None, .. } | State::Refused { error: None } => "done",
            State::Refused { error: Some(_) } => "refused",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
