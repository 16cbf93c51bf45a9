//! The `metrics` feature: after a known sequence of calls, the state gauge, the
//! transitions, the refusals and the calls hold exactly what happened.
#![cfg(feature = "metrics")]

use std::time::Duration;

use uno_breaker::{CircuitBreaker, State};
use uno_testkit::metrics::recorded_paused;

#[test]
fn state_transitions_refusals_and_calls_are_reported() {
    let (metrics, (), _runtime) = recorded_paused(async {
        let breaker = CircuitBreaker::builder()
            .consecutive_failures(2)
            .open_for(Duration::from_secs(10))
            .name("db")
            .build()
            .unwrap();
        assert_eq!(breaker.name(), Some("db"));
        let ok = || async { Ok::<_, &str>(()) };
        let fail = || async { Err::<(), _>("down") };
        breaker.call(ok()).await.unwrap();
        // Two failures open it; two calls are refused while it is open.
        breaker.call(fail()).await.unwrap_err();
        breaker.call(fail()).await.unwrap_err();
        assert_eq!(breaker.state(), State::Open);
        breaker.call(ok()).await.unwrap_err();
        breaker.call(ok()).await.unwrap_err();
        // After 10 s a probe runs and closes it.
        tokio::time::sleep(Duration::from_secs(10)).await;
        breaker.call(ok()).await.unwrap();
        assert_eq!(breaker.state(), State::Closed);
    });
    let calls = |outcome: &str| {
        metrics.counter(&format!(
            "uno_breaker_calls_total{{breaker=db,outcome={outcome}}}"
        ))
    };
    assert_eq!((calls("success"), calls("failure")), (2, 2));
    assert_eq!(
        metrics.counter("uno_breaker_rejected_total{breaker=db,state=open}"),
        2
    );
    let transitions = |from: &str, to: &str| {
        metrics.counter(&format!(
            "uno_breaker_transitions_total{{breaker=db,from={from},to={to}}}"
        ))
    };
    assert_eq!(transitions("closed", "open"), 1);
    assert_eq!(transitions("open", "half_open"), 1);
    assert_eq!(transitions("half_open", "closed"), 1);
    assert_eq!(metrics.gauge("uno_breaker_state{breaker=db}"), Some(0.0));
}

#[test]
fn an_unnamed_breaker_is_labelled_unnamed_and_its_open_state_shows() {
    let (metrics, (), _runtime) = recorded_paused(async {
        let breaker = CircuitBreaker::builder()
            .consecutive_failures(1)
            .build()
            .unwrap();
        breaker
            .call(async { Err::<(), _>("down") })
            .await
            .unwrap_err();
    });
    assert_eq!(
        metrics.gauge("uno_breaker_state{breaker=unnamed}"),
        Some(1.0)
    );
    assert_eq!(
        metrics.counter("uno_breaker_transitions_total{breaker=unnamed,from=closed,to=open}"),
        1
    );
}
