//! `LimitLayer` over a `KeyedLimiter` (the wait happens in the response future, keys do
//! not block each other) and an `AdaptiveLimiter` (responses teach the limit).
#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};
use uno_limit::tower::{BoxError, LimitLayer};
use uno_limit::{AdaptiveLimiter, Aimd, FullPolicy, KeyedLimiter, LimitError, Outcome};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A request for a tenant.
#[derive(Debug, Clone)]
struct Query {
    tenant: &'static str,
}

/// A backend that counts calls per tenant and answers when `release` lets it.
#[derive(Clone)]
struct Backend {
    calls: Arc<AtomicUsize>,
    release: Arc<Semaphore>,
}

impl Backend {
    fn gated() -> Self {
        Backend {
            calls: Arc::default(),
            release: Arc::new(Semaphore::new(0)),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Service<Query> for Backend {
    type Response = &'static str;
    type Error = Infallible;
    type Future = BoxFuture<Result<&'static str, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, query: Query) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let release = self.release.clone();
        Box::pin(async move {
            if let Ok(permit) = release.acquire().await {
                permit.forget();
            }
            Ok(query.tenant)
        })
    }
}

fn by_tenant(query: &Query) -> &'static str {
    query.tenant
}

fn limit_error(error: &BoxError) -> &LimitError {
    error
        .downcast_ref::<LimitError>()
        .unwrap_or_else(|| panic!("not a LimitError: {error}"))
}

#[tokio::test]
async fn a_full_key_waits_in_the_response_future_and_other_keys_pass() {
    let limiter = KeyedLimiter::new(1).unwrap();
    let backend = Backend::gated();
    let mut service = LimitLayer::keyed(limiter.clone(), by_tenant).layer(backend.clone());

    let first_a = service.ready().await.unwrap().call(Query { tenant: "a" });
    // `poll_ready` only asks the inner service: the key is not known yet.
    let mut second_a = service.ready().await.unwrap().call(Query { tenant: "a" });
    let only_b = service.ready().await.unwrap().call(Query { tenant: "b" });
    assert_eq!(
        backend.calls(),
        2,
        "the second request for `a` waits uncalled"
    );
    assert!((&mut second_a).now_or_never().is_none());
    assert_eq!(limiter.waiting(), 1);

    backend.release.add_permits(2);
    assert_eq!(only_b.await.unwrap(), "b");
    assert_eq!(first_a.await.unwrap(), "a");
    backend.release.add_permits(1);
    assert_eq!(second_a.await.unwrap(), "a");
    assert_eq!(backend.calls(), 3);
    assert_eq!(limiter.active_keys(), 0, "idle keys are forgotten");
}

#[tokio::test]
async fn a_waiting_request_dropped_is_never_sent_and_leaves_the_queue() {
    let limiter = KeyedLimiter::new(1).unwrap();
    let backend = Backend::gated();
    let mut service = LimitLayer::keyed(limiter.clone(), by_tenant).layer(backend.clone());
    let held = service.ready().await.unwrap().call(Query { tenant: "a" });
    let mut waiting = service.ready().await.unwrap().call(Query { tenant: "a" });
    assert!((&mut waiting).now_or_never().is_none());
    drop(waiting);
    assert_eq!(limiter.waiting(), 0);
    drop(held);
    assert_eq!(limiter.active_keys(), 0);
    assert_eq!(backend.calls(), 1);
}

#[tokio::test]
async fn a_rejecting_keyed_limit_refuses_a_full_key_at_once() {
    let limiter = KeyedLimiter::with_policy(1, FullPolicy::Reject).unwrap();
    let backend = Backend::gated();
    let mut service = LimitLayer::keyed(limiter, by_tenant).layer(backend.clone());
    let _held = service.ready().await.unwrap().call(Query { tenant: "a" });
    let error = service
        .ready()
        .await
        .unwrap()
        .call(Query { tenant: "a" })
        .await
        .unwrap_err();
    assert_eq!(limit_error(&error), &LimitError::Full { limit: 1 });
    assert_eq!(backend.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_keyed_timeout_refuses_after_waiting() {
    let timeout = Duration::from_millis(250);
    let limiter = KeyedLimiter::with_policy(1, FullPolicy::Timeout(timeout)).unwrap();
    let backend = Backend::gated();
    let mut service = LimitLayer::keyed(limiter, by_tenant).layer(backend.clone());
    let _held = service.ready().await.unwrap().call(Query { tenant: "a" });
    let started = Instant::now();
    let error = service.oneshot(Query { tenant: "a" }).await.unwrap_err();
    assert_eq!(limit_error(&error), &LimitError::Timeout { timeout });
    assert_eq!(started.elapsed(), timeout);
}

#[tokio::test]
async fn a_closed_keyed_limiter_refuses() {
    let limiter = KeyedLimiter::new(1).unwrap();
    limiter.close();
    let error = LimitLayer::keyed(limiter, by_tenant)
        .layer(Backend::gated())
        .oneshot(Query { tenant: "a" })
        .await
        .unwrap_err();
    assert_eq!(limit_error(&error), &LimitError::Closed);
}

#[tokio::test]
async fn keyed_poll_ready_is_the_inner_services() {
    #[derive(Clone)]
    struct NeverReady;
    impl Service<Query> for NeverReady {
        type Response = ();
        type Error = Infallible;
        type Future = std::future::Ready<Result<(), Infallible>>;
        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Pending
        }
        fn call(&mut self, _query: Query) -> Self::Future {
            unreachable!()
        }
    }
    let limiter = KeyedLimiter::new(1).unwrap();
    let mut service = LimitLayer::keyed(limiter, by_tenant).layer(NeverReady);
    assert!(service.ready().now_or_never().is_none());
}

fn aimd(initial: usize) -> AdaptiveLimiter {
    AdaptiveLimiter::new(
        Aimd::builder()
            .initial_limit(initial)
            .min_limit(1)
            .max_limit(100)
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn an_adaptive_limit_learns_from_each_response() {
    let limiter = aimd(10);
    let failing =
        tower::service_fn(|_: u32| async { Err::<u32, _>(std::io::Error::other("overloaded")) });
    let service = LimitLayer::adaptive(limiter.clone()).layer(failing);
    let error = service.clone().oneshot(1).await.unwrap_err();
    assert!(error.is::<std::io::Error>());
    assert_eq!(limiter.limit(), 9, "an error is a failure: AIMD backs off");
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test]
async fn a_classifier_decides_what_a_response_teaches() {
    let limiter = aimd(10);
    let answers = tower::service_fn(|status: u16| async move { Ok::<_, Infallible>(status) });
    let service = LimitLayer::adaptive(limiter.clone())
        .classify(|result: &Result<u16, Infallible>| match result {
            Ok(503) => Some(Outcome::Dropped),
            Ok(404) => None,
            _ => Some(Outcome::Success),
        })
        .layer(answers);
    service.clone().oneshot(404).await.unwrap();
    assert_eq!(limiter.limit(), 10, "a 404 teaches nothing");
    service.clone().oneshot(503).await.unwrap();
    assert_eq!(limiter.limit(), 9, "a 503 is a drop");
}

#[tokio::test]
async fn an_adaptive_limit_gives_back_pressure_and_a_cancelled_call_teaches_nothing() {
    let limiter = aimd(1);
    let backend = Backend::gated();
    let mut first = LimitLayer::adaptive(limiter.clone()).layer(backend.clone());
    let mut second = first.clone();
    let response = first.ready().await.unwrap().call(Query { tenant: "a" });
    assert!(second.ready().now_or_never().is_none());
    drop(response);
    assert_eq!(limiter.limit(), 1);
    assert!(second.ready().now_or_never().is_some());
}

#[tokio::test]
async fn a_rejecting_adaptive_limit_refuses_in_call() {
    let limiter = AdaptiveLimiter::with_policy(
        Aimd::builder().initial_limit(1).build().unwrap(),
        FullPolicy::Reject,
    )
    .unwrap();
    let _held = limiter.acquire().await.unwrap();
    let backend = Backend::gated();
    let error = LimitLayer::adaptive(limiter)
        .layer(backend.clone())
        .oneshot(Query { tenant: "a" })
        .await
        .unwrap_err();
    assert_eq!(limit_error(&error), &LimitError::Full { limit: 1 });
    assert_eq!(backend.calls(), 0);
}

#[test]
fn keyed_and_adaptive_services_and_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    fn is_send_and_sync<T: Send + Sync>(_: &T) {}
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut keyed =
            LimitLayer::keyed(KeyedLimiter::new(1).unwrap(), by_tenant).layer(Backend::gated());
        is_send(&keyed.ready().await.unwrap().call(Query { tenant: "a" }));
        let mut adaptive = LimitLayer::adaptive(aimd(2)).layer(Backend::gated());
        is_send(&adaptive.ready().await.unwrap().call(Query { tenant: "a" }));
        is_send_and_sync(&keyed);
        is_send_and_sync(&adaptive);
    });
}
