//! `DeadlineLayer`: every request runs under a deadline that the code below sees,
//! waiting for readiness counts against it, errors are boxed as they are, and a
//! deadline never extends an outer one.
#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt, service_fn};
use uno_deadline::tower::{BoxError, DeadlineLayer, DeadlineService};
use uno_deadline::{Elapsed, current, remaining, within};

/// A service that sleeps for the requested time and answers with the deadline it saw.
fn sleeper() -> impl Service<
    Duration,
    Response = Option<Instant>,
    Error = Infallible,
    Future = impl Future<Output = Result<Option<Instant>, Infallible>> + Send,
> + Clone
+ Send {
    service_fn(|sleep: Duration| async move {
        let seen = current();
        tokio::time::sleep(sleep).await;
        Ok(seen)
    })
}

/// A service that is never ready.
#[derive(Clone)]
struct NeverReady;

impl Service<()> for NeverReady {
    type Response = ();
    type Error = Infallible;
    type Future = std::future::Ready<Result<(), Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Pending
    }

    fn call(&mut self, _request: ()) -> Self::Future {
        unreachable!("a service that is never ready is never called")
    }
}

#[tokio::test(start_paused = true)]
async fn the_request_sees_its_deadline() {
    let started = Instant::now();
    let service = DeadlineLayer::new(Duration::from_secs(2)).layer(sleeper());
    let seen = service.oneshot(Duration::from_secs(1)).await.unwrap();
    assert_eq!(seen, Some(started + Duration::from_secs(2)));
}

#[tokio::test(start_paused = true)]
async fn a_request_past_its_deadline_fails_with_elapsed_at_the_deadline() {
    let started = Instant::now();
    let service = DeadlineLayer::new(Duration::from_secs(2)).layer(sleeper());
    let error = service.oneshot(Duration::from_secs(5)).await.unwrap_err();
    let elapsed = error.downcast_ref::<Elapsed>().expect("an Elapsed");
    assert_eq!(elapsed.deadline(), started + Duration::from_secs(2));
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_starts_when_the_request_is_called() {
    let mut service = DeadlineLayer::new(Duration::from_secs(2)).layer(sleeper());
    let ready = service.ready().await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let called = Instant::now();
    let seen = ready.call(Duration::ZERO).await.unwrap();
    assert_eq!(seen, Some(called + Duration::from_secs(2)));
}

#[tokio::test(start_paused = true)]
async fn the_inner_error_is_boxed_as_it_is() {
    let failing = service_fn(|(): ()| async {
        Err::<(), _>(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))
    });
    let service = DeadlineLayer::new(Duration::from_secs(1)).layer(failing);
    let error = service.oneshot(()).await.unwrap_err();
    let io = error
        .downcast_ref::<std::io::Error>()
        .expect("the io error");
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test(start_paused = true)]
async fn the_service_is_ready_and_waits_for_the_inner_one_within_the_deadline() {
    let mut service = DeadlineLayer::new(Duration::from_millis(300)).layer(NeverReady);
    // Always ready itself, even though the inner service never is...
    assert!(service.ready().await.is_ok());
    // ...because the wait for the inner service happens inside the deadline.
    let started = Instant::now();
    let error = service.call(()).await.unwrap_err();
    assert!(error.is::<Elapsed>());
    assert_eq!(started.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn an_outer_deadline_that_comes_first_applies_and_is_reported_by_its_setter() {
    let started = Instant::now();
    let service = DeadlineLayer::new(Duration::from_secs(60)).layer(sleeper());
    let outer = within(Duration::from_secs(1), async {
        let seen = remaining();
        (seen, service.oneshot(Duration::from_secs(5)).await)
    })
    .await;
    // The outer deadline fired: the caller who set it sees it.
    assert!(outer.is_err());
    assert_eq!(started.elapsed(), Duration::from_secs(1));

    let service = DeadlineLayer::new(Duration::from_secs(60)).layer(sleeper());
    let seen = within(Duration::from_secs(1), service.oneshot(Duration::ZERO))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen, Some(Instant::now() + Duration::from_secs(1)));
}

#[tokio::test(start_paused = true)]
async fn a_zero_deadline_lets_only_ready_work_through() {
    let service = DeadlineLayer::new(Duration::ZERO).layer(sleeper());
    assert!(service.clone().oneshot(Duration::ZERO).await.is_ok());
    let error = service.oneshot(Duration::from_millis(1)).await.unwrap_err();
    assert!(error.is::<Elapsed>());
}

#[tokio::test(start_paused = true)]
async fn a_duration_too_long_for_the_clock_sets_no_deadline() {
    let service = DeadlineLayer::new(Duration::MAX).layer(sleeper());
    let seen = service.oneshot(Duration::from_secs(3600)).await.unwrap();
    assert_eq!(seen, None);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_response_drops_the_inner_call() {
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let pending = service_fn(move |(): ()| {
        let guard = SetOnDrop(flag.clone());
        async move {
            let _guard = guard;
            std::future::pending::<Result<(), Infallible>>().await
        }
    });
    let mut service = DeadlineLayer::new(Duration::from_secs(10)).layer(pending);
    let mut response = Box::pin(service.ready().await.unwrap().call(()));
    assert!(futures_poll_once(&mut response).await.is_pending());
    assert!(!dropped.load(Ordering::SeqCst));
    drop(response);
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test(start_paused = true)]
async fn each_request_gets_its_own_clone_of_the_inner_service() {
    let clones = Arc::new(AtomicUsize::new(0));
    #[derive(Clone)]
    struct Counted(Arc<AtomicUsize>);
    impl Service<()> for Counted {
        type Response = ();
        type Error = Infallible;
        type Future = std::future::Ready<Result<(), Infallible>>;
        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, (): ()) -> Self::Future {
            self.0.fetch_add(1, Ordering::SeqCst);
            std::future::ready(Ok(()))
        }
    }
    let mut service: DeadlineService<Counted> =
        DeadlineLayer::new(Duration::from_secs(1)).layer(Counted(clones.clone()));
    for _ in 0..3 {
        service.ready().await.unwrap().call(()).await.unwrap();
    }
    assert_eq!(clones.load(Ordering::SeqCst), 3);
    assert_eq!(service.duration(), Duration::from_secs(1));
}

#[test]
fn the_response_future_is_send_when_the_inner_one_is() {
    fn is_send<T: Send>(_: &T) {}
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let mut service = DeadlineLayer::new(Duration::from_secs(1)).layer(sleeper());
    let response = service.call(Duration::ZERO);
    is_send(&response);
    let _: &dyn Future<Output = Result<Option<Instant>, BoxError>> = &response;
}

/// Polls `future` once, without waiting.
async fn futures_poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *future).poll(cx))).await
}
