//! An HTTP service (axum) whose routes sit behind uno's tower layers, composed in the
//! order the guide's "With tower" gives, outermost first: `DeadlineLayer`,
//! `RetryLayer`, `BreakerLayer`, `LimitLayer`. At the edge, a `HandleErrorLayer` turns
//! each layer's refusal into the HTTP answer the layer documents.
//!
//! ```text
//! cargo run -p uno --example tower_service --features tower        # 127.0.0.1:3000
//! curl -i 127.0.0.1:3000/flaky  # the backend answers 503 twice in three; the retry hides it
//! curl -i 127.0.0.1:3000/slow   # one at a time: a second request meanwhile gets 503 at once
//! curl -i 127.0.0.1:3000/down   # always 500; from the fourth call the breaker answers 503
//! ```
//!
//! Each route has its own limiter and breaker, as each backend dependency would.
//! `crates/uno/tests/tower_http.rs` includes this file and drives it over real HTTP.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::error_handling::HandleErrorLayer;
use axum::http::{Request, Response, StatusCode, header};
use tower::{BoxError, Service, ServiceBuilder, service_fn};
use uno::breaker::CircuitBreaker;
use uno::breaker::tower::{BreakerLayer, rejection};
use uno::deadline::Elapsed;
use uno::deadline::tower::DeadlineLayer;
use uno::limit::tower::LimitLayer;
use uno::limit::{FullPolicy, LimitError, Limiter};
use uno::retry::RetryPolicy;
use uno::retry::tower::{RetryLayer, retry_after};

/// The simulated backends behind the three routes, with what a test needs to see.
#[derive(Debug, Default)]
pub(crate) struct Backend {
    /// Calls that reached `/flaky`; two in every three answer 503.
    pub(crate) flaky_calls: AtomicU32,
    /// Calls that reached `/slow`.
    pub(crate) slow_calls: AtomicU32,
    /// Calls that reached `/down`, which always answers 500.
    pub(crate) down_calls: AtomicU32,
    /// How long a `/slow` call takes.
    pub(crate) slow_for: Duration,
    /// Given a permit each time a `/slow` call starts.
    pub(crate) slow_started: tokio::sync::Notify,
}

impl Backend {
    /// Backends whose `/slow` takes `slow_for`.
    pub(crate) fn new(slow_for: Duration) -> Self {
        Backend {
            slow_for,
            ..Backend::default()
        }
    }
}

/// The service: every route under its own deadline of `deadline`, retry, breaker and
/// limit.
///
/// # Errors
///
/// A layer's configuration was refused (it is not, for these fixed settings).
pub(crate) fn app(backend: Arc<Backend>, deadline: Duration) -> Result<Router, BoxError> {
    let flaky = {
        let backend = backend.clone();
        service_fn(move |_: Request<()>| {
            let call = backend.flaky_calls.fetch_add(1, Ordering::Relaxed);
            ready(Ok(match call % 3 {
                2 => answer(StatusCode::OK, "paid"),
                _ => answer(StatusCode::SERVICE_UNAVAILABLE, "busy, try again"),
            }))
        })
    };
    let slow = {
        let backend = backend.clone();
        service_fn(move |_: Request<()>| {
            let backend = backend.clone();
            async move {
                backend.slow_calls.fetch_add(1, Ordering::Relaxed);
                backend.slow_started.notify_one();
                tokio::time::sleep(backend.slow_for).await;
                Ok::<_, Infallible>(answer(StatusCode::OK, "done"))
            }
        })
    };
    let down = service_fn(move |_: Request<()>| {
        backend.down_calls.fetch_add(1, Ordering::Relaxed);
        ready(Ok::<_, Infallible>(answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the database is down",
        )))
    });
    Ok(Router::new()
        .route_service("/flaky", guarded(flaky, deadline, 8)?)
        .route_service("/slow", guarded(slow, deadline, 1)?)
        .route_service("/down", guarded(down, deadline, 8)?))
}

/// `inner` behind the four layers, in the guide's order, with at most `in_flight`
/// requests reaching it at once (more are refused at once).
fn guarded<S>(
    inner: S,
    deadline: Duration,
    in_flight: usize,
) -> Result<
    impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future: Send>
    + Clone
    + Send
    + Sync
    + 'static,
    BoxError,
>
where
    S: Service<Request<()>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    // A refusal (a full limiter, an open breaker) sheds load: never retry it, and never
    // count a full limiter as the dependency failing.
    let policy = RetryPolicy::exponential(Duration::from_millis(20))
        .max_attempts(4)
        .retry_if(|error: &BoxError| rejection(error).is_none() && !error.is::<LimitError>())
        .build()?;
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(3)
        .open_for(Duration::from_secs(30))
        .record_if(|error: &BoxError| !error.is::<LimitError>())
        .build()?;
    let limiter = Limiter::builder()
        .limit(in_flight)
        .on_full(FullPolicy::Reject)
        .build()?;
    Ok(ServiceBuilder::new()
        .layer(HandleErrorLayer::new(refusal))
        // The retry sends each attempt a clone of the request: these routes read no
        // body, so they take none (buffer it into `Bytes` to keep one).
        .map_request(|request: Request<Body>| request.map(|_body| ()))
        .layer(DeadlineLayer::new(deadline))
        .layer(
            RetryLayer::new(policy)
                .retry_if_ok(|response: &Response<Body>| {
                    response.status() == StatusCode::SERVICE_UNAVAILABLE
                })
                .delay_hint_ok(retry_after),
        )
        .layer(
            BreakerLayer::new(breaker)
                .record_if_ok(|response: &Response<Body>| response.status().is_server_error()),
        )
        .layer(LimitLayer::new(limiter))
        .service(inner))
}

/// The answer to a request a layer refused or cut short.
#[expect(
    clippy::needless_pass_by_value,
    reason = "axum's HandleErrorLayer hands the error over by value"
)]
fn refusal(error: BoxError) -> Ready<Response<Body>> {
    let (status, wait) = if error.is::<Elapsed>() {
        (StatusCode::GATEWAY_TIMEOUT, None)
    } else if let Some(open) = rejection(&error) {
        (StatusCode::SERVICE_UNAVAILABLE, open.retry_after())
    } else if let Some(LimitError::Limited { retry_after }) = error.downcast_ref::<LimitError>() {
        (StatusCode::TOO_MANY_REQUESTS, Some(*retry_after))
    } else if error.is::<LimitError>() {
        (StatusCode::SERVICE_UNAVAILABLE, None)
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, None)
    };
    let mut response = answer(status, &error.to_string());
    if let Some(wait) = wait {
        // Whole seconds, rounded up, so a client never comes back too early.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    ready(response)
}

fn answer(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(format!("{text}\n")));
    *response.status_mut() = status;
    response
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let backend = Arc::new(Backend::new(Duration::from_millis(500)));
    axum::serve(listener, app(backend, Duration::from_secs(2))?).await?;
    Ok(())
}
