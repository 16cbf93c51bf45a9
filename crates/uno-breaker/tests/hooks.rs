//! `on_state_change` sees every change once, in order, and runs outside the breaker's
//! lock.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use uno_breaker::{CircuitBreaker, State};

#[tokio::test(start_paused = true)]
async fn the_hook_sees_every_change_once_in_order() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(1))
        .on_state_change(move |from, to| log.lock().unwrap().push((from, to)))
        .build()
        .unwrap();
    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = breaker.call(async { Err::<(), _>("still down") }).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Querying the state turns the breaker half-open and reports it, once.
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(breaker.state(), State::HalfOpen);
    let _ = breaker.call(async { Ok::<_, &str>(()) }).await;
    use State::{Closed, HalfOpen, Open};
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (Closed, Open),
            (Open, HalfOpen),
            (HalfOpen, Open),
            (Open, HalfOpen),
            (HalfOpen, Closed)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_hook_may_call_the_breaker() {
    let cell: Arc<OnceLock<CircuitBreaker<&'static str>>> = Arc::new(OnceLock::new());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (hook_cell, log) = (Arc::clone(&cell), Arc::clone(&seen));
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .on_state_change(move |_, _| {
            // This would deadlock if the hook ran under the breaker's lock.
            let state = hook_cell.get().unwrap().state();
            log.lock().unwrap().push(state);
        })
        .build()
        .unwrap();
    cell.set(breaker.clone()).unwrap();
    let _ = breaker.call(async { Err::<(), _>("down") }).await;
    assert_eq!(*seen.lock().unwrap(), [State::Open]);
}
