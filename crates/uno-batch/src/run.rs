//! Running one batch: call the operation, catch its panic, and send each caller its own
//! outcome. Each batch is one future, polled by the worker, which owns the reply
//! channels of exactly the items it was given: outputs are matched to callers by
//! position inside that future, so batches that finish out of order cannot cross
//! outputs between callers.

use std::any::Any;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use futures_util::FutureExt as _;
use tokio::sync::oneshot;

use crate::dedup::Dedup;
use crate::error::BatchError;
use crate::ticket::Outcome;

/// Numbers a batch among those its worker runs.
pub(crate) type BatchId = u64;

/// Runs the operation on one batch, sends each caller its own outcome, and resolves to
/// `id` once done.
///
/// Never panics: a panic outside the operation (whose own is caught in [`send`]), in
/// user code such as an output's `Drop` or the items' `Hash` under `deduplicate`, drops
/// what the batch still holds, so its callers whose outcome was not sent yet get
/// `Stopped`, and the worker that polls this future goes on.
pub(crate) async fn run_batch<I, O, E, F, Fut>(
    id: BatchId,
    op: Arc<F>,
    dedup: Option<Dedup<I, O>>,
    items: Vec<I>,
    replies: Vec<oneshot::Sender<Outcome<O, E>>>,
) -> BatchId
where
    F: Fn(Vec<I>) -> Fut,
    Fut: Future<Output = Result<Vec<O>, E>>,
{
    if let Err(_payload) = AssertUnwindSafe(send(op, dedup, items, replies))
        .catch_unwind()
        .await
    {
        event!(
            error,
            panic = %panic_message(_payload.as_ref()),
            "a batch panicked outside the batch operation; its callers get Stopped"
        );
    }
    id
}

/// Runs the operation on one batch and sends each caller its own outcome.
async fn send<I, O, E, F, Fut>(
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

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&'static str>() {
        return (*message).to_owned();
    }
    if let Some(message) = payload.downcast_ref::<String>() {
        return message.clone();
    }
    "a non-string panic payload".to_owned()
}
