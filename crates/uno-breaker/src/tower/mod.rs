//! tower middleware: [`BreakerLayer`] puts a [`CircuitBreaker`] in front of a
//! [`tower_service::Service`].
//!
//! This module owns the layer, its service and the hooks that judge responses;
//! `future.rs` owns the response future, which reports each call's outcome to the
//! breaker. Admission and counting are the breaker's own, so a breaker shared between
//! a `BreakerLayer` and [`CircuitBreaker::call`] sees one stream of calls.
//!
//! ```
//! use std::time::Duration;
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//! use uno_breaker::tower::{BreakerLayer, rejection};
//! use uno_breaker::{CircuitBreaker, State};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let breaker = CircuitBreaker::builder()
//!     .consecutive_failures(2)
//!     .open_for(Duration::from_secs(30))
//!     .build()?;
//! let mut service = ServiceBuilder::new()
//!     .layer(BreakerLayer::new(breaker.clone()))
//!     .service(service_fn(|_: ()| async {
//!         Err::<(), _>(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
//!     }));
//!
//! for _ in 0..2 {
//!     let error = service.ready().await?.call(()).await.unwrap_err();
//!     assert!(error.is::<std::io::Error>()); // the service's own error, boxed
//! }
//! assert_eq!(breaker.state(), State::Open);
//!
//! // Open: the call fails at once, without reaching the service.
//! let error = service.ready().await?.call(()).await.unwrap_err();
//! assert_eq!(rejection(&error).and_then(|open| open.retry_after()), Some(Duration::from_secs(30)));
//! # Ok(())
//! # }
//! ```
//!
//! # Conventions
//!
//! - **Fail fast.** `poll_ready` asks the breaker first: while it is open (or
//!   half-open with every probe slot taken) it is ready at once, without asking the
//!   inner service, and the next call fails with [`BreakerError::Open`] (or
//!   [`BreakerError::HalfOpenBusy`]) without calling it. So an open breaker is not
//!   kept waiting by a full limiter further in. Otherwise `poll_ready` is the inner
//!   service's, and the call is admitted (a half-open probe takes its slot) in
//!   `call`, once the inner service is ready.
//! - **Errors are boxed.** The service's error is [`BoxError`]: a refusal is a
//!   `BreakerError<Infallible>` (find it with [`rejection`]), and the inner service's
//!   errors are boxed as they are, so `error.downcast_ref::<YourError>()` still finds
//!   them.
//! - **What counts as a failure.** An inner error that the breaker's
//!   [`record_if`](crate::CircuitBreakerBuilder::record_if) accepts (so a
//!   `BreakerLayer` over a service failing with `BoxError` takes a
//!   `CircuitBreaker<BoxError>`), an `Ok` response that
//!   [`BreakerLayer::record_if_ok`] accepts (an HTTP 5xx), and a panic of the inner
//!   service, which is then resumed. A response future dropped before it finished
//!   counts as nothing and gives back a half-open probe slot.
//! - Services are `Clone` and share the breaker; response futures are named types,
//!   `Send` whenever the inner future is.

mod future;

use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

pub use self::future::ResponseFuture;
use crate::state::Rejection;
use crate::{BreakerError, CircuitBreaker};

/// The error type tower's own middleware uses: any error, boxed (the same type as
/// `tower::BoxError`).
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Decides whether an `Ok` response is a failure the breaker counts, as an HTTP 5xx
/// is; see [`BreakerLayer::record_if_ok`].
///
/// Implemented for every `FnMut(&T) -> bool` and for [`NoValuePredicate`].
pub trait ValuePredicate<T> {
    /// Returns `true` when `value` counts as a failure.
    fn is_failure(&mut self, value: &T) -> bool;
}

/// The [`ValuePredicate`] of a layer without one: every `Ok` response is a success.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoValuePredicate;

impl<T> ValuePredicate<T> for NoValuePredicate {
    fn is_failure(&mut self, _value: &T) -> bool {
        false
    }
}

impl<T, P> ValuePredicate<T> for P
where
    P: FnMut(&T) -> bool,
{
    fn is_failure(&mut self, value: &T) -> bool {
        self(value)
    }
}

/// Wraps a service in a [`CircuitBreaker`]: calls are counted, and while the breaker
/// is open they fail at once without reaching the service.
///
/// Cloning is cheap, and every clone (and every service it makes) shares the breaker:
/// keep one breaker per dependency. Put it inside a `RetryLayer`, so every attempt
/// asks the breaker, and outside a `LimitLayer`, so an open breaker fails fast instead
/// of queueing for a permit (see the crate guide's "With tower").
///
/// # Examples
///
/// Count 5xx answers as failures, not only errors:
///
/// ```
/// use uno_breaker::CircuitBreaker;
/// use uno_breaker::tower::BreakerLayer;
///
/// /// What the backend answers (an `http::Response` in an HTTP client).
/// struct Reply {
///     status: u16,
/// }
///
/// let breaker: CircuitBreaker<std::io::Error> = CircuitBreaker::builder().build()?;
/// let layer = BreakerLayer::new(breaker).record_if_ok(|reply: &Reply| reply.status >= 500);
/// # let _ = layer;
/// # Ok::<(), uno_breaker::BuildError>(())
/// ```
pub struct BreakerLayer<E, P = NoValuePredicate> {
    breaker: CircuitBreaker<E>,
    record_if_ok: P,
}

/// A [`Service`] behind a circuit breaker; made by [`BreakerLayer`].
///
/// `E` is the inner service's error type, which the breaker judges.
pub struct BreakerService<S, E, P = NoValuePredicate> {
    inner: S,
    breaker: CircuitBreaker<E>,
    record_if_ok: P,
    /// Why the next call is refused, as `poll_ready` found the breaker.
    refused: Option<Rejection>,
}

/// The breaker's refusal carried by `error`, a [`BreakerService`]'s error (or one that
/// has it among its sources): `None` when the call was made and the error is the
/// inner service's.
///
/// It fits a retry policy over a `BoxError` service: do not retry refusals with
/// `retry_if(|error| rejection(error).is_none())`, or wait them out with
/// `delay_hint(|error| rejection(error).and_then(BreakerError::retry_after))`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_breaker::BreakerError;
/// use uno_breaker::tower::{BoxError, rejection};
///
/// let open: BoxError = Box::new(BreakerError::<std::convert::Infallible>::Open {
///     retry_after: Duration::from_secs(5),
/// });
/// assert_eq!(rejection(&open).and_then(BreakerError::retry_after), Some(Duration::from_secs(5)));
///
/// let inner: BoxError = Box::new(std::io::Error::from(std::io::ErrorKind::TimedOut));
/// assert!(rejection(&inner).is_none());
/// ```
pub fn rejection(error: &BoxError) -> Option<&BreakerError<Infallible>> {
    let mut current: &(dyn Error + 'static) = &**error;
    loop {
        if let Some(refusal) = current.downcast_ref::<BreakerError<Infallible>>() {
            return Some(refusal);
        }
        current = current.source()?;
    }
}

impl<E> BreakerLayer<E> {
    /// A layer that puts `breaker` (shared with its other clones) in front of a
    /// service; every `Ok` response counts as a success.
    pub fn new(breaker: CircuitBreaker<E>) -> Self {
        BreakerLayer {
            breaker,
            record_if_ok: NoValuePredicate,
        }
    }
}

impl<E, P> BreakerLayer<E, P> {
    /// Also counts as failures the `Ok` responses for which `predicate` returns
    /// `true`, such as an HTTP 5xx; they are still returned to the caller as they are.
    /// Each request gets its own clone of `predicate`.
    pub fn record_if_ok<Q>(self, predicate: Q) -> BreakerLayer<E, Q> {
        BreakerLayer {
            breaker: self.breaker,
            record_if_ok: predicate,
        }
    }

    /// The breaker calls go through.
    pub fn breaker(&self) -> &CircuitBreaker<E> {
        &self.breaker
    }
}

impl<S, E, P: Clone> Layer<S> for BreakerLayer<E, P> {
    type Service = BreakerService<S, E, P>;

    fn layer(&self, inner: S) -> Self::Service {
        BreakerService {
            inner,
            breaker: self.breaker.clone(),
            record_if_ok: self.record_if_ok.clone(),
            refused: None,
        }
    }
}

impl<S, E, P> BreakerService<S, E, P> {
    /// The breaker calls go through.
    pub fn breaker(&self) -> &CircuitBreaker<E> {
        &self.breaker
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

impl<S, Req, P> Service<Req> for BreakerService<S, S::Error, P>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    P: ValuePredicate<S::Response> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, S::Error, P>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Asked on every poll, so a breaker that opens while the inner service is not
        // ready yet fails the waiting caller fast too.
        self.refused = self.breaker.rejection();
        if self.refused.is_some() {
            return Poll::Ready(Ok(()));
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        if let Some(rejection) = self.refused.take() {
            return ResponseFuture::refused(self.breaker.refuse(rejection));
        }
        // Admitted only now, once the inner service is ready: a half-open probe takes
        // its slot only when it can run. If the breaker changed since `poll_ready`,
        // the inner service stays ready for the next call.
        let ticket = match CircuitBreaker::admit(self.breaker.clone()) {
            Ok(ticket) => ticket,
            Err(rejection) => return ResponseFuture::refused(self.breaker.refuse(rejection)),
        };
        // A panic in `call` counts as a failure, as a panic while polling does.
        let future = match catch_unwind(AssertUnwindSafe(|| self.inner.call(request))) {
            Ok(future) => future,
            Err(panic) => {
                ticket.finish(true);
                resume_unwind(panic)
            }
        };
        ResponseFuture::called(future, ticket, self.record_if_ok.clone())
    }
}

impl<E, P: Clone> Clone for BreakerLayer<E, P> {
    fn clone(&self) -> Self {
        BreakerLayer {
            breaker: self.breaker.clone(),
            record_if_ok: self.record_if_ok.clone(),
        }
    }
}

impl<S: Clone, E, P: Clone> Clone for BreakerService<S, E, P> {
    /// A clone shares the breaker; it asks it again in its own `poll_ready`.
    fn clone(&self) -> Self {
        BreakerService {
            inner: self.inner.clone(),
            breaker: self.breaker.clone(),
            record_if_ok: self.record_if_ok.clone(),
            refused: None,
        }
    }
}

impl<E, P> fmt::Debug for BreakerLayer<E, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerLayer")
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

impl<S: fmt::Debug, E, P> fmt::Debug for BreakerService<S, E, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerService")
            .field("inner", &self.inner)
            .field("breaker", &self.breaker)
            .field("refused", &self.refused)
            .finish_non_exhaustive()
    }
}
