//! `Draining`: the batchers whose last handle is gone (or that were closed) and that
//! are still sending their last items, for an exit path to wait for.
//!
//! Dropping the last [`AsyncBatcher`](crate::AsyncBatcher) handle lets its worker send
//! everything it accepted in the background. That is safe only while the runtime runs;
//! a program that returns from `main` right after would end the worker with its items.
//! So the last handle registers its worker here, synchronously, and uno-signal's
//! `Shutdown::run` (feature `batch`) waits for the registry before the program exits.
//!
//! Invariants: an entry is registered at most once (by the drop of the last handle),
//! is never removed before its worker reported finished, and the counts it reports
//! are the worker's own, published at the top of each of its turns.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::sync::watch;

/// The process-wide registry of batchers still draining after their last handle was
/// dropped (or after `close`). uno-signal's `Shutdown::run` waits for it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_batch::{AsyncBatcher, Draining};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let batcher = AsyncBatcher::builder(|items: Vec<u32>| async move {
///     tokio::time::sleep(Duration::from_millis(10)).await;
///     Ok::<_, std::convert::Infallible>(items)
/// })
/// .name("audit log")
/// .build()
/// .unwrap();
/// let ticket = batcher.try_add(1).unwrap();
/// drop(batcher); // drains in the background
///
/// Draining::global().wait().await; // what an exit path does before `main` returns
/// assert!(Draining::global().pending().is_empty());
/// assert_eq!(ticket.await.unwrap(), 1);
/// # }
/// ```
#[derive(Debug, Default)]
pub struct Draining {
    entries: Mutex<Vec<Arc<DrainEntry>>>,
}

/// One batcher's drain, shared by its handles (which register it) and its worker
/// (which publishes how much is left).
#[derive(Debug)]
pub(crate) struct DrainEntry {
    name: Arc<str>,
    queued: AtomicUsize,
    running_batches: AtomicUsize,
    finished: watch::Receiver<bool>,
}

impl DrainEntry {
    pub(crate) fn new(name: Arc<str>, finished: watch::Receiver<bool>) -> Self {
        DrainEntry {
            name,
            queued: AtomicUsize::new(0),
            running_batches: AtomicUsize::new(0),
            finished,
        }
    }

    /// Called by the worker at each turn: how many items wait in its queue and how
    /// many batches run.
    pub(crate) fn publish(&self, queued: usize, running_batches: usize) {
        self.queued.store(queued, Ordering::Relaxed);
        self.running_batches
            .store(running_batches, Ordering::Relaxed);
    }

    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The name, shared (the `metrics` feature's label).
    pub(crate) fn shared_name(&self) -> &Arc<str> {
        &self.name
    }

    /// Whether the worker has stopped (or is gone with its runtime).
    fn is_finished(&self) -> bool {
        *self.finished.borrow() || self.finished.has_changed().is_err()
    }
}

impl Draining {
    /// The registry every batcher uses.
    pub fn global() -> &'static Draining {
        static GLOBAL: OnceLock<Draining> = OnceLock::new();
        GLOBAL.get_or_init(Draining::default)
    }

    /// Waits until every registered batcher has sent its last item and its last batch
    /// has finished. Batchers dropped while this waits are waited for too.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe: dropping the future does not affect the batchers.
    pub async fn wait(&self) {
        loop {
            let unfinished = self.unfinished();
            let Some(entry) = unfinished.first() else {
                return;
            };
            let mut finished = entry.finished.clone();
            // An error means the worker is gone with its runtime: nothing to wait for.
            let _ = finished.wait_for(|finished| *finished).await;
        }
    }

    /// The batchers still draining: each one's name and how many of its items are
    /// not yet sent or in a batch that has not finished (an estimate while it runs:
    /// queued items, plus one per running batch when the batch sizes are unknown).
    #[must_use]
    pub fn pending(&self) -> Vec<(String, usize)> {
        self.unfinished()
            .iter()
            .map(|entry| {
                let queued = entry.queued();
                let running = entry.running_batches.load(Ordering::Relaxed);
                (entry.name().to_owned(), queued + running)
            })
            .collect()
    }

    /// Registers a batcher whose last handle was just dropped.
    pub(crate) fn register(&self, entry: Arc<DrainEntry>) {
        if entry.is_finished() {
            return;
        }
        let mut entries = self.lock();
        entries.retain(|entry| !entry.is_finished());
        entries.push(entry);
    }

    /// Drops finished entries and returns the others.
    fn unfinished(&self) -> Vec<Arc<DrainEntry>> {
        let mut entries = self.lock();
        entries.retain(|entry| !entry.is_finished());
        entries.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<DrainEntry>>> {
        // Only retains and pushes happen under the lock: a poisoned lock is consistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
