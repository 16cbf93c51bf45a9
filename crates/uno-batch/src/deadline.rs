//! How `add` waits under its caller's deadline (see `uno_deadline`).
//!
//! Invariant: once the deadline has passed on tokio's clock, a wait that is polled and
//! not ready reports the deadline, whether or not its own timer has fired yet. An
//! enclosing `uno_deadline::within` that set the same deadline polls `add` before its
//! own timer, so its caller sees the batcher's `DeadlinePassed`, which says what
//! happened to the item, rather than a bare `Elapsed`, on any runtime.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;

use tokio::time::{Instant, Sleep};

/// Polls `wait` until it is ready (`Some`) or `deadline` passes (`None`). `timer`, set
/// for `deadline`, wakes the task; it can be shared by several waits in a row.
pub(crate) async fn until<F: Future>(
    mut wait: Pin<&mut F>,
    mut timer: Pin<&mut Sleep>,
    deadline: Instant,
) -> Option<F::Output> {
    poll_fn(|cx| {
        // The wait first: what is ready at the deadline is kept.
        if let Poll::Ready(output) = wait.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        // The timer registers the wake-up; the clock covers a timer for the same
        // instant (the enclosing `within`'s) that fired first.
        if timer.as_mut().poll(cx).is_ready() || Instant::now() >= deadline {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}
