//! tower middleware: [`RetryLayer`] retries the requests of a [`tower_service::Service`]
//! as a [`RetryPolicy`] says.
//!
//! This module owns the layer, its service and the hooks that judge `Ok` responses;
//! the run itself (attempts, delays, `max_elapsed`, the caller's deadline, the
//! [`RetryBudget`](crate::RetryBudget)) is the same loop that [`RetryPolicy::run`]
//! drives, so a policy behaves the same in both places.
//!
//! ```
//! use std::time::Duration;
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//! use uno_retry::RetryPolicy;
//! use uno_retry::tower::RetryLayer;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let policy = RetryPolicy::exponential(Duration::from_millis(100)).max_attempts(3).build()?;
//! let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
//! let seen = calls.clone();
//! let mut service = ServiceBuilder::new()
//!     .layer(RetryLayer::new(policy))
//!     .service(service_fn(move |name: &'static str| {
//!         let call = seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!         async move {
//!             match call {
//!                 0 => Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
//!                 _ => Ok(format!("hello, {name}")),
//!             }
//!         }
//!     }));
//! let answer = service.ready().await?.call("uno").await?;
//! assert_eq!(answer, "hello, uno");
//! assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 2);
//! # Ok(())
//! # }
//! ```
//!
//! # Conventions
//!
//! - Requests must be `Clone`: every attempt gets a fresh clone, as with
//!   `tower::retry`. For `http::Request` that means a body that is `Clone`, such as
//!   `Bytes` or `()` (buffer a streaming body first).
//! - The first attempt uses the service made ready by `poll_ready`, so back-pressure
//!   from inside reaches the caller. Every later attempt clones the inner service and
//!   waits for that clone to be ready inside the response future, so a retry that
//!   waits for a limiter's permit is bounded by `attempt_timeout`, `max_elapsed` and
//!   the caller's deadline like any other wait.
//! - The layer adds no error of its own: the service's error is the inner one, and a
//!   run that gives up returns the last outcome, `Ok` or `Err`, as it is.
//! - Errors are judged by the policy ([`retry_if`], [`delay_hint`], [`notify`]), so a
//!   `RetryLayer` over a service that fails with `BoxError` takes a
//!   `RetryPolicy<BoxError>`. `Ok` responses are kept unless
//!   [`RetryLayer::retry_if_ok`] says to retry them (a 503), and
//!   [`RetryLayer::delay_hint_ok`] reads their `Retry-After` (see [`retry_after`]).
//!
//! [`retry_if`]: crate::RetryPolicyBuilder::retry_if
//! [`delay_hint`]: crate::RetryPolicyBuilder::delay_hint
//! [`notify`]: crate::RetryPolicyBuilder::notify

mod future;
mod http;

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tower_layer::Layer;
use tower_service::Service;

pub use self::future::ResponseFuture;
pub use self::http::retry_after;
use crate::future::{NoValuePredicate, ValuePredicate};
use crate::policy::RetryPolicy;

/// The error type tower's own middleware uses: any error, boxed (the same type as
/// `tower::BoxError`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Chooses the delay before retrying an `Ok` response, as a `Retry-After` header does;
/// see [`RetryLayer::delay_hint_ok`].
///
/// Implemented for every `FnMut(&T) -> Option<Duration>` and for [`NoValueDelayHint`].
pub trait ValueDelayHint<T> {
    /// The delay `value` asks for before the next attempt, or `None` for the policy's
    /// own.
    fn delay_hint(&mut self, value: &T) -> Option<Duration>;
}

/// The [`ValueDelayHint`] of a layer without one: retried `Ok` responses wait as the
/// policy's strategy says.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoValueDelayHint;

impl<T> ValueDelayHint<T> for NoValueDelayHint {
    fn delay_hint(&mut self, _value: &T) -> Option<Duration> {
        None
    }
}

impl<T, H> ValueDelayHint<T> for H
where
    H: FnMut(&T) -> Option<Duration>,
{
    fn delay_hint(&mut self, value: &T) -> Option<Duration> {
        self(value)
    }
}

/// Wraps a service so that each request is retried as a [`RetryPolicy`] says.
///
/// Built with [`RetryLayer::new`]; [`retry_if_ok`](Self::retry_if_ok) and
/// [`delay_hint_ok`](Self::delay_hint_ok) teach it which `Ok` responses are failures
/// (an HTTP 503) and how long they ask to wait. Cloning is cheap: the policy is shared,
/// and so is its [`RetryBudget`](crate::RetryBudget), if it has one.
///
/// Put it outside a `BreakerLayer` and a `LimitLayer` and inside a `DeadlineLayer`
/// (see the crate guide's "With tower"): then every attempt asks the breaker and takes
/// its own permit, and no retry sleeps past the request's deadline.
///
/// # Examples
///
/// Retry 503 responses, honouring their `Retry-After`:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Duration;
/// use http::{Request, Response, StatusCode};
/// use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
/// use uno_retry::RetryPolicy;
/// use uno_retry::tower::{RetryLayer, retry_after};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let policy = RetryPolicy::constant(Duration::from_millis(100)).max_attempts(4).build()?;
/// let layer = RetryLayer::new(policy)
///     .retry_if_ok(|response: &Response<&str>| response.status() == StatusCode::SERVICE_UNAVAILABLE)
///     .delay_hint_ok(retry_after);
///
/// // Busy once: the clones the layer makes for later attempts share this flag.
/// let busy = Arc::new(AtomicBool::new(true));
/// let mut service = ServiceBuilder::new().layer(layer).service(service_fn(move |_: Request<()>| {
///     let response = match busy.swap(false, Ordering::Relaxed) {
///         false => Response::new("done"),
///         true => Response::builder().status(503).header("retry-after", "2").body("busy").unwrap(),
///     };
///     async move { Ok::<_, std::convert::Infallible>(response) }
/// }));
///
/// let started = tokio::time::Instant::now();
/// let response = service.ready().await?.call(Request::new(())).await?;
/// assert_eq!(response.into_body(), "done");
/// assert_eq!(started.elapsed(), Duration::from_secs(2)); // as the server asked
/// # Ok(())
/// # }
/// ```
pub struct RetryLayer<E, V = NoValuePredicate, H = NoValueDelayHint> {
    policy: Arc<RetryPolicy<E>>,
    retry_if_ok: V,
    delay_hint_ok: H,
}

/// A [`Service`] whose requests are retried; made by [`RetryLayer`].
///
/// `E` is the inner service's error type, which the policy judges.
pub struct RetryService<S, E, V = NoValuePredicate, H = NoValueDelayHint> {
    inner: S,
    policy: Arc<RetryPolicy<E>>,
    retry_if_ok: V,
    delay_hint_ok: H,
}

impl<E> RetryLayer<E> {
    /// A layer that retries failed requests as `policy` says and keeps every `Ok`
    /// response.
    pub fn new(policy: RetryPolicy<E>) -> Self {
        RetryLayer {
            policy: Arc::new(policy),
            retry_if_ok: NoValuePredicate,
            delay_hint_ok: NoValueDelayHint,
        }
    }
}

impl<E, V, H> RetryLayer<E, V, H> {
    /// Also retries `Ok` responses for which `predicate` returns `true`, such as an
    /// HTTP 503, under the same limits as errors. When the run gives up, the last
    /// response is returned as `Ok`. The policy's `notify` hook is not called for
    /// these retries (it takes an error).
    ///
    /// Each request gets its own clone of `predicate`.
    pub fn retry_if_ok<P>(self, predicate: P) -> RetryLayer<E, P, H> {
        RetryLayer {
            policy: self.policy,
            retry_if_ok: predicate,
            delay_hint_ok: self.delay_hint_ok,
        }
    }

    /// Lets a retried `Ok` response choose the next delay, as the policy's
    /// [`delay_hint`](crate::RetryPolicyBuilder::delay_hint) does for errors: the
    /// hinted delay replaces the strategy's, still capped by `max_delay` and checked
    /// against `max_elapsed` and the caller's deadline. [`retry_after`] reads an HTTP
    /// response's `Retry-After`.
    ///
    /// Each request gets its own clone of `hint`.
    pub fn delay_hint_ok<D>(self, hint: D) -> RetryLayer<E, V, D> {
        RetryLayer {
            policy: self.policy,
            retry_if_ok: self.retry_if_ok,
            delay_hint_ok: hint,
        }
    }

    /// The policy every request is retried under.
    pub fn policy(&self) -> &RetryPolicy<E> {
        &self.policy
    }
}

impl<S, E, V: Clone, H: Clone> Layer<S> for RetryLayer<E, V, H> {
    type Service = RetryService<S, E, V, H>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService {
            inner,
            policy: Arc::clone(&self.policy),
            retry_if_ok: self.retry_if_ok.clone(),
            delay_hint_ok: self.delay_hint_ok.clone(),
        }
    }
}

impl<S, E, V, H> RetryService<S, E, V, H> {
    /// The policy every request is retried under.
    pub fn policy(&self) -> &RetryPolicy<E> {
        &self.policy
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

impl<S, Req, V, H> Service<Req> for RetryService<S, S::Error, V, H>
where
    S: Service<Req> + Clone,
    Req: Clone,
    V: ValuePredicate<S::Response> + Clone,
    H: ValueDelayHint<S::Response> + Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, Req, V, H>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        // Later attempts use a clone of the inner service, made ready in the response
        // future; the first uses the one `poll_ready` readied, as tower's retry does.
        let retries = self.inner.clone();
        let retry_request = request.clone();
        let first = self.inner.call(request);
        ResponseFuture::new(
            Arc::clone(&self.policy),
            retries,
            retry_request,
            first,
            self.retry_if_ok.clone(),
            self.delay_hint_ok.clone(),
        )
    }
}

impl<E, V: Clone, H: Clone> Clone for RetryLayer<E, V, H> {
    fn clone(&self) -> Self {
        RetryLayer {
            policy: Arc::clone(&self.policy),
            retry_if_ok: self.retry_if_ok.clone(),
            delay_hint_ok: self.delay_hint_ok.clone(),
        }
    }
}

impl<S: Clone, E, V: Clone, H: Clone> Clone for RetryService<S, E, V, H> {
    fn clone(&self) -> Self {
        RetryService {
            inner: self.inner.clone(),
            policy: Arc::clone(&self.policy),
            retry_if_ok: self.retry_if_ok.clone(),
            delay_hint_ok: self.delay_hint_ok.clone(),
        }
    }
}

impl<E, V, H> fmt::Debug for RetryLayer<E, V, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryLayer")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<S: fmt::Debug, E, V, H> fmt::Debug for RetryService<S, E, V, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryService")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}
