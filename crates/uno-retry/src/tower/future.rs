//! [`ResponseFuture`], what a [`RetryService`](super::RetryService) call returns, and
//! `Attempt`, one attempt of it.
//!
//! The first attempt is the call `poll_ready` allowed, made in `call`. Every later one
//! clones the inner service and the request, waits for that clone to be ready, and
//! calls it, all inside the attempt's future: the run's limits (`attempt_timeout`,
//! `max_elapsed`, the caller's deadline) bound that wait as they bound the call.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_service::Service;

use super::ValueDelayHint;
use crate::future::{Run, ValuePredicate};
use crate::policy::RetryPolicy;

pin_project! {
    /// The response of a [`RetryService`](super::RetryService): it resolves to the first
    /// response the policy keeps, or to the outcome of the last attempt when the
    /// policy gives up.
    ///
    /// It is `Send` whenever the inner service, its future, the request and the hooks
    /// are.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the running attempt (or the wait for the inner service to be
    /// ready, or the sleep between attempts); no further attempt is made.
    ///
    /// # Panics
    ///
    /// Panics if polled again after it completed, and when it needs tokio's timer
    /// outside a tokio runtime with time enabled. Panics of the inner service and of
    /// the hooks propagate.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ResponseFuture<S, Req, V, H>
    where
        S: Service<Req>,
    {
        policy: Arc<RetryPolicy<S::Error>>,
        // What later attempts clone: the inner service and the request.
        service: S,
        request: Req,
        retry_if_ok: V,
        delay_hint_ok: H,
        // The first attempt, made in `call`.
        #[pin]
        first: First<S::Future, Result<S::Response, S::Error>>,
        #[pin]
        run: Run<Attempt<S, Req>>,
    }
}

pin_project! {
    /// Where the first attempt is. A policy that keeps nothing from before the first
    /// call (no budget, `max_elapsed` or `attempt_timeout`) lets the response future
    /// poll it in place, so a first answer that is kept costs no more than the call;
    /// only an outcome to judge goes to the run, as attempt 1. Other policies hand the
    /// call itself to the run, which starts their clocks and budget first.
    #[project = FirstProj]
    enum First<F, O> {
        // Polled here until it answers.
        InPlace {
            #[pin]
            future: F,
        },
        // Not yet polled: the run takes it as its first attempt.
        ForRun {
            future: Option<F>,
        },
        // Answered in place; the run takes the answer as its first attempt's.
        Answered {
            outcome: Option<O>,
        },
        // Given to the run, or returned.
        Gone,
    }
}

pin_project! {
    /// One attempt: wait for the service to be ready (later attempts only), then call it.
    #[project = AttemptProj]
    pub(crate) enum Attempt<S, Req>
    where
        S: Service<Req>,
    {
        NotReady {
            service: S,
            request: Option<Req>,
        },
        Called {
            #[pin]
            future: S::Future,
        },
        // The first attempt, answered before the run started.
        Answered {
            outcome: Option<Result<S::Response, S::Error>>,
        },
    }
}

impl<S, Req, V, H> ResponseFuture<S, Req, V, H>
where
    S: Service<Req>,
{
    pub(crate) fn new(
        policy: Arc<RetryPolicy<S::Error>>,
        service: S,
        request: Req,
        first: S::Future,
        retry_if_ok: V,
        delay_hint_ok: H,
    ) -> Self {
        let in_place = policy.budget.is_none()
            && policy.max_elapsed.is_none()
            && policy.attempt_timeout.is_none();
        let first = match in_place {
            true => First::InPlace { future: first },
            false => First::ForRun {
                future: Some(first),
            },
        };
        ResponseFuture {
            policy,
            service,
            request,
            retry_if_ok,
            delay_hint_ok,
            first,
            run: Run::new(),
        }
    }
}

impl<S, Req, V, H> Future for ResponseFuture<S, Req, V, H>
where
    S: Service<Req> + Clone,
    Req: Clone,
    V: ValuePredicate<S::Response>,
    H: ValueDelayHint<S::Response>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (service, request, mut first) = (this.service, this.request, this.first);
        let (retry_if_ok, delay_hint_ok) = (this.retry_if_ok, this.delay_hint_ok);
        if let FirstProj::InPlace { future } = first.as_mut().project() {
            let outcome = ready!(future.poll(cx));
            if let Ok(response) = &outcome
                && !retry_if_ok.should_retry(response)
            {
                // The run counts every attempt it starts; this one never reaches it.
                crate::metrics::attempt(this.policy);
                first.set(First::Gone);
                return Poll::Ready(outcome);
            }
            first.set(First::Answered {
                outcome: Some(outcome),
            });
        }
        // An `Ok` answer taken from `Answered` was already judged worth retrying: the
        // predicate is not asked twice about one response.
        let judged = Cell::new(false);
        let operation = || {
            let attempt = match first.as_mut().project() {
                FirstProj::ForRun { future } => {
                    future.take().map(|future| Attempt::Called { future })
                }
                FirstProj::Answered { outcome } => outcome.take().map(|outcome| {
                    judged.set(outcome.is_ok());
                    Attempt::Answered {
                        outcome: Some(outcome),
                    }
                }),
                FirstProj::InPlace { .. } | FirstProj::Gone => None,
            };
            first.set(First::Gone);
            attempt.unwrap_or_else(|| Attempt::NotReady {
                service: service.clone(),
                request: Some(request.clone()),
            })
        };
        let retry_ok = |response: &S::Response| {
            (judged.replace(false) || retry_if_ok.should_retry(response))
                .then(|| delay_hint_ok.delay_hint(response))
        };
        this.run.poll_run(cx, this.policy, operation, retry_ok)
    }
}

impl<S, Req> Future for Attempt<S, Req>
where
    S: Service<Req>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let future = match self.as_mut().project() {
                AttemptProj::Called { future } => return future.poll(cx),
                AttemptProj::Answered { outcome } => {
                    return Poll::Ready(
                        outcome
                            .take()
                            .expect("an answered attempt is polled once, by the run"),
                    );
                }
                AttemptProj::NotReady { service, request } => {
                    ready!(service.poll_ready(cx))?;
                    let request = request
                        .take()
                        .expect("an attempt calls its service once, then polls the call");
                    service.call(request)
                }
            };
            self.set(Attempt::Called { future });
        }
    }
}

impl<S, Req, V, H> fmt::Debug for ResponseFuture<S, Req, V, H>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("policy", &self.policy)
            .field("attempt", &self.run.attempt())
            .field("state", &self.run.state_name())
            .finish_non_exhaustive()
    }
}
