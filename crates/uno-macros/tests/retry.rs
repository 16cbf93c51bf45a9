//! Behaviour of `#[uno::retry]`: attempts, delays, `retry_if`, arguments, methods,
//! generics and cancellation, all under paused time.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to cancel one from outside"
)]

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

fn refused() -> io::Error {
    io::ErrorKind::ConnectionRefused.into()
}

static ALWAYS_FAILS_CALLS: AtomicU32 = AtomicU32::new(0);

#[uno::retry(max_attempts = 4, backoff = exponential, initial = 100ms)]
async fn always_fails() -> Result<(), io::Error> {
    ALWAYS_FAILS_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(refused())
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_max_attempts_with_exponential_delays() {
    let started = Instant::now();
    let error = always_fails().await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
    assert_eq!(ALWAYS_FAILS_CALLS.load(Ordering::SeqCst), 4);
    // 100ms + 200ms + 400ms between the four attempts.
    assert_eq!(started.elapsed(), Duration::from_millis(700));
}

static SUCCEEDS_THIRD_CALLS: AtomicU32 = AtomicU32::new(0);

#[uno::retry(max_attempts = 5, backoff = constant, initial = 1.5s, max_delay = 10s)]
async fn succeeds_on_third_attempt() -> io::Result<u32> {
    match SUCCEEDS_THIRD_CALLS.fetch_add(1, Ordering::SeqCst) {
        0 | 1 => Err(refused()),
        attempt => Ok(attempt),
    }
}

#[tokio::test(start_paused = true)]
async fn returns_the_first_success_after_constant_delays() {
    let started = Instant::now();
    assert_eq!(succeeds_on_third_attempt().await.unwrap(), 2);
    assert_eq!(started.elapsed(), Duration::from_millis(3000));
}

fn is_refused(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::ConnectionRefused
}

static FILTERED_CALLS: AtomicU32 = AtomicU32::new(0);

#[uno::retry(max_attempts = 5, initial = 10ms, retry_if = is_refused)]
async fn fails_permanently_on_second_attempt() -> io::Result<()> {
    match FILTERED_CALLS.fetch_add(1, Ordering::SeqCst) {
        0 => Err(refused()),
        _ => Err(io::ErrorKind::PermissionDenied.into()),
    }
}

#[tokio::test(start_paused = true)]
async fn retry_if_stops_at_an_error_it_rejects() {
    let error = fails_permanently_on_second_attempt().await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
    assert_eq!(FILTERED_CALLS.load(Ordering::SeqCst), 2);
}

fn two_attempts_policy() -> uno::retry::RetryPolicy<String> {
    uno::retry::RetryPolicy::linear(Duration::from_secs(1))
        .max_attempts(2)
        .build()
        .expect("a valid policy")
}

#[uno::retry(policy = two_attempts_policy())]
async fn counts_with_a_given_policy(counter: Arc<AtomicU32>) -> Result<(), String> {
    counter.fetch_add(1, Ordering::SeqCst);
    Err("no".to_owned())
}

#[tokio::test(start_paused = true)]
async fn a_given_policy_is_used() {
    let counter = Arc::new(AtomicU32::new(0));
    let started = Instant::now();
    assert_eq!(
        counts_with_a_given_policy(Arc::clone(&counter)).await,
        Err("no".to_owned())
    );
    assert_eq!(counter.load(Ordering::SeqCst), 2);
    assert_eq!(started.elapsed(), Duration::from_secs(1));
}

#[uno::retry(max_attempts = 3, initial = Duration::from_millis(5))]
async fn consumes_owned_and_borrowed_arguments(
    mut owned: Vec<u32>,
    borrowed: &str,
    counter: &AtomicU32,
) -> Result<usize, usize> {
    // Each attempt starts from the caller's vector, not from the last attempt's.
    owned.push(1);
    let attempt = counter.fetch_add(1, Ordering::SeqCst);
    if attempt < 2 {
        return Err(owned.len());
    }
    Ok(owned.len() + borrowed.len())
}

#[tokio::test(start_paused = true)]
async fn owned_arguments_are_fresh_for_every_attempt() {
    let counter = AtomicU32::new(0);
    let result = consumes_owned_and_borrowed_arguments(vec![7, 8], "abc", &counter).await;
    assert_eq!(result, Ok(3 + 3));
    assert_eq!(counter.load(Ordering::SeqCst), 3);
}

struct Service {
    calls: AtomicU32,
    fail_first: u32,
}

impl Service {
    #[uno::retry(max_attempts = 3, initial = 1s)]
    async fn call(&self, label: &str) -> Result<String, String> {
        let attempt = self.calls.fetch_add(1, Ordering::SeqCst);
        if attempt < self.fail_first {
            return Err(format!("{label} failed"));
        }
        Ok(format!("{label} on attempt {attempt}"))
    }
}

#[tokio::test(start_paused = true)]
async fn methods_taking_self_by_reference_are_retried() {
    let service = Service {
        calls: AtomicU32::new(0),
        fail_first: 2,
    };
    assert_eq!(service.call("get").await.unwrap(), "get on attempt 2");
}

trait Fetch {
    async fn fetch(&self) -> Result<u32, String>;
}

impl Fetch for Service {
    #[uno::retry(max_attempts = 2, initial = 1s)]
    async fn fetch(&self) -> Result<u32, String> {
        let attempt = self.calls.fetch_add(1, Ordering::SeqCst);
        if attempt < self.fail_first {
            return Err("down".to_owned());
        }
        Ok(attempt)
    }
}

#[tokio::test(start_paused = true)]
async fn trait_impl_methods_are_retried() {
    let service = Service {
        calls: AtomicU32::new(0),
        fail_first: 1,
    };
    assert_eq!(service.fetch().await, Ok(1));
}

#[uno::retry(max_attempts = 3, backoff = fibonacci, initial = 1s)]
async fn generic<T: Clone + PartialEq + Send>(value: T, counter: &AtomicU32) -> Result<T, T> {
    if counter.fetch_add(1, Ordering::SeqCst) < 2 {
        return Err(value);
    }
    Ok(value)
}

#[tokio::test(start_paused = true)]
async fn generic_functions_are_retried() {
    let counter = AtomicU32::new(0);
    let started = Instant::now();
    assert_eq!(generic("x".to_owned(), &counter).await, Ok("x".to_owned()));
    assert_eq!(generic(5u8, &AtomicU32::new(2)).await, Ok(5));
    assert_eq!(counter.load(Ordering::SeqCst), 3);
    // Fibonacci: 1s then 1s.
    assert_eq!(started.elapsed(), Duration::from_secs(2));
}

#[uno::retry(max_attempts = 10, backoff = constant, initial = 10s)]
async fn counts_attempts(counter: Arc<AtomicU32>) -> Result<(), ()> {
    counter.fetch_add(1, Ordering::SeqCst);
    Err(())
}

#[tokio::test(start_paused = true)]
async fn cancelling_mid_backoff_makes_no_further_attempt() {
    let counter = Arc::new(AtomicU32::new(0));
    let call = tokio::spawn(counts_attempts(Arc::clone(&counter)));
    // Attempts run at 0s and 10s; at 15s the call is waiting for the third.
    tokio::time::sleep(Duration::from_secs(15)).await;
    assert_eq!(counter.load(Ordering::SeqCst), 2);
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert_eq!(counter.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn decorated_futures_are_send() {
    fn assert_send<F: Future + Send>(future: F) -> F {
        future
    }
    let counter = AtomicU32::new(0);
    let service = Service {
        calls: AtomicU32::new(0),
        fail_first: 0,
    };
    assert_send(service.call("x")).await.unwrap();
    let length = assert_send(consumes_owned_and_borrowed_arguments(vec![], "", &counter)).await;
    assert_eq!(length, Ok(1));
}

const ATTEMPTS: u32 = 100;
static ELAPSED_CALLS: AtomicU32 = AtomicU32::new(0);

#[uno::retry(
    max_attempts = ATTEMPTS,
    backoff = decorrelated,
    initial = Duration::from_millis(10),
    max_delay = 200ms,
    max_elapsed = 1s,
    jitter = full
)]
async fn bounded_by_elapsed_time() -> Result<(), &'static str> {
    ELAPSED_CALLS.fetch_add(1, Ordering::SeqCst);
    Err("busy")
}

#[tokio::test(start_paused = true)]
async fn every_inline_key_is_honoured() {
    let started = Instant::now();
    assert_eq!(bounded_by_elapsed_time().await, Err("busy"));
    let calls = ELAPSED_CALLS.load(Ordering::SeqCst);
    assert!((2..ATTEMPTS).contains(&calls), "{calls} calls");
    assert!(
        started.elapsed() <= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

struct Named {
    name: String,
}

impl Named {
    #[uno::retry(max_attempts = 2, initial = 1ms)]
    async fn name(&self) -> Result<&str, String> {
        Ok(&self.name)
    }
}

#[tokio::test(start_paused = true)]
async fn methods_may_return_borrows_of_self() {
    let named = Named {
        name: "uno".to_owned(),
    };
    assert_eq!(named.name().await, Ok("uno"));
}
