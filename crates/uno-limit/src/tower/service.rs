//! [`LimitService`] and how each kind of limit admits a request.
//!
//! `Gate` is the state every kind but the keyed one keeps between `poll_ready` and
//! `call`: nothing yet, a wait for room, the room itself, or a refusal. Invariants:
//! the inner service is polled only while the gate holds room, so a refused request
//! never reserves anything inside; `call` takes what the gate holds and leaves it
//! empty, so the next request asks the limiter again; and room lives in exactly one
//! place (the gate, then the response future), so dropping either gives it back.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::mem;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use tower_service::Service;

use super::future::{AdaptiveResponseFuture, KeyedResponseFuture, ResponseFuture};
use super::{AdaptiveLimit, BoxError, Classify, KeyedLimit, Limit, RateLimit};
use crate::metrics::Meter;
use crate::{FullPolicy, LimitError, Limiter};

/// A wait for room, boxed: only a caller that finds the limit full allocates it.
pub(crate) type Acquire<P> = Pin<Box<dyn Future<Output = Result<P, LimitError>> + Send>>;

/// A [`Service`] whose requests pass a limit first; made by
/// [`LimitLayer`](super::LimitLayer).
///
/// See the [module documentation](super) for the conventions it follows, and
/// [`KeyedLimit`] for where a keyed limit waits.
///
/// # Panics
///
/// `call` panics if `poll_ready` did not return `Ready(Ok(()))` since the last call
/// (tower's contract, which tower's `ConcurrencyLimit` enforces the same way); a keyed
/// limit leaves that check to the inner service.
pub struct LimitService<S, L: Limit = Limiter> {
    inner: S,
    limit: L,
    gate: Gate<L::Permit>,
}

/// What a service holds for its next call.
pub(crate) enum Gate<P> {
    /// Nothing: `poll_ready` has not asked the limiter since the last call.
    Empty,
    /// Waiting for room.
    Acquiring(Exclusive<Acquire<P>>),
    /// Room for the next call.
    Ready(P),
    /// The limiter refused; the next call fails with this error.
    Refused(LimitError),
}

impl<S, L: Limit> LimitService<S, L> {
    pub(crate) fn new(inner: S, limit: L) -> Self {
        LimitService {
            inner,
            limit,
            gate: Gate::Empty,
        }
    }

    /// The limit this service enforces.
    pub fn limit(&self) -> &L {
        &self.limit
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service, giving back any room this service holds.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Once the gate holds room, asks the inner service; once it holds a refusal, is
    /// ready at once (the call will fail without reaching the inner service).
    fn poll_inner<Req>(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>>
    where
        S: Service<Req>,
        S::Error: Into<BoxError>,
    {
        match self.gate {
            Gate::Refused(_) => Poll::Ready(Ok(())),
            _ => self.inner.poll_ready(cx).map_err(Into::into),
        }
    }

    /// Calls the inner service with the room the gate holds, or fails with its refusal.
    fn call_gated<Req>(&mut self, request: Req) -> ResponseFuture<S::Future, L::Permit>
    where
        S: Service<Req>,
    {
        match self.gate.take() {
            Ok(permit) => ResponseFuture::called(self.inner.call(request), permit),
            Err(error) => ResponseFuture::refused(error),
        }
    }
}

impl<S, Req> Service<Req> for LimitService<S, Limiter>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let limiter = &self.limit;
        ready!(self.gate.poll_admit(
            cx,
            Some(limiter.meter()),
            || limiter.try_permit(),
            || match limiter.on_full() {
                FullPolicy::Reject => None,
                policy => {
                    let limiter = limiter.clone();
                    Some(Box::pin(async move { limiter.acquire_with(policy).await }))
                }
            },
        ));
        self.poll_inner(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        self.call_gated(request)
    }
}

impl<S, Req> Service<Req> for LimitService<S, RateLimit>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, ()>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let RateLimit { rate, on_full } = &self.limit;
        ready!(self.gate.poll_admit(
            cx,
            None,
            || rate.try_acquire(),
            || {
                let rate = rate.clone();
                match *on_full {
                    FullPolicy::Reject => None,
                    FullPolicy::Wait => Some(Box::pin(async move { rate.acquire().await })),
                    FullPolicy::Timeout(timeout) => Some(Box::pin(async move {
                        tokio::time::timeout(timeout, rate.acquire())
                            .await
                            .unwrap_or(Err(LimitError::Timeout { timeout }))
                    })),
                }
            },
        ));
        self.poll_inner(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        self.call_gated(request)
    }
}

impl<S, Req, C> Service<Req> for LimitService<S, AdaptiveLimit<C>>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = AdaptiveResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let limiter = &self.limit.limiter;
        ready!(self.gate.poll_admit(
            cx,
            Some(limiter.meter()),
            || limiter.try_permit(),
            || match limiter.on_full() {
                FullPolicy::Reject => None,
                _ => {
                    let limiter = limiter.clone();
                    Some(Box::pin(async move { limiter.acquire().await }))
                }
            },
        ));
        self.poll_inner(cx)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let classify = self.limit.classify.clone();
        AdaptiveResponseFuture::new(self.call_gated(request), classify)
    }
}

impl<S, Req, K, F> Service<Req> for LimitService<S, KeyedLimit<K, F>>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    K: Hash + Eq + Clone + Send + 'static,
    F: Fn(&Req) -> K + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = KeyedResponseFuture<S, Req, K>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let limiter = &self.limit.limiter;
        let key = (self.limit.key)(&request);
        let policy = limiter.on_full();
        // The key is cloned only when a wait may follow a full key.
        let attempt = match policy {
            FullPolicy::Reject => limiter.try_acquire(key).map_err(|error| (error, None)),
            _ => limiter
                .try_acquire(key.clone())
                .map_err(|error| (error, Some(key))),
        };
        match attempt {
            Ok(permit) => KeyedResponseFuture::called(self.inner.call(request), permit),
            Err((LimitError::Full { .. }, Some(key))) => {
                // Wait for the key's permit in the response future, then call the
                // service `poll_ready` made ready; keep a fresh clone for the next call.
                let clone = self.inner.clone();
                let ready = mem::replace(&mut self.inner, clone);
                let limiter = limiter.clone();
                let acquire: Acquire<_> = Box::pin(async move { limiter.acquire(key).await });
                KeyedResponseFuture::waiting(acquire, ready, request)
            }
            Err((error, _)) => KeyedResponseFuture::refused(error),
        }
    }
}

impl<P> Gate<P> {
    /// Gets room for the next call, or a refusal: first without waiting
    /// (`try_now`, which counts nothing), then, when the limit is full and `wait`
    /// gives a wait (the policy is not `Reject`), by waiting. `meter` counts an
    /// outcome reached without waiting; a wait counts its own, so a request that
    /// waits is one admission, never a refusal first.
    fn poll_admit(
        &mut self,
        cx: &mut Context<'_>,
        meter: Option<&Meter>,
        try_now: impl FnOnce() -> Result<P, LimitError>,
        wait: impl FnOnce() -> Option<Acquire<P>>,
    ) -> Poll<()> {
        if let Gate::Empty = self {
            // `None` once a wait has started: it counts its own outcome.
            let now = match try_now() {
                Err(error @ (LimitError::Full { .. } | LimitError::Limited { .. })) => {
                    match wait() {
                        Some(acquire) => {
                            *self = Gate::Acquiring(Exclusive::new(acquire));
                            None
                        }
                        None => Some(Err(error)),
                    }
                }
                outcome => Some(outcome),
            };
            if let Some(outcome) = now {
                let outcome = match meter {
                    Some(meter) => meter.admitted(outcome),
                    None => outcome,
                };
                *self = match outcome {
                    Ok(permit) => Gate::Ready(permit),
                    Err(error) => Gate::Refused(error),
                };
            }
        }
        if let Gate::Acquiring(acquire) = self {
            *self = match ready!(acquire.get_mut().as_mut().poll(cx)) {
                Ok(permit) => Gate::Ready(permit),
                Err(error) => Gate::Refused(error),
            };
        }
        Poll::Ready(())
    }

    /// Takes the room (or refusal) for a call, leaving the gate empty.
    fn take(&mut self) -> Result<P, LimitError> {
        match mem::replace(self, Gate::Empty) {
            Gate::Ready(permit) => Ok(permit),
            Gate::Refused(error) => Err(error),
            Gate::Empty | Gate::Acquiring(_) => panic!(
                "LimitService called before poll_ready returned Ready; \
                 call poll_ready (or ServiceExt::ready) before every call"
            ),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Gate::Empty => "empty",
            Gate::Acquiring(_) => "acquiring",
            Gate::Ready(_) => "ready",
            Gate::Refused(_) => "refused",
        }
    }
}

impl<S: Clone, L: Limit> Clone for LimitService<S, L> {
    /// A clone shares the limit, but not the room this service holds: it asks for its
    /// own in its `poll_ready`.
    fn clone(&self) -> Self {
        LimitService::new(self.inner.clone(), self.limit.clone())
    }
}

impl<S: fmt::Debug, L: Limit + fmt::Debug> fmt::Debug for LimitService<S, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitService")
            .field("inner", &self.inner)
            .field("limit", &self.limit)
            .field("gate", &self.gate.name())
            .finish()
    }
}

/// A value reached only through `&mut`, so it is `Sync` whenever it is `Send`: a
/// service keeps its boxed wait in one and stays `Sync`, as axum's router requires,
/// without unsafe code. The mutex is never locked (`get_mut` needs no lock).
pub(crate) struct Exclusive<T>(Mutex<T>);

impl<T> Exclusive<T> {
    fn new(value: T) -> Self {
        Exclusive(Mutex::new(value))
    }

    fn get_mut(&mut self) -> &mut T {
        // Never locked, so never poisoned; a poisoned value would still be whole.
        self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}
