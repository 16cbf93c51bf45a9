//! `LimitLayer` over a `Limiter` and a `RateLimiter`: back-pressure through
//! `poll_ready`, refusals from `call`, permits given back on every path (response,
//! cancellation, a dropped service, panics), deadlines, and bad configuration.
#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};
use uno_limit::tower::{BoxError, LimitLayer, LimitService};
use uno_limit::{BuildError, FullPolicy, LimitError, Limiter, RateLimiter};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A backend that counts its calls and the most it ever ran at once, and answers a
/// call only when `release` hands it a permit (or at once, when built `open`).
#[derive(Clone)]
struct Backend {
    calls: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    release: Arc<Semaphore>,
}

impl Backend {
    fn gated() -> Self {
        Backend {
            calls: Arc::default(),
            running: Arc::default(),
            most: Arc::default(),
            release: Arc::new(Semaphore::new(0)),
        }
    }

    fn open() -> Self {
        let backend = Self::gated();
        backend.release.close();
        backend
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Service<u32> for Backend {
    type Response = u32;
    type Error = Infallible;
    type Future = BoxFuture<Result<u32, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: u32) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let (running, most, release) = (
            self.running.clone(),
            self.most.clone(),
            self.release.clone(),
        );
        Box::pin(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            // Counted out when the call ends or is dropped.
            let _running = CountedIn(running);
            // A closed semaphore is an open gate.
            if let Ok(permit) = release.acquire().await {
                permit.forget();
            }
            Ok(request * 2)
        })
    }
}

/// Counts one call out of `running` when dropped.
struct CountedIn(Arc<AtomicUsize>);

impl Drop for CountedIn {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn limited(limiter: &Limiter, backend: &Backend) -> LimitService<Backend> {
    LimitLayer::new(limiter.clone()).layer(backend.clone())
}

fn limit_error(error: &BoxError) -> &LimitError {
    error
        .downcast_ref::<LimitError>()
        .unwrap_or_else(|| panic!("not a LimitError: {error}"))
}

#[tokio::test]
async fn poll_ready_takes_a_permit_and_the_response_gives_it_back() {
    let limiter = Limiter::new(1).unwrap();
    let backend = Backend::open();
    let mut service = limited(&limiter, &backend);
    let ready = service.ready().await.unwrap();
    assert_eq!(limiter.in_flight(), 1, "poll_ready holds the permit");
    assert_eq!(ready.call(21).await.unwrap(), 42);
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test]
async fn poll_ready_is_pending_while_the_limit_is_full() {
    let limiter = Limiter::new(1).unwrap();
    let backend = Backend::gated();
    let mut first = limited(&limiter, &backend);
    let mut second = first.clone();

    let response = first.ready().await.unwrap().call(1);
    assert!(second.ready().now_or_never().is_none(), "back-pressure");
    assert_eq!(limiter.waiting(), 1);

    backend.release.add_permits(1);
    assert_eq!(response.await.unwrap(), 2);
    // The waiting service got the permit back, in `poll_ready`.
    let ready = second.ready().await.unwrap();
    assert_eq!(limiter.in_flight(), 1);
    backend.release.add_permits(1);
    assert_eq!(ready.call(2).await.unwrap(), 4);
    assert_eq!(backend.calls(), 2);
}

#[tokio::test]
async fn a_clone_does_not_share_the_permit_its_original_holds() {
    let limiter = Limiter::new(1).unwrap();
    let mut service = limited(&limiter, &Backend::open());
    service.ready().await.unwrap();
    let mut clone = service.clone();
    assert!(clone.ready().now_or_never().is_none());
    drop(service);
    assert!(clone.ready().now_or_never().is_some());
}

#[tokio::test]
async fn dropping_the_response_future_gives_the_permit_back() {
    let limiter = Limiter::new(1).unwrap();
    let backend = Backend::gated();
    let mut service = limited(&limiter, &backend);
    let mut response = service.ready().await.unwrap().call(1);
    assert!((&mut response).now_or_never().is_none());
    assert_eq!(
        (limiter.in_flight(), backend.running.load(Ordering::SeqCst)),
        (1, 1)
    );
    drop(response);
    assert_eq!(
        (limiter.in_flight(), backend.running.load(Ordering::SeqCst)),
        (0, 0)
    );
}

#[tokio::test]
async fn dropping_a_ready_service_gives_its_permit_back() {
    let limiter = Limiter::new(1).unwrap();
    let mut service = limited(&limiter, &Backend::open());
    service.ready().await.unwrap();
    assert_eq!(limiter.in_flight(), 1);
    drop(service);
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test]
async fn a_waiting_service_dropped_leaves_the_queue() {
    let limiter = Limiter::new(1).unwrap();
    let held = limiter.acquire().await.unwrap();
    let mut service = limited(&limiter, &Backend::open());
    assert!(service.ready().now_or_never().is_none());
    assert_eq!(limiter.waiting(), 1);
    drop(service);
    assert_eq!(limiter.waiting(), 0);
    drop(held);
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test]
async fn a_panic_in_the_inner_future_gives_the_permit_back() {
    let limiter = Limiter::new(1).unwrap();
    let panicking = tower::service_fn(|_: u32| async {
        if true {
            panic!("the handler panicked");
        }
        Ok::<u32, Infallible>(0)
    });
    let mut service = LimitLayer::new(limiter.clone()).layer(panicking);
    let response = service.ready().await.unwrap().call(1);
    let mut tasks = JoinSet::new();
    tasks.spawn(response);
    let joined = tasks.join_next().await.unwrap();
    assert!(joined.unwrap_err().is_panic());
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test]
async fn a_panic_in_the_inner_call_gives_the_permit_back() {
    #[derive(Clone)]
    struct PanicsInCall;
    impl Service<u32> for PanicsInCall {
        type Response = u32;
        type Error = Infallible;
        type Future = std::future::Ready<Result<u32, Infallible>>;
        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _request: u32) -> Self::Future {
            panic!("call panicked")
        }
    }
    let limiter = Limiter::new(1).unwrap();
    let mut service = LimitLayer::new(limiter.clone()).layer(PanicsInCall);
    service.ready().await.unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| service.call(1))).is_err());
    assert_eq!(limiter.in_flight(), 0);
    // The service is still usable.
    assert!(service.ready().now_or_never().is_some());
}

#[tokio::test]
async fn a_bulkhead_refuses_in_call_without_reaching_the_service() {
    let limiter = Limiter::builder()
        .limit(1)
        .on_full(FullPolicy::Reject)
        .build()
        .unwrap();
    let backend = Backend::open();
    let _held = limiter.acquire().await.unwrap();
    let mut service = limited(&limiter, &backend);
    // Ready at once: the refusal is the call's answer, not `poll_ready`'s.
    let ready = service.ready().now_or_never().expect("ready").unwrap();
    let error = ready.call(1).await.unwrap_err();
    assert_eq!(limit_error(&error), &LimitError::Full { limit: 1 });
    assert_eq!(backend.calls(), 0);
    // The refusal was used up: the next request asks the limiter again.
    drop(_held);
    assert_eq!(service.ready().await.unwrap().call(1).await.unwrap(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_policy_waits_then_refuses() {
    let timeout = Duration::from_secs(2);
    let limiter = Limiter::builder()
        .limit(1)
        .on_full(FullPolicy::Timeout(timeout))
        .build()
        .unwrap();
    let backend = Backend::open();
    let _held = limiter.acquire().await.unwrap();
    let started = Instant::now();
    let error = limited(&limiter, &backend).oneshot(1).await.unwrap_err();
    assert_eq!(limit_error(&error), &LimitError::Timeout { timeout });
    assert_eq!(started.elapsed(), timeout);
    assert_eq!(backend.calls(), 0);
}

#[tokio::test]
async fn a_closed_limiter_refuses_every_request() {
    let limiter = Limiter::new(4).unwrap();
    let backend = Backend::open();
    limiter.close();
    let error = limited(&limiter, &backend).oneshot(1).await.unwrap_err();
    assert_eq!(limit_error(&error), &LimitError::Closed);
    assert_eq!(backend.calls(), 0);
}

#[tokio::test]
async fn closing_the_limiter_refuses_a_waiting_request() {
    let limiter = Limiter::new(1).unwrap();
    let _held = limiter.acquire().await.unwrap();
    let mut service = limited(&limiter, &Backend::open());
    assert!(service.ready().now_or_never().is_none());
    limiter.close();
    let error = service.ready().await.unwrap().call(1).await.unwrap_err();
    assert_eq!(limit_error(&error), &LimitError::Closed);
}

#[tokio::test(start_paused = true)]
async fn the_callers_deadline_bounds_the_wait_in_poll_ready() {
    let limiter = Limiter::new(1).unwrap();
    let _held = limiter.acquire().await.unwrap();
    let service = limited(&limiter, &Backend::open());
    let started = Instant::now();
    let outcome = uno_deadline::within(Duration::from_secs(1), service.oneshot(1)).await;
    // The limiter answers first, with its own error.
    let error = outcome
        .expect("the limiter answers at the deadline")
        .unwrap_err();
    assert_eq!(limit_error(&error), &LimitError::DeadlinePassed);
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[tokio::test]
async fn the_inner_error_is_boxed_as_it_is() {
    let failing = tower::service_fn(|_: u32| async {
        Err::<u32, _>(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    });
    let service = LimitLayer::new(Limiter::new(1).unwrap()).layer(failing);
    let error = service.oneshot(1).await.unwrap_err();
    let io = error
        .downcast_ref::<std::io::Error>()
        .expect("the io error");
    assert_eq!(io.kind(), std::io::ErrorKind::BrokenPipe);
}

#[tokio::test]
async fn an_inner_poll_ready_error_comes_through_and_keeps_the_permit_until_dropped() {
    #[derive(Debug, Clone)]
    struct Broken;
    impl Service<u32> for Broken {
        type Response = u32;
        type Error = std::io::Error;
        type Future = std::future::Ready<Result<u32, std::io::Error>>;
        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
            Poll::Ready(Err(std::io::Error::other("broken")))
        }
        fn call(&mut self, _request: u32) -> Self::Future {
            unreachable!()
        }
    }
    let limiter = Limiter::new(1).unwrap();
    let mut service = LimitLayer::new(limiter.clone()).layer(Broken);
    let error = service.ready().await.unwrap_err();
    assert_eq!(error.to_string(), "broken");
    drop(service);
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test]
#[should_panic(expected = "poll_ready")]
async fn calling_before_poll_ready_panics() {
    let mut service = limited(&Limiter::new(1).unwrap(), &Backend::open());
    let _response = service.call(1);
}

async fn never_more_than_the_limit_under_concurrent_requests() {
    const LIMIT: usize = 3;
    let limiter = Limiter::new(LIMIT).unwrap();
    let backend = Backend::gated();
    let service = limited(&limiter, &backend);
    let mut requests = JoinSet::new();
    for request in 0..64 {
        requests.spawn(service.clone().oneshot(request));
    }
    // Let the backend answer one call at a time, whoever holds a permit.
    backend.release.add_permits(64);
    let mut answered = 0;
    while let Some(joined) = requests.join_next().await {
        joined.unwrap().unwrap();
        answered += 1;
    }
    assert_eq!(answered, 64);
    assert!(backend.most.load(Ordering::SeqCst) <= LIMIT);
    assert_eq!(limiter.in_flight(), 0);
}

#[tokio::test]
async fn never_more_than_the_limit_on_one_thread() {
    never_more_than_the_limit_under_concurrent_requests().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_more_than_the_limit_on_many_threads() {
    never_more_than_the_limit_under_concurrent_requests().await;
}

#[tokio::test(start_paused = true)]
async fn a_rate_makes_poll_ready_wait_for_the_next_slot() {
    let rate = RateLimiter::builder()
        .rate(1, Duration::from_secs(1))
        .burst(1)
        .build()
        .unwrap();
    let backend = Backend::open();
    let mut service = LimitLayer::rate(rate).layer(backend.clone());
    let started = Instant::now();
    service.ready().await.unwrap().call(1).await.unwrap();
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert!(service.ready().now_or_never().is_none(), "back-pressure");
    service.ready().await.unwrap().call(2).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(backend.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_rejecting_rate_says_when_to_come_back() {
    let rate = RateLimiter::new(1, Duration::from_secs(60)).unwrap();
    let backend = Backend::open();
    let layer = LimitLayer::rate_with_policy(rate, FullPolicy::Reject).unwrap();
    let service = layer.layer(backend.clone());
    service.clone().oneshot(1).await.unwrap();
    let error = service.oneshot(2).await.unwrap_err();
    assert_eq!(
        limit_error(&error),
        &LimitError::Limited {
            retry_after: Duration::from_secs(60)
        }
    );
    assert_eq!(backend.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_rate_with_a_timeout_waits_at_most_that_long() {
    let rate = RateLimiter::new(1, Duration::from_secs(60)).unwrap();
    let timeout = Duration::from_secs(5);
    let layer = LimitLayer::rate_with_policy(rate, FullPolicy::Timeout(timeout)).unwrap();
    let service = layer.layer(Backend::open());
    service.clone().oneshot(1).await.unwrap();
    let started = Instant::now();
    let error = service.oneshot(2).await.unwrap_err();
    assert_eq!(limit_error(&error), &LimitError::Timeout { timeout });
    assert_eq!(started.elapsed(), timeout);
}

#[tokio::test(start_paused = true)]
async fn a_closed_rate_refuses() {
    let rate = RateLimiter::new(1, Duration::from_secs(1)).unwrap();
    rate.close();
    let error = LimitLayer::rate(rate)
        .layer(Backend::open())
        .oneshot(1)
        .await
        .unwrap_err();
    assert_eq!(limit_error(&error), &LimitError::Closed);
}

#[test]
fn a_zero_rate_timeout_is_refused() {
    let rate = RateLimiter::new(1, Duration::from_secs(1)).unwrap();
    let refused = LimitLayer::rate_with_policy(rate, FullPolicy::Timeout(Duration::ZERO));
    assert!(matches!(
        refused.unwrap_err(),
        BuildError::InvalidConfig { .. }
    ));
}

#[test]
fn services_and_response_futures_are_send() {
    fn is_send<T: Send>(_: &T) {}
    fn is_send_and_sync<T: Send + Sync>(_: &T) {}
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut fixed = limited(&Limiter::new(1).unwrap(), &Backend::open());
        is_send(&fixed.ready().await.unwrap().call(1));
        let rate = RateLimiter::new(10, Duration::from_secs(1)).unwrap();
        let mut rated = LimitLayer::rate(rate).layer(Backend::open());
        is_send(&rated.ready().await.unwrap().call(1));
        // Services stay `Send + Sync` (axum's router needs both), also while waiting.
        let _held = rated.ready().now_or_never();
        is_send_and_sync(&rated);
        let _waiting = fixed.ready().now_or_never();
        is_send_and_sync(&fixed);
    });
}
