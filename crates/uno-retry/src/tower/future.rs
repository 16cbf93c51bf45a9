//! [`ResponseFuture`], what a [`RetryService`](super::RetryService) call returns, and
//! `Attempt`, one attempt of it.
//!
//! The first attempt is the call `poll_ready` allowed, made in `call`. Every later one
//! clones the inner service and the request, waits for that clone to be ready, and
//! calls it, all inside the attempt's future: the run's limits (`attempt_timeout`,
//! `max_elapsed`, the caller's deadline) bound that wait as they bound the call.

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
        // The first attempt, made in `call`, until the run starts it.
        first: Option<S::Future>,
        retry_if_ok: V,
        delay_hint_ok: H,
        #[pin]
        run: Run<Attempt<S, Req>>,
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
        ResponseFuture {
            policy,
            service,
            request,
            first: Some(first),
            retry_if_ok,
            delay_hint_ok,
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
        let (service, request, first) = (this.service, this.request, this.first);
        let (retry_if_ok, delay_hint_ok) = (this.retry_if_ok, this.delay_hint_ok);
        let operation = || match first.take() {
            Some(future) => Attempt::Called { future },
            None => Attempt::NotReady {
                service: service.clone(),
                request: Some(request.clone()),
            },
        };
        let retry_ok = |response: &S::Response| {
            retry_if_ok
                .should_retry(response)
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
