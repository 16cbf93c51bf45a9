//! `BreakerLayer`: counting errors and `Ok` failures, failing fast while open without
//! asking the inner service, half-open probes, cancellation and panics.
#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::task::JoinSet;
use tower::{Layer, Service, ServiceExt};
use uno_breaker::tower::{BoxError, BreakerLayer, BreakerService, rejection};
use uno_breaker::{BreakerError, CircuitBreaker, State};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What the backend does with a request.
#[derive(Debug, Clone, Copy)]
enum Do {
    /// Answer this status.
    Answer(u16),
    /// Fail with an io error.
    Fail,
    /// Never answer.
    Hang,
    /// Panic while polled.
    Panic,
}

/// A backend that counts its calls and can be made not ready.
#[derive(Clone, Default)]
struct Backend {
    calls: Arc<AtomicUsize>,
    not_ready: Arc<AtomicBool>,
}

impl Backend {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Service<Do> for Backend {
    type Response = u16;
    type Error = std::io::Error;
    type Future = BoxFuture<Result<u16, std::io::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
        match self.not_ready.load(Ordering::SeqCst) {
            true => Poll::Pending,
            false => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, request: Do) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            match request {
                Do::Answer(status) => Ok(status),
                Do::Fail => Err(std::io::Error::other("refused")),
                Do::Hang => std::future::pending().await,
                Do::Panic => panic!("the backend panicked"),
            }
        })
    }
}

fn breaker(failures: u32) -> CircuitBreaker<std::io::Error> {
    CircuitBreaker::builder()
        .consecutive_failures(failures)
        .open_for(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn guarded(
    breaker: &CircuitBreaker<std::io::Error>,
    backend: &Backend,
) -> BreakerService<Backend, std::io::Error, fn(&u16) -> bool> {
    BreakerLayer::new(breaker.clone())
        .record_if_ok((|status: &u16| *status >= 500) as fn(&u16) -> bool)
        .layer(backend.clone())
}

async fn send(
    service: &mut BreakerService<Backend, std::io::Error, fn(&u16) -> bool>,
    request: Do,
) -> Result<u16, BoxError> {
    service.ready().await?.call(request).await
}

#[tokio::test(start_paused = true)]
async fn errors_open_the_breaker_and_then_calls_fail_fast() {
    let breaker = breaker(2);
    let backend = Backend::default();
    let mut service = guarded(&breaker, &backend);
    for _ in 0..2 {
        let error = send(&mut service, Do::Fail).await.unwrap_err();
        assert!(
            error.is::<std::io::Error>(),
            "the inner error, boxed as it is"
        );
    }
    assert_eq!(breaker.state(), State::Open);

    let error = send(&mut service, Do::Answer(200)).await.unwrap_err();
    assert_eq!(
        rejection(&error),
        Some(&BreakerError::Open {
            retry_after: Duration::from_secs(30)
        })
    );
    assert_eq!(
        backend.calls(),
        2,
        "an open breaker does not call the service"
    );
}

#[tokio::test(start_paused = true)]
async fn ok_responses_the_predicate_accepts_count_as_failures() {
    let breaker = breaker(2);
    let backend = Backend::default();
    let mut service = guarded(&breaker, &backend);
    assert_eq!(send(&mut service, Do::Answer(503)).await.unwrap(), 503);
    assert_eq!(send(&mut service, Do::Answer(404)).await.unwrap(), 404);
    assert_eq!(breaker.state(), State::Closed, "a 404 resets the count");
    for _ in 0..2 {
        assert_eq!(send(&mut service, Do::Answer(500)).await.unwrap(), 500);
    }
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn errors_record_if_rejects_do_not_count() {
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .record_if(|error: &std::io::Error| error.kind() != std::io::ErrorKind::Other)
        .build()
        .unwrap();
    let backend = Backend::default();
    let mut service = guarded(&breaker, &backend);
    assert!(send(&mut service, Do::Fail).await.is_err());
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_is_ready_without_asking_the_inner_service() {
    let breaker = breaker(1);
    let backend = Backend::default();
    let mut service = guarded(&breaker, &backend);
    assert!(send(&mut service, Do::Fail).await.is_err());
    backend.not_ready.store(true, Ordering::SeqCst);
    // The inner service is not ready, but an open breaker fails fast all the same.
    let ready = service
        .ready()
        .now_or_never()
        .expect("ready at once")
        .unwrap();
    let error = ready.call(Do::Answer(200)).await.unwrap_err();
    assert!(rejection(&error).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_breaker_that_opens_while_a_caller_waits_for_readiness_fails_it_fast() {
    let breaker = breaker(1);
    let backend = Backend {
        not_ready: Arc::new(AtomicBool::new(true)),
        ..Backend::default()
    };
    let mut service = guarded(&breaker, &backend);
    assert!(service.ready().now_or_never().is_none());
    // Another path through the same breaker opens it.
    let _ = breaker
        .call(async { Err::<(), _>(std::io::Error::other("down")) })
        .await;
    let ready = service
        .ready()
        .now_or_never()
        .expect("ready at once")
        .unwrap();
    assert!(rejection(&ready.call(Do::Answer(200)).await.unwrap_err()).is_some());
    assert_eq!(backend.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn after_the_open_duration_one_probe_runs_and_closes_the_breaker() {
    let breaker = breaker(1);
    let backend = Backend::default();
    let mut service = guarded(&breaker, &backend);
    assert!(send(&mut service, Do::Fail).await.is_err());
    tokio::time::sleep(Duration::from_secs(30)).await;

    let mut probe = service.ready().await.unwrap().call(Do::Hang);
    assert!((&mut probe).now_or_never().is_none());
    let error = send(&mut service, Do::Answer(200)).await.unwrap_err();
    assert_eq!(rejection(&error), Some(&BreakerError::HalfOpenBusy));

    // A cancelled probe gives its slot back; the next one closes the breaker.
    drop(probe);
    assert_eq!(send(&mut service, Do::Answer(200)).await.unwrap(), 200);
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_panic_while_polled_counts_as_a_failure_and_is_resumed() {
    let breaker = breaker(1);
    let backend = Backend::default();
    let mut service = guarded(&breaker, &backend);
    let response = service.ready().await.unwrap().call(Do::Panic);
    let mut tasks = JoinSet::new();
    tasks.spawn(response);
    assert!(tasks.join_next().await.unwrap().unwrap_err().is_panic());
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_call_counts_as_a_failure_and_is_resumed() {
    #[derive(Clone)]
    struct PanicsInCall;
    impl Service<()> for PanicsInCall {
        type Response = ();
        type Error = Infallible;
        type Future = std::future::Ready<Result<(), Infallible>>;
        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, (): ()) -> Self::Future {
            panic!("call panicked")
        }
    }
    let breaker = CircuitBreaker::<Infallible>::builder()
        .consecutive_failures(1)
        .build()
        .unwrap();
    let mut service = BreakerLayer::new(breaker.clone()).layer(PanicsInCall);
    service.ready().await.unwrap();
    assert!(catch_unwind(AssertUnwindSafe(|| service.call(()))).is_err());
    assert_eq!(breaker.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_counts_nothing() {
    let breaker = breaker(1);
    let backend = Backend::default();
    let mut service = guarded(&breaker, &backend);
    for _ in 0..3 {
        let mut response = service.ready().await.unwrap().call(Do::Hang);
        assert!((&mut response).now_or_never().is_none());
        drop(response);
    }
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn clones_share_the_breaker() {
    let breaker = breaker(2);
    let backend = Backend::default();
    let mut first = guarded(&breaker, &backend);
    let mut second = first.clone();
    assert!(send(&mut first, Do::Fail).await.is_err());
    assert!(send(&mut second, Do::Fail).await.is_err());
    assert_eq!(breaker.state(), State::Open);
    assert!(rejection(&send(&mut first, Do::Answer(200)).await.unwrap_err()).is_some());
}

#[tokio::test(start_paused = true)]
async fn rejection_finds_a_refusal_only() {
    let inner: BoxError = Box::new(std::io::Error::other("x"));
    assert!(rejection(&inner).is_none());
    let refused: BoxError = Box::new(BreakerError::<Infallible>::HalfOpenBusy);
    assert_eq!(rejection(&refused), Some(&BreakerError::HalfOpenBusy));
}

#[test]
fn the_response_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut service = guarded(&breaker(1), &Backend::default());
        is_send(&service.ready().await.unwrap().call(Do::Answer(200)));
        is_send(&service);
    });
}
