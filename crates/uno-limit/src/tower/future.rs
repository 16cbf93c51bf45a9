//! The response futures of a [`LimitService`](super::LimitService): each holds the room
//! its request was given and gives it back as soon as the response is ready, or when
//! it is dropped (cancelled, or unwinding from a panic of the inner service).
//!
//! Fields drop in declaration order, so in every state the inner future is dropped
//! before the room it runs in: whatever it holds is released before the next request
//! is admitted.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use tower_service::Service;

use super::service::Acquire;
use super::{BoxError, Classify};
use crate::{AdaptivePermit, KeyedPermit, LimitError, Outcome, Permit};

pin_project! {
    /// The response of a [`LimitService`](super::LimitService) over a
    /// [`Limiter`](crate::Limiter) (`P` is a [`Permit`]) or a
    /// [`RateLimit`](super::RateLimit) (`P` is `()`): the inner service's response, or
    /// the limiter's refusal, boxed.
    ///
    /// It is `Send` whenever the inner future is.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the inner call, then gives its permit back.
    ///
    /// # Panics
    ///
    /// Panics if polled again after it completed.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct ResponseFuture<F, P = Permit> {
        #[pin]
        state: State<F, P>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, P> {
        Called {
            #[pin]
            future: F,
            // Taken (and released) as soon as the response is ready.
            permit: Option<P>,
        },
        Refused {
            error: Option<LimitError>,
        },
    }
}

pin_project! {
    /// The response of a [`LimitService`](super::LimitService) over an
    /// [`AdaptiveLimit`](super::AdaptiveLimit): as [`ResponseFuture`], and it reports
    /// the response's [`Outcome`] to the adaptive limiter as `C` classifies it.
    ///
    /// It is `Send` whenever the inner future and the classifier are.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the inner call and gives its permit back without reporting
    /// anything.
    ///
    /// # Panics
    ///
    /// Panics if polled again after it completed. A panic of the classifier or of the
    /// limit algorithm (see [`LimitAlgorithm::update`](crate::LimitAlgorithm::update))
    /// reaches the caller; the limiter stays consistent.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct AdaptiveResponseFuture<F, C> {
        #[pin]
        inner: ResponseFuture<F, AdaptivePermit>,
        classify: C,
    }
}

pin_project! {
    /// The response of a [`LimitService`](super::LimitService) over a
    /// [`KeyedLimit`](super::KeyedLimit): it waits for its key's permit if none was
    /// free in `call`, then calls the inner service and holds the permit until the
    /// response is ready.
    ///
    /// It is `Send` whenever the inner service, its future, the request and the key
    /// are.
    ///
    /// # Cancel safety
    ///
    /// Dropping it while it waits leaves its key's queue and drops the request
    /// without calling the inner service; dropping it later drops the inner call, then
    /// gives the permit back.
    ///
    /// # Panics
    ///
    /// Panics if polled again after it completed.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct KeyedResponseFuture<S, Req, K>
    where
        S: Service<Req>,
        K: Hash,
        K: Eq,
    {
        #[pin]
        state: KeyedState<S, Req, K>,
    }
}

pin_project! {
    #[project = KeyedStateProj]
    enum KeyedState<S, Req, K>
    where
        S: Service<Req>,
        K: Hash,
        K: Eq,
    {
        Waiting {
            acquire: Acquire<KeyedPermit<K>>,
            // The service `poll_ready` made ready, and the request it will take.
            call: Option<(S, Req)>,
        },
        Running {
            #[pin]
            response: ResponseFuture<S::Future, KeyedPermit<K>>,
        },
    }
}

impl<F, P> ResponseFuture<F, P> {
    pub(crate) fn called(future: F, permit: P) -> Self {
        ResponseFuture {
            state: State::Called {
                future,
                permit: Some(permit),
            },
        }
    }

    pub(crate) fn refused(error: LimitError) -> Self {
        ResponseFuture {
            state: State::Refused { error: Some(error) },
        }
    }

    /// Polls the inner call; on its answer, releases the permit after handing it and
    /// the answer to `finish`.
    fn poll_with<T, E>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        finish: impl FnOnce(P, &Result<T, E>),
    ) -> Poll<Result<T, BoxError>>
    where
        F: Future<Output = Result<T, E>>,
        E: Into<BoxError>,
    {
        match self.project().state.project() {
            StateProj::Called { future, permit } => {
                let result = ready!(future.poll(cx));
                let permit = permit
                    .take()
                    .expect("a limited response future polled after it completed");
                finish(permit, &result);
                Poll::Ready(result.map_err(Into::into))
            }
            StateProj::Refused { error } => {
                let error = error
                    .take()
                    .expect("a limited response future polled after it completed");
                Poll::Ready(Err(Box::new(error)))
            }
        }
    }
}

impl<F, P, T, E> Future for ResponseFuture<F, P>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_with(cx, |permit, _| drop(permit))
    }
}

impl<F, C> AdaptiveResponseFuture<F, C> {
    pub(crate) fn new(inner: ResponseFuture<F, AdaptivePermit>, classify: C) -> Self {
        AdaptiveResponseFuture { inner, classify }
    }
}

impl<F, C, T, E> Future for AdaptiveResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Classify<T, E>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let classify = this.classify;
        this.inner
            .poll_with(cx, |permit, result| match classify.classify(result) {
                Some(Outcome::Success) => permit.success(),
                Some(Outcome::Failure) => permit.failure(),
                Some(Outcome::Dropped) => permit.dropped(),
                None => permit.ignore(),
            })
    }
}

impl<S, Req, K> KeyedResponseFuture<S, Req, K>
where
    S: Service<Req>,
    K: Hash + Eq,
{
    pub(crate) fn called(future: S::Future, permit: KeyedPermit<K>) -> Self {
        KeyedResponseFuture {
            state: KeyedState::Running {
                response: ResponseFuture::called(future, permit),
            },
        }
    }

    pub(crate) fn refused(error: LimitError) -> Self {
        KeyedResponseFuture {
            state: KeyedState::Running {
                response: ResponseFuture::refused(error),
            },
        }
    }

    pub(crate) fn waiting(acquire: Acquire<KeyedPermit<K>>, service: S, request: Req) -> Self {
        KeyedResponseFuture {
            state: KeyedState::Waiting {
                acquire,
                call: Some((service, request)),
            },
        }
    }
}

impl<S, Req, K> Future for KeyedResponseFuture<S, Req, K>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    K: Hash + Eq,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let response = match state.as_mut().project() {
                KeyedStateProj::Running { response } => return response.poll(cx),
                KeyedStateProj::Waiting { acquire, call } => {
                    match ready!(acquire.as_mut().poll(cx)) {
                        Ok(permit) => {
                            let (mut service, request) = call
                                .take()
                                .expect("a keyed response future calls its service once");
                            ResponseFuture::called(service.call(request), permit)
                        }
                        Err(error) => ResponseFuture::refused(error),
                    }
                }
            };
            state.set(KeyedState::Running { response });
        }
    }
}

impl<F, P> fmt::Debug for ResponseFuture<F, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Called {
                permit: Some(_), ..
            } => "running",
            State::Called { permit: None, .. } | State::Refused { error: None } => "done",
            State::Refused { error: Some(_) } => "refused",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<F, C> fmt::Debug for AdaptiveResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveResponseFuture")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, Req, K> fmt::Debug for KeyedResponseFuture<S, Req, K>
where
    S: Service<Req>,
    K: Hash + Eq,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            KeyedState::Waiting { .. } => f
                .debug_struct("KeyedResponseFuture")
                .field("state", &"waiting")
                .finish_non_exhaustive(),
            KeyedState::Running { response } => f
                .debug_struct("KeyedResponseFuture")
                .field("response", response)
                .finish(),
        }
    }
}
