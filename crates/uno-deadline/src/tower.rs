//! tower middleware: [`DeadlineLayer`] runs every request of a
//! [`tower_service::Service`] under a deadline that everything below it sees.
//!
//! This file owns the layer, its service and its response future. The service waits
//! for the inner service to be ready *inside* the deadline, so the time a request
//! spends queued for a limiter's permit counts against it, and every uno pattern
//! below (a retry's sleeps, a limiter's wait) stops at the same instant.
//!
//! ```
//! use std::time::Duration;
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//! use uno_deadline::Elapsed;
//! use uno_deadline::tower::DeadlineLayer;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let mut service = ServiceBuilder::new()
//!     .layer(DeadlineLayer::new(Duration::from_secs(2)))
//!     .service(service_fn(|seconds: u64| async move {
//!         // Deep inside, the request's budget is known without being passed.
//!         let budget = uno_deadline::remaining();
//!         tokio::time::sleep(Duration::from_secs(seconds)).await;
//!         Ok::<_, std::io::Error>(budget)
//!     }));
//!
//! let quick = service.ready().await.unwrap().call(1).await.unwrap();
//! assert_eq!(quick, Some(Duration::from_secs(2)));
//!
//! let slow = service.ready().await.unwrap().call(5).await.unwrap_err();
//! assert!(slow.is::<Elapsed>());
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::{Deadline, within};

/// The error type tower's own middleware uses: any error, boxed (the same type as
/// `tower::BoxError`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs every request under a deadline of `duration` from the moment it is called.
///
/// Inside, [`current`](crate::current) and [`remaining`](crate::remaining) report the
/// deadline, and every uno pattern honours it: a `RetryLayer` never sleeps past it, a
/// `LimitLayer` waits for a permit at most until it. A request still running at the
/// deadline is dropped and fails with [`Elapsed`](crate::Elapsed), boxed into
/// [`BoxError`]; the inner service's own errors are boxed as they are, so
/// `error.downcast_ref::<YourError>()` still finds them. A deadline never extends an
/// outer one: under an earlier deadline (an outer `DeadlineLayer`, or a caller's
/// [`within`]), the earlier one applies.
///
/// Put it outermost among uno's layers, so that one budget covers every attempt of a
/// retry and every wait in between (see the crate guide's "With tower").
///
/// A zero `duration` gives each request at most two polls, so only work that is
/// ready at once gets through; a duration too long for tokio's clock (`Duration::MAX`)
/// sets no deadline of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineLayer {
    duration: Duration,
}

/// A [`Service`] whose requests run under a deadline; made by [`DeadlineLayer`].
///
/// # Readiness
///
/// It is always ready: it waits for the inner service to be ready inside each
/// request's deadline, on a clone of the inner service, as axum's `HandleError` and
/// tower's `Oneshot` do. So a request queued behind a full limiter below counts that
/// wait against its deadline, instead of waiting in `poll_ready` where no deadline
/// applies yet.
#[derive(Debug, Clone)]
pub struct DeadlineService<S> {
    inner: S,
    duration: Duration,
}

pin_project! {
    /// The response of a [`DeadlineService`]: the inner service's response, or
    /// [`Elapsed`](crate::Elapsed) (boxed) when the deadline passed first.
    ///
    /// It is `Send` whenever the inner service, its future and the request are.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the inner call (or the wait for the inner service to be
    /// ready); nothing else is held.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        call: Deadline<ReadyCall<S, Req>>,
    }
}

pin_project! {
    /// Waits for a service to be ready, then calls it once (tower's `Oneshot`).
    #[project = ReadyCallProj]
    enum ReadyCall<S, Req>
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

impl DeadlineLayer {
    /// A layer that gives every request `duration` from the moment it is called.
    pub fn new(duration: Duration) -> Self {
        DeadlineLayer { duration }
    }

    /// How long each request may take.
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService {
            inner,
            duration: self.duration,
        }
    }
}

impl<S> DeadlineService<S> {
    /// How long each request may take.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, Req> Service<Req> for DeadlineService<S>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, Req>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is awaited inside the request's deadline; see the type's docs.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let call = ReadyCall::NotReady {
            service: self.inner.clone(),
            request: Some(request),
        };
        ResponseFuture {
            call: within(self.duration, call),
        }
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match ready!(self.project().call.poll(cx)) {
            Ok(Ok(response)) => Poll::Ready(Ok(response)),
            Ok(Err(error)) => Poll::Ready(Err(error.into())),
            Err(elapsed) => Poll::Ready(Err(Box::new(elapsed))),
        }
    }
}

impl<S, Req> Future for ReadyCall<S, Req>
where
    S: Service<Req>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let future = match self.as_mut().project() {
                ReadyCallProj::Called { future } => return future.poll(cx),
                ReadyCallProj::NotReady { service, request } => {
                    ready!(service.poll_ready(cx))?;
                    let request = request
                        .take()
                        .expect("the service is called once, then its call is polled");
                    service.call(request)
                }
            };
            self.set(ReadyCall::Called { future });
        }
    }
}

impl<S, Req> fmt::Debug for ResponseFuture<S, Req>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("call", &self.call)
            .finish()
    }
}

impl<S, Req> fmt::Debug for ReadyCall<S, Req>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReadyCall::NotReady { .. } => "ReadyCall::NotReady",
            ReadyCall::Called { .. } => "ReadyCall::Called",
        })
    }
}
