//! Running one batch: call the operation, catch its panic, and send each caller its own
//! outcome. Each batch runs in its own task, which owns the reply channels of exactly
//! the items it was given: outputs are matched to callers by position inside that
//! task, so batches that finish out of order cannot cross outputs between callers.

use std::any::Any;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use futures_util::FutureExt as _;
use tokio::sync::oneshot;

use crate::dedup::Dedup;
use crate::error::BatchError;
use crate::ticket::Outcome;

/// Runs the operation on one batch and sends each caller its own outcome.
pub(crate) async fn run_batch<I, O, E, F, Fut>(
    op: Arc<F>,
    dedup: Option<Dedup<I, O>>,
    items: Vec<I>,
    replies: Vec<oneshot::Sender<Outcome<O, E>>>,
) where
    F: Fn(Vec<I>) -> Fut,
    Fut: Future<Output = Result<Vec<O>, E>>,
{
    let (items, positions) = match dedup {
        Some(dedup) => dedup.split(items),
        None => (items, None),
    };
    let expected = items.len();
    // Catch a panic both in the call that makes the future and while it runs, so that a
    // panicking operation fails only this batch's callers, with a clear error.
    let outcome = match panic::catch_unwind(AssertUnwindSafe(|| op(items))) {
        Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
        Err(payload) => Err(payload),
    };
    match outcome {
        Ok(Ok(outputs)) if outputs.len() == expected => {
            let outputs = match (dedup, positions) {
                (Some(dedup), Some(positions)) => dedup.expand(&outputs, &positions),
                _ => outputs,
            };
            for (reply, output) in replies.into_iter().zip(outputs) {
                // The caller may have gone away meanwhile; its output is then dropped.
                let _ = reply.send(Ok(output));
            }
        }
        Ok(Ok(outputs)) => {
            event!(
                error,
                expected,
                actual = outputs.len(),
                "the batch operation returned the wrong number of outputs"
            );
            fan_out(
                replies,
                &BatchError::WrongLength {
                    expected,
                    actual: outputs.len(),
                },
            );
        }
        Ok(Err(error)) => {
            event!(debug, size = expected, "the batch operation failed");
            fan_out(replies, &BatchError::Failed(Arc::new(error)));
        }
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            event!(error, size = expected, %message, "the batch operation panicked");
            fan_out(replies, &BatchError::Panicked { message });
        }
    }
}

fn fan_out<O, E>(replies: Vec<oneshot::Sender<Outcome<O, E>>>, error: &BatchError<E>) {
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        return (*message).to_owned();
    }
    if let Some(message) = payload.downcast_ref::<String>() {
        return message.clone();
    }
    "a non-string panic payload".to_owned()
}
