//! `RetryLayer`: errors and chosen `Ok` responses are retried under the policy's
//! limits (attempts, budget, `max_elapsed`, the caller's deadline), `Retry-After`
//! picks the delay, later attempts wait for a ready clone, and cancellation stops the
//! run.
#![cfg(feature = "tower")]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};
use uno_retry::tower::{RetryLayer, retry_after};
use uno_retry::{RetryBudget, RetryPolicy};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A backend that answers from a script, one entry per call (the last one repeats),
/// and records the request each call got and when.
#[derive(Clone)]
struct Scripted {
    script: Arc<Vec<Result<u16, &'static str>>>,
    calls: Arc<AtomicU32>,
    seen: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Scripted {
    fn new(script: &[Result<u16, &'static str>]) -> Self {
        Scripted {
            script: Arc::new(script.to_vec()),
            calls: Arc::default(),
            seen: Arc::default(),
        }
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Service<String> for Scripted {
    type Response = u16;
    type Error = std::io::Error;
    type Future = BoxFuture<Result<u16, std::io::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: String) -> Self::Future {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) as usize;
        self.seen.lock().unwrap().push((request, Instant::now()));
        let answer = self.script[call.min(self.script.len() - 1)];
        Box::pin(async move { answer.map_err(std::io::Error::other) })
    }
}

fn constant(delay_ms: u64, attempts: u32) -> RetryPolicy<std::io::Error> {
    RetryPolicy::constant(Duration::from_millis(delay_ms))
        .max_attempts(attempts)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn errors_are_retried_until_a_success() {
    let backend = Scripted::new(&[Err("reset"), Err("reset"), Ok(200)]);
    let service = RetryLayer::new(constant(100, 5)).layer(backend.clone());
    let started = Instant::now();
    assert_eq!(service.oneshot("ping".into()).await.unwrap(), 200);
    assert_eq!(backend.calls(), 3);
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    // Every attempt got the same request.
    let seen = backend.seen.lock().unwrap();
    assert!(seen.iter().all(|(request, _)| request == "ping"));
}

#[tokio::test(start_paused = true)]
async fn the_last_error_comes_back_when_attempts_run_out() {
    let backend = Scripted::new(&[Err("down")]);
    let service = RetryLayer::new(constant(10, 3)).layer(backend.clone());
    let error = service.oneshot("ping".into()).await.unwrap_err();
    assert_eq!(error.to_string(), "down");
    assert_eq!(backend.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn errors_retry_if_rejects_are_returned_at_once() {
    let policy = RetryPolicy::constant(Duration::from_millis(10))
        .retry_if(|error: &std::io::Error| error.to_string() != "forbidden")
        .build()
        .unwrap();
    let backend = Scripted::new(&[Err("forbidden"), Ok(200)]);
    let service = RetryLayer::new(policy).layer(backend.clone());
    assert!(service.oneshot("ping".into()).await.is_err());
    assert_eq!(backend.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn ok_responses_are_kept_unless_retry_if_ok_says_otherwise() {
    let backend = Scripted::new(&[Ok(503), Ok(200)]);
    let kept = RetryLayer::new(constant(10, 3)).layer(backend.clone());
    assert_eq!(kept.oneshot("ping".into()).await.unwrap(), 503);

    let backend = Scripted::new(&[Ok(503), Ok(503), Ok(200)]);
    let retried = RetryLayer::new(constant(10, 3))
        .retry_if_ok(|status: &u16| *status == 503)
        .layer(backend.clone());
    assert_eq!(retried.oneshot("ping".into()).await.unwrap(), 200);
    assert_eq!(backend.calls(), 3);
}

/// The first attempt is polled in place when the policy keeps no clock or budget, and
/// by the run otherwise; either way each response is judged once, and a first
/// response judged worth retrying is retried.
#[tokio::test(start_paused = true)]
async fn each_response_is_judged_once_whether_or_not_the_first_runs_in_place() {
    let with_budget = RetryPolicy::constant(Duration::from_millis(10))
        .max_attempts(5)
        .budget(RetryBudget::new(Duration::from_secs(10), 10, 1.0).unwrap())
        .build()
        .unwrap();
    for policy in [constant(10, 5), with_budget] {
        let backend = Scripted::new(&[Ok(503), Ok(503), Ok(200)]);
        let judged = Arc::new(AtomicU32::new(0));
        let seen = judged.clone();
        let service = RetryLayer::new(policy)
            .retry_if_ok(move |status: &u16| {
                seen.fetch_add(1, Ordering::SeqCst);
                *status == 503
            })
            .layer(backend.clone());
        assert_eq!(service.oneshot("ping".into()).await.unwrap(), 200);
        assert_eq!(backend.calls(), 3);
        assert_eq!(
            judged.load(Ordering::SeqCst),
            3,
            "one judgement per response"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_last_ok_response_comes_back_when_the_policy_gives_up() {
    let backend = Scripted::new(&[Ok(503)]);
    let service = RetryLayer::new(constant(10, 2))
        .retry_if_ok(|status: &u16| *status == 503)
        .layer(backend.clone());
    assert_eq!(service.oneshot("ping".into()).await.unwrap(), 503);
    assert_eq!(backend.calls(), 2);
}

/// An HTTP backend: 503 with `Retry-After: 3` until the third call.
fn busy_twice() -> impl Service<
    Request<()>,
    Response = Response<&'static str>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<&'static str>, Infallible>> + Send,
> + Clone {
    let calls = Arc::new(AtomicU32::new(0));
    tower::service_fn(move |_: Request<()>| {
        let call = calls.fetch_add(1, Ordering::SeqCst);
        async move {
            Ok(match call {
                0 | 1 => Response::builder()
                    .status(StatusCode::SERVICE_UNAVAILABLE)
                    .header("retry-after", "3")
                    .body("busy")
                    .unwrap(),
                _ => Response::new("done"),
            })
        }
    })
}

fn unavailable(response: &Response<&'static str>) -> bool {
    response.status() == StatusCode::SERVICE_UNAVAILABLE
}

#[tokio::test(start_paused = true)]
async fn retry_after_chooses_the_delay_of_a_retried_response() {
    let policy = RetryPolicy::constant(Duration::from_millis(100))
        .max_attempts(5)
        .build()
        .unwrap();
    let service = RetryLayer::new(policy)
        .retry_if_ok(unavailable)
        .delay_hint_ok(retry_after)
        .layer(busy_twice());
    let started = Instant::now();
    let response = service.oneshot(Request::new(())).await.unwrap();
    assert_eq!(response.into_body(), "done");
    assert_eq!(started.elapsed(), Duration::from_secs(6));
}

#[tokio::test(start_paused = true)]
async fn max_delay_caps_what_retry_after_asks_for() {
    let policy = RetryPolicy::constant(Duration::from_millis(100))
        .max_delay(Duration::from_secs(1))
        .build()
        .unwrap();
    let service = RetryLayer::new(policy)
        .retry_if_ok(unavailable)
        .delay_hint_ok(retry_after)
        .layer(busy_twice());
    let started = Instant::now();
    service.oneshot(Request::new(())).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_past_the_deadline_gives_up_with_the_response() {
    let policy = RetryPolicy::constant(Duration::from_millis(100))
        .build()
        .unwrap();
    let service = RetryLayer::new(policy)
        .retry_if_ok(unavailable)
        .delay_hint_ok(retry_after)
        .layer(busy_twice());
    let started = Instant::now();
    let outcome = uno_deadline::within(Duration::from_secs(2), service.oneshot(Request::new(())))
        .await
        .expect("the retry gives up before the deadline");
    assert_eq!(outcome.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "it never sleeps into the deadline"
    );
}

#[tokio::test(start_paused = true)]
async fn the_budget_is_shared_by_every_request() {
    // No reserve and one retry per two requests.
    let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5).unwrap();
    let policy = RetryPolicy::constant(Duration::from_millis(10))
        .max_attempts(10)
        .budget(budget)
        .build()
        .unwrap();
    let backend = Scripted::new(&[Err("down")]);
    let service = RetryLayer::new(policy).layer(backend.clone());
    assert!(service.clone().oneshot("a".into()).await.is_err());
    assert_eq!(backend.calls(), 1, "half a retry deposited: not enough");
    assert!(service.oneshot("b".into()).await.is_err());
    assert_eq!(backend.calls(), 3, "two requests deposited one retry");
}

#[tokio::test(start_paused = true)]
async fn an_attempt_timeout_cuts_a_hung_attempt_and_retries() {
    let hung_once = Arc::new(AtomicBool::new(true));
    let backend = tower::service_fn(move |_: ()| {
        let hang = hung_once.swap(false, Ordering::SeqCst);
        async move {
            if hang {
                std::future::pending::<()>().await;
            }
            Ok::<_, std::io::Error>("answered")
        }
    });
    let policy = RetryPolicy::constant(Duration::from_millis(100))
        .attempt_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let started = Instant::now();
    let service = RetryLayer::new(policy).layer(backend);
    assert_eq!(service.oneshot(()).await.unwrap(), "answered");
    assert_eq!(started.elapsed(), Duration::from_millis(1100));
}

/// A service whose clones count how often they are polled for readiness and called,
/// and which is ready only while its gate is open. A closed gate keeps the waker of the
/// last `poll_ready` and wakes it when opened (never busy-polling, so paused time can
/// advance while a clone waits).
#[derive(Clone, Default)]
struct Gated {
    gate: Arc<Mutex<Gate>>,
    polls: Arc<AtomicU32>,
    calls: Arc<AtomicU32>,
}

#[derive(Default)]
struct Gate {
    open: bool,
    waiting: Option<Waker>,
}

impl Gated {
    fn open(&self) {
        let mut gate = self.gate.lock().unwrap();
        gate.open = true;
        if let Some(waker) = gate.waiting.take() {
            waker.wake();
        }
    }
}

impl Service<()> for Gated {
    type Response = ();
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<(), std::io::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        let mut gate = self.gate.lock().unwrap();
        if gate.open {
            return Poll::Ready(Ok(()));
        }
        gate.waiting = Some(cx.waker().clone());
        Poll::Pending
    }

    fn call(&mut self, (): ()) -> Self::Future {
        let first = self.calls.fetch_add(1, Ordering::SeqCst) == 0;
        // Fails the first call only; the gate closes after every call.
        self.gate.lock().unwrap().open = false;
        std::future::ready(match first {
            true => Err(std::io::Error::other("first")),
            false => Ok(()),
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_later_attempt_waits_for_a_ready_clone_inside_the_response() {
    let gated = Gated::default();
    gated.open();
    let mut service = RetryLayer::new(constant(10, 3)).layer(gated.clone());
    // The first attempt uses the readiness `poll_ready` gave.
    let response = service.ready().await.unwrap().call(());
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(response);
    // The first call failed and closed the gate. Paused time runs past the 10 ms delay
    // once every task waits: the retry then waits for a ready clone, without calling.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(gated.calls.load(Ordering::SeqCst), 1);
    assert!(gated.polls.load(Ordering::SeqCst) > 1);
    assert!(
        !tasks.is_empty() && tasks.try_join_next().is_none(),
        "still waiting"
    );
    gated.open();
    tasks.join_next().await.unwrap().unwrap().unwrap();
    assert_eq!(gated.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_response_stops_the_run() {
    let backend = Scripted::new(&[Err("down")]);
    let mut service = RetryLayer::new(constant(1000, 10)).layer(backend.clone());
    let response = service.ready().await.unwrap().call("ping".into());
    let run = tokio::time::timeout(Duration::from_millis(1500), response).await;
    assert!(run.is_err(), "still retrying");
    assert_eq!(backend.calls(), 2);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(backend.calls(), 2, "no attempt after the drop");
}

#[tokio::test(start_paused = true)]
async fn an_inner_poll_ready_error_comes_through() {
    #[derive(Debug, Clone)]
    struct Broken;
    impl Service<()> for Broken {
        type Response = ();
        type Error = std::io::Error;
        type Future = std::future::Ready<Result<(), std::io::Error>>;
        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
            Poll::Ready(Err(std::io::Error::other("broken")))
        }
        fn call(&mut self, (): ()) -> Self::Future {
            unreachable!()
        }
    }
    let mut service = RetryLayer::new(constant(10, 3)).layer(Broken);
    assert_eq!(service.ready().await.unwrap_err().to_string(), "broken");
}

#[test]
fn the_response_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut service = RetryLayer::new(constant(10, 3)).layer(Scripted::new(&[Ok(200)]));
        is_send(&service.ready().await.unwrap().call("ping".into()));
        is_send(&service);
    });
}
