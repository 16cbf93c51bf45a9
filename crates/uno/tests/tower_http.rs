//! The tower example (`examples/tower_service.rs`) over real HTTP: an axum server on
//! 127.0.0.1 with uno's layers, driven by hyper's client. A flaky backend is retried,
//! an overloaded one is limited, a down one trips the breaker, which then fails fast,
//! and a slow one is cut at the request's deadline.
#![expect(
    clippy::disallowed_methods,
    reason = "the server, its connections and the concurrent clients are bare tasks that end with the test's runtime"
)]

#[path = "../examples/tower_service.rs"]
#[expect(dead_code, reason = "the example's `main` is not run here")]
mod tower_service;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tower_service::Backend;

/// Serves the example's app on a free port of 127.0.0.1.
async fn serve(backend: Arc<Backend>, deadline: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = tower_service::app(backend, deadline).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

/// What a `GET` answered.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: String,
}

/// `GET path` on a new connection.
async fn get(address: SocketAddr, path: &str) -> Answer {
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::get(path)
        .header(header::HOST, address.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|value| value.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        retry_after,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

#[tokio::test]
async fn a_flaky_backend_is_retried_until_it_answers() {
    let backend = Arc::new(Backend::new(Duration::ZERO));
    let address = serve(backend.clone(), Duration::from_secs(30)).await;

    let answer = get(address, "/flaky").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "paid\n")
    );
    // Two 503s retried, the third call answered.
    assert_eq!(backend.flaky_calls.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn an_overloaded_backend_is_limited_and_a_slow_one_cut_at_the_deadline() {
    // `/slow` admits one request at a time and never finishes within the deadline.
    let backend = Arc::new(Backend::new(Duration::from_secs(3600)));
    let address = serve(backend.clone(), Duration::from_secs(2)).await;

    let first = tokio::spawn(get(address, "/slow"));
    backend.slow_started.notified().await;

    // The limit is full: refused at once, as a 503, without reaching the backend.
    let second = get(address, "/slow").await;
    assert_eq!(second.status, StatusCode::SERVICE_UNAVAILABLE, "{second:?}");
    assert!(second.body.contains("limiter is full"), "{second:?}");
    assert_eq!(backend.slow_calls.load(Ordering::Relaxed), 1);

    // The first one is cut at its deadline: a 504, not a hang.
    let first = first.await.unwrap();
    assert_eq!(first.status, StatusCode::GATEWAY_TIMEOUT, "{first:?}");

    // Its permit came back with it: the next request reaches the backend.
    let third = tokio::spawn(get(address, "/slow"));
    backend.slow_started.notified().await;
    assert_eq!(backend.slow_calls.load(Ordering::Relaxed), 2);
    third.abort();
}

#[tokio::test]
async fn an_open_breaker_fails_fast_without_calling_the_backend() {
    let backend = Arc::new(Backend::new(Duration::ZERO));
    let address = serve(backend.clone(), Duration::from_secs(30)).await;

    // A 500 is not retried (only 503s are) but counts as a failure.
    for _ in 0..3 {
        let answer = get(address, "/down").await;
        assert_eq!(
            answer.status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{answer:?}"
        );
    }
    assert_eq!(backend.down_calls.load(Ordering::Relaxed), 3);

    // Three in a row opened it: answered at once, with when to come back.
    let answer = get(address, "/down").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    assert_eq!(answer.retry_after.as_deref(), Some("30"));
    assert!(
        answer.body.contains("circuit breaker is open"),
        "{answer:?}"
    );
    assert_eq!(backend.down_calls.load(Ordering::Relaxed), 3);

    // Other routes have their own breakers.
    assert_eq!(get(address, "/flaky").await.status, StatusCode::OK);
}
