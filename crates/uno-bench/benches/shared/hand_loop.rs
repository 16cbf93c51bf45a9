//! The hand-written batching loop the batching benchmarks compare uno against: an mpsc
//! of (item, reply) pairs, a loop that takes what is queued (up to a batch) as soon as
//! it has answered the last batch, and one oneshot reply per item. No window,
//! cancellation handling, panic isolation or back-pressure.

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// An item and where its output goes.
pub(crate) type Request = (u64, oneshot::Sender<u64>);

/// Starts the loop with batches of at most `max_batch_size`, whose operation hands
/// every item straight back. It ends once every sender is dropped.
pub(crate) fn start(max_batch_size: usize) -> (mpsc::UnboundedSender<Request>, JoinHandle<()>) {
    let (sender, mut receiver) = mpsc::unbounded_channel::<Request>();
    let worker = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(max_batch_size);
        while receiver.recv_many(&mut batch, max_batch_size).await > 0 {
            // The batch operation takes the items as one `Vec`, as uno's does.
            let (items, replies): (Vec<u64>, Vec<oneshot::Sender<u64>>) = batch.drain(..).unzip();
            for (output, reply) in items.into_iter().zip(replies) {
                let _ = reply.send(output);
            }
        }
    });
    (sender, worker)
}
