//! tower middleware: [`LimitLayer`] puts any of this crate's limiters in front of a
//! [`tower_service::Service`].
//!
//! This module owns the layer and the four kinds of limit it enforces ([`Limiter`],
//! [`RateLimit`], [`AdaptiveLimit`], [`KeyedLimit`]); `service.rs` owns how each one
//! admits a request, `future.rs` the response futures that hold the room a request
//! was given until it is answered.
//!
//! ```
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//! use uno_limit::Limiter;
//! use uno_limit::tower::LimitLayer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let limiter = Limiter::new(2)?;
//! let mut service = ServiceBuilder::new()
//!     .layer(LimitLayer::new(limiter.clone()))
//!     .service(service_fn(|n: u32| async move { Ok::<_, std::io::Error>(n * 2) }));
//!
//! // `ready` waits for a permit: back-pressure through `poll_ready`.
//! let ready = service.ready().await?;
//! assert_eq!(limiter.in_flight(), 1);
//! assert_eq!(ready.call(21).await?, 42);
//! assert_eq!(limiter.in_flight(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! # Conventions
//!
//! These follow tower's own `ConcurrencyLimit`, `RateLimit` and `LoadShed`:
//!
//! - **Back-pressure through `poll_ready`.** [`Limiter`], [`RateLimit`] and
//!   [`AdaptiveLimit`] take their room (a permit, a rate slot) in `poll_ready`, before
//!   they ask the inner service, and hand it to the response future, which holds it
//!   until the response is ready or the future is dropped. So `poll_ready` is pending
//!   while the limit is full, and a caller (tower's `Buffer`, `Balance`, or hyper)
//!   sees the back-pressure. A [`KeyedLimit`] cannot: the key is known only from the
//!   request, in `call`, so it waits in the response future (see [`KeyedLimit`]).
//! - **Refusals come from `call`, never from `poll_ready`.** When the limiter says no
//!   (its [`FullPolicy`] is `Reject` or `Timeout`, it is closed, or the caller's
//!   deadline passed while waiting), `poll_ready` is still `Ready(Ok(()))` and the
//!   next call fails at once with the [`LimitError`], without calling the inner
//!   service, as tower's `LoadShed` does. A `poll_ready` error always comes from the
//!   inner service.
//! - **Errors are boxed.** The service's error is [`BoxError`]: a refusal is the
//!   [`LimitError`] boxed, and the inner service's errors are boxed as they are, so
//!   `error.downcast_ref::<LimitError>()` tells them apart. Which HTTP status a
//!   refusal becomes is the server's choice (with axum, in a `HandleErrorLayer`): the
//!   usual answer is `503 Service Unavailable` for [`LimitError::Full`] and
//!   [`LimitError::Timeout`], and `429 Too Many Requests` with `Retry-After` for
//!   [`LimitError::Limited`].
//! - **Deadlines.** A wait for room stops at the caller's `uno_deadline` deadline with
//!   [`LimitError::DeadlinePassed`]. Under uno's `DeadlineLayer`, which waits for
//!   readiness inside the request's deadline, that covers the wait in `poll_ready`
//!   too.
//! - Services are `Clone`; a clone shares the limiter but not the room its original
//!   holds. Response futures are named types, `Send` whenever the inner future is.

mod future;
mod service;

use std::fmt;
use std::hash::Hash;

use tower_layer::Layer;

pub use self::future::{AdaptiveResponseFuture, KeyedResponseFuture, ResponseFuture};
pub use self::service::LimitService;
// Named in the docs' links only.
#[cfg(doc)]
use crate::LimitError;
use crate::{
    AdaptiveLimiter, AdaptivePermit, BuildError, FullPolicy, KeyedLimiter, Limiter, Outcome,
    Permit, RateLimiter,
};

/// The error type tower's own middleware uses: any error, boxed (the same type as
/// `tower::BoxError`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Limits the requests that reach a service, with any of this crate's limiters.
///
/// | constructor | limit | when full |
/// | --- | --- | --- |
/// | [`LimitLayer::new`] | a [`Limiter`]: at most `n` requests in flight | as its [`FullPolicy`] says: wait in `poll_ready`, wait up to a timeout, or refuse |
/// | [`LimitLayer::rate`], [`LimitLayer::rate_with_policy`] | a [`RateLimiter`]: at most `count` requests start per `period` | wait in `poll_ready` for the next slot, or as the given [`FullPolicy`] says |
/// | [`LimitLayer::adaptive`] | an [`AdaptiveLimiter`], taught by every response ([`LimitLayer::classify`]) | as its [`FullPolicy`] says |
/// | [`LimitLayer::keyed`] | a [`KeyedLimiter`], keyed by a function of the request | as its [`FullPolicy`] says, in the response future |
///
/// See the [module documentation](self) for how it follows tower's conventions.
///
/// # Examples
///
/// A bulkhead: refuse at once when 10 requests are in flight.
///
/// ```
/// use uno_limit::{FullPolicy, LimitError, Limiter};
/// use uno_limit::tower::LimitLayer;
///
/// let bulkhead = Limiter::builder().limit(10).on_full(FullPolicy::Reject).build()?;
/// let layer = LimitLayer::new(bulkhead);
/// # let _ = layer;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LimitLayer<L = Limiter> {
    limit: L,
}

/// A limit that a [`LimitLayer`] can enforce: [`Limiter`], [`RateLimit`],
/// [`AdaptiveLimit`] or [`KeyedLimit`].
///
/// It is sealed: the layer's constructors make the one you need.
pub trait Limit: Clone + sealed::Sealed {
    /// What a service holds between a `poll_ready` that got room and the call that
    /// uses it.
    #[doc(hidden)]
    type Permit: Send + 'static;
}

mod sealed {
    pub trait Sealed {}
}

/// A [`RateLimiter`] as a [`LimitLayer`] enforces it; made by [`LimitLayer::rate`] and
/// [`LimitLayer::rate_with_policy`].
///
/// Each request takes one slot in `poll_ready`. A slot taken by a `poll_ready` whose
/// service is then dropped without a call is spent all the same: the rate counts
/// requests that were allowed to start.
#[derive(Debug, Clone)]
pub struct RateLimit {
    rate: RateLimiter,
    on_full: FullPolicy,
}

/// An [`AdaptiveLimiter`] as a [`LimitLayer`] enforces it, with what teaches it: `C`
/// turns every response into an [`Outcome`]; made by [`LimitLayer::adaptive`].
///
/// By default ([`ResultOutcome`]) an `Ok` response is a success and an `Err` a
/// failure. For HTTP, where an overloaded backend still answers `Ok` (a 503), give
/// your own with [`LimitLayer::classify`]. A response future dropped before it was
/// answered (cancelled, or cut by a deadline) reports nothing.
#[derive(Clone)]
pub struct AdaptiveLimit<C = ResultOutcome> {
    limiter: AdaptiveLimiter,
    classify: C,
}

/// A [`KeyedLimiter`] as a [`LimitLayer`] enforces it, with the function `F` that
/// gives each request its key; made by [`LimitLayer::keyed`].
///
/// The key is known only in `call`, so `poll_ready` only asks the inner service.
/// In `call`, a request whose key has a free permit takes it and calls the inner
/// service at once. Otherwise, under [`FullPolicy::Wait`] or
/// [`FullPolicy::Timeout`], the response future waits for its key's permit and then
/// calls the inner service that `poll_ready` made ready (the service keeps a clone
/// for the next request, so the inner service must be `Clone`); under
/// [`FullPolicy::Reject`] it fails at once with [`LimitError::Full`]. While a request
/// waits, whatever the ready inner service reserved (such as a permit of a limit
/// further in) stays reserved for it.
pub struct KeyedLimit<K: Hash + Eq, F> {
    limiter: KeyedLimiter<K>,
    key: F,
}

/// Turns a response (or the inner service's error) into the [`Outcome`] an
/// [`AdaptiveLimiter`] learns from, or `None` to teach it nothing (a 404 says nothing
/// about load).
///
/// Implemented for every `FnMut(&Result<T, E>) -> Option<Outcome>` and for
/// [`ResultOutcome`].
pub trait Classify<T, E> {
    /// The outcome `result` reports.
    fn classify(&mut self, result: &Result<T, E>) -> Option<Outcome>;
}

/// The default [`Classify`]: `Ok` is a success, `Err` a failure, as
/// [`AdaptiveLimiter::run`] reports them.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResultOutcome;

impl<T, E> Classify<T, E> for ResultOutcome {
    fn classify(&mut self, result: &Result<T, E>) -> Option<Outcome> {
        match result {
            Ok(_) => Some(Outcome::Success),
            Err(_) => Some(Outcome::Failure),
        }
    }
}

impl<T, E, C> Classify<T, E> for C
where
    C: FnMut(&Result<T, E>) -> Option<Outcome>,
{
    fn classify(&mut self, result: &Result<T, E>) -> Option<Outcome> {
        self(result)
    }
}

impl LimitLayer<Limiter> {
    /// A layer that runs at most [`limit`](Limiter::limit) requests at once through
    /// `limiter` (shared with its other clones), acting on a full limiter as its
    /// [`FullPolicy`] says.
    pub fn new(limiter: Limiter) -> Self {
        LimitLayer { limit: limiter }
    }
}

impl LimitLayer<RateLimit> {
    /// A layer that lets requests start only as fast as `rate` allows; `poll_ready`
    /// waits for the next slot (as tower's `RateLimit` does), in FIFO order among
    /// waiters.
    pub fn rate(rate: RateLimiter) -> Self {
        LimitLayer {
            limit: RateLimit {
                rate,
                on_full: FullPolicy::Wait,
            },
        }
    }

    /// A layer that lets requests start only as fast as `rate` allows and acts on a
    /// request that comes too soon as `on_full` says: wait for a slot, wait at most a
    /// timeout ([`LimitError::Timeout`] after it), or refuse at once with
    /// [`LimitError::Limited`], which says when a slot comes (the `Retry-After` of a
    /// `429`).
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidConfig`] for a zero [`FullPolicy::Timeout`] (use
    /// [`FullPolicy::Reject`] to refuse at once).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_limit::{FullPolicy, LimitError, RateLimiter};
    /// use uno_limit::tower::LimitLayer;
    ///
    /// let quota = RateLimiter::new(100, Duration::from_secs(60))?;
    /// let layer = LimitLayer::rate_with_policy(quota, FullPolicy::Reject)?;
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rate_with_policy(rate: RateLimiter, on_full: FullPolicy) -> Result<Self, BuildError> {
        Ok(LimitLayer {
            limit: RateLimit {
                rate,
                on_full: on_full.validate()?,
            },
        })
    }
}

impl LimitLayer<AdaptiveLimit> {
    /// A layer that runs requests under `limiter`'s current limit and reports how each
    /// one went: by default `Ok` as a success and `Err` as a failure; see
    /// [`classify`](LimitLayer::classify).
    pub fn adaptive(limiter: AdaptiveLimiter) -> Self {
        LimitLayer {
            limit: AdaptiveLimit {
                limiter,
                classify: ResultOutcome,
            },
        }
    }
}

impl<C> LimitLayer<AdaptiveLimit<C>> {
    /// Reports each response to the adaptive limiter as `classify` says, instead of
    /// [`ResultOutcome`]. Each request gets its own clone of `classify`.
    ///
    /// # Examples
    ///
    /// An HTTP backend that sheds load with 503 (or 429) is overloaded; other
    /// answers, 404 included, say it is coping.
    ///
    /// ```
    /// use uno_limit::{AdaptiveLimiter, Gradient2, Outcome};
    /// use uno_limit::tower::LimitLayer;
    ///
    /// /// What the backend answers (an `http::Response` in an HTTP client).
    /// struct Reply {
    ///     status: u16,
    /// }
    ///
    /// let layer = LimitLayer::adaptive(AdaptiveLimiter::new(Gradient2::default())).classify(
    ///     |result: &Result<Reply, std::io::Error>| match result {
    ///         Ok(reply) if matches!(reply.status, 429 | 503) => Some(Outcome::Dropped),
    ///         Ok(_) => Some(Outcome::Success),
    ///         Err(_) => Some(Outcome::Failure),
    ///     },
    /// );
    /// # let _ = layer;
    /// ```
    pub fn classify<D>(self, classify: D) -> LimitLayer<AdaptiveLimit<D>> {
        LimitLayer {
            limit: AdaptiveLimit {
                limiter: self.limit.limiter,
                classify,
            },
        }
    }
}

impl<K: Hash + Eq, F> LimitLayer<KeyedLimit<K, F>> {
    /// A layer that limits requests per key: `key(&request)` picks the key (a tenant
    /// from a header, a host), and `limiter` allows each key its own limit. See
    /// [`KeyedLimit`] for where the wait happens.
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_limit::{KeyedLimiter, LimitError};
    /// use uno_limit::tower::LimitLayer;
    ///
    /// /// A request to the service (an `http::Request` in a server: read a header).
    /// #[derive(Clone)]
    /// struct Query {
    ///     tenant: String,
    ///     text: String,
    /// }
    ///
    /// let per_tenant: KeyedLimiter<String> = KeyedLimiter::new(4)?;
    /// let layer = LimitLayer::keyed(per_tenant, |query: &Query| query.tenant.clone());
    /// # let _ = layer;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keyed(limiter: KeyedLimiter<K>, key: F) -> Self {
        LimitLayer {
            limit: KeyedLimit { limiter, key },
        }
    }
}

impl<L> LimitLayer<L> {
    /// The limit this layer enforces.
    pub fn limit(&self) -> &L {
        &self.limit
    }
}

impl<S, L: Limit> Layer<S> for LimitLayer<L> {
    type Service = LimitService<S, L>;

    fn layer(&self, inner: S) -> Self::Service {
        LimitService::new(inner, self.limit.clone())
    }
}

impl RateLimit {
    /// The rate requests keep to.
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.rate
    }

    /// What a request that comes too soon does.
    pub fn on_full(&self) -> FullPolicy {
        self.on_full
    }
}

impl<C> AdaptiveLimit<C> {
    /// The adaptive limiter requests run under.
    pub fn limiter(&self) -> &AdaptiveLimiter {
        &self.limiter
    }
}

impl<K: Hash + Eq, F> KeyedLimit<K, F> {
    /// The keyed limiter requests run under.
    pub fn limiter(&self) -> &KeyedLimiter<K> {
        &self.limiter
    }
}

impl sealed::Sealed for Limiter {}
impl Limit for Limiter {
    type Permit = Permit;
}

impl sealed::Sealed for RateLimit {}
impl Limit for RateLimit {
    type Permit = ();
}

impl<C: Clone> sealed::Sealed for AdaptiveLimit<C> {}
impl<C: Clone> Limit for AdaptiveLimit<C> {
    type Permit = AdaptivePermit;
}

impl<K: Hash + Eq, F: Clone> sealed::Sealed for KeyedLimit<K, F> {}
impl<K: Hash + Eq, F: Clone> Limit for KeyedLimit<K, F> {
    // A keyed limit takes its permit in `call`; `poll_ready` holds nothing.
    type Permit = ();
}

impl<K: Hash + Eq, F: Clone> Clone for KeyedLimit<K, F> {
    fn clone(&self) -> Self {
        KeyedLimit {
            limiter: self.limiter.clone(),
            key: self.key.clone(),
        }
    }
}

impl<C> fmt::Debug for AdaptiveLimit<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveLimit")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq, F> fmt::Debug for KeyedLimit<K, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLimit")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}
