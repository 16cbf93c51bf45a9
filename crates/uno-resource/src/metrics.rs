//! What a [`ResourcePool`](crate::ResourcePool) reports on the `metrics` facade with
//! the `metrics` feature (this module exists only then).
//!
//! | name | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `uno_pool_size` | gauge | `pool` | resources the pool holds, idle or acquired |
//! | `uno_pool_idle` | gauge | `pool` | idle resources |
//! | `uno_pool_waiting` | gauge | `pool` | callers of `acquire` waiting for a resource |
//! | `uno_pool_acquire_timeouts_total` | counter | `pool` | acquires that ran out of time (exhaustion) |
//!
//! The gauges are read from deadpool's own status whenever an acquire starts waiting
//! or ends (in any way, cancellation included) and whenever a resource goes back.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;

use deadpool::Status;

/// The `pool` label.
fn label(name: Option<&Arc<str>>) -> metrics::SharedString {
    match name {
        Some(name) => metrics::SharedString::from(Arc::clone(name)),
        None => metrics::SharedString::const_str("unnamed"),
    }
}

/// Sets the gauges from `status`.
pub(crate) fn report(name: Option<&Arc<str>>, status: Status) {
    let pool = label(name);
    metrics::gauge!("uno_pool_size", "pool" => pool.clone()).set(status.size as f64);
    metrics::gauge!("uno_pool_idle", "pool" => pool.clone()).set(status.available as f64);
    metrics::gauge!("uno_pool_waiting", "pool" => pool).set(status.waiting as f64);
}

/// Counts an acquire that ran out of time.
pub(crate) fn acquire_timed_out(name: Option<&Arc<str>>) {
    metrics::counter!("uno_pool_acquire_timeouts_total", "pool" => label(name)).increment(1);
}

/// Runs `get`, reporting `status()` once it starts waiting and when it ends, however
/// it ends.
pub(crate) async fn watched<T>(
    name: Option<&Arc<str>>,
    status: impl Fn() -> Status,
    get: impl Future<Output = T>,
) -> T {
    struct OnDrop<F: Fn()>(F);
    impl<F: Fn()> Drop for OnDrop<F> {
        fn drop(&mut self) {
            (self.0)();
        }
    }
    let _ended = OnDrop(|| report(name, status()));
    let mut get = pin!(get);
    let mut waiting = false;
    std::future::poll_fn(|cx| {
        let poll = get.as_mut().poll(cx);
        if poll.is_pending() && !waiting {
            waiting = true;
            report(name, status());
        }
        poll
    })
    .await
}
