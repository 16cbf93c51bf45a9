//! Helpers shared by the behaviour tests.
#![allow(
    dead_code,
    reason = "each test file uses a different part of the helpers"
)]

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{Semaphore, watch};

/// An error type that is deliberately not `Clone`, to show the batcher does not need it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OpError(pub(crate) String);

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op error: {}", self.0)
    }
}

impl std::error::Error for OpError {}

/// The output every item should get back.
pub(crate) fn expected(item: u64) -> u64 {
    item * 10 + 1
}

/// Records every batch the operation was given, and lets tests hold batches at a gate.
#[derive(Clone, Default)]
pub(crate) struct Recorder {
    batches: Arc<Mutex<Vec<Vec<u64>>>>,
}

impl Recorder {
    pub(crate) fn batches(&self) -> Vec<Vec<u64>> {
        self.batches.lock().unwrap().clone()
    }

    fn record(&self, items: &[u64]) {
        self.batches.lock().unwrap().push(items.to_vec());
    }

    /// An operation that records each batch and maps every item to `expected(item)`.
    pub(crate) fn op(
        &self,
    ) -> impl Fn(Vec<u64>) -> BoxFuture<'static, Result<Vec<u64>, OpError>> + Send + Sync + 'static
    {
        let recorder = self.clone();
        move |items: Vec<u64>| {
            recorder.record(&items);
            Box::pin(async move { Ok(items.into_iter().map(expected).collect()) })
        }
    }
}

/// An operation that records each batch, reports that it started, and then waits at a
/// gate the test opens (batches beyond the last gate do not wait): gate `n` holds the `n`th batch to start (counting from 0), or,
/// with [`Gated::by_first_item`], the batch whose first item divided by the divisor is
/// `n`.
pub(crate) struct Gated {
    pub(crate) recorder: Recorder,
    divisor: Option<u64>,
    gates: Arc<Vec<Semaphore>>,
    started: watch::Sender<usize>,
    running: Arc<Mutex<(usize, usize)>>,
}

impl Gated {
    pub(crate) fn new(gates: usize) -> Self {
        Self {
            recorder: Recorder::default(),
            divisor: None,
            gates: Arc::new((0..gates).map(|_| Semaphore::new(0)).collect()),
            started: watch::channel(0).0,
            running: Arc::new(Mutex::new((0, 0))),
        }
    }

    /// Gates batches by their first item rather than by the order they start in, for
    /// runtimes where that order is not fixed.
    pub(crate) fn by_first_item(gates: usize, divisor: u64) -> Self {
        Self {
            divisor: Some(divisor),
            ..Self::new(gates)
        }
    }

    pub(crate) fn op(
        &self,
    ) -> impl Fn(Vec<u64>) -> BoxFuture<'static, Result<Vec<u64>, OpError>> + Send + Sync + 'static
    {
        let recorder = self.recorder.clone();
        let divisor = self.divisor;
        let gates = Arc::clone(&self.gates);
        let started = self.started.clone();
        let running = Arc::clone(&self.running);
        move |items: Vec<u64>| {
            recorder.record(&items);
            let gates = Arc::clone(&gates);
            let started = started.clone();
            let running = Arc::clone(&running);
            Box::pin(async move {
                // Counted as running before it is counted as started, so that a test
                // that waits for `n` started batches sees all `n` in the peak.
                {
                    let mut running = running.lock().unwrap();
                    running.0 += 1;
                    running.1 = running.1.max(running.0);
                }
                let mut index = 0;
                started.send_modify(|count| {
                    index = *count;
                    *count += 1;
                });
                if let Some(divisor) = divisor {
                    index = usize::try_from(items[0] / divisor).unwrap();
                }
                // Batches beyond the last gate run through.
                let _permit = match gates.get(index) {
                    Some(gate) => Some(gate.acquire().await.unwrap()),
                    None => None,
                };
                running.lock().unwrap().0 -= 1;
                Ok(items.into_iter().map(expected).collect())
            })
        }
    }

    /// Waits until `count` batches have started.
    pub(crate) async fn wait_started(&self, count: usize) {
        let mut started = self.started.subscribe();
        started.wait_for(|started| *started >= count).await.unwrap();
    }

    pub(crate) fn started(&self) -> usize {
        *self.started.borrow()
    }

    /// Lets the `index`th batch finish.
    pub(crate) fn open(&self, index: usize) {
        self.gates[index].add_permits(1);
    }

    /// The most batches that ran at once.
    pub(crate) fn peak_running(&self) -> usize {
        self.running.lock().unwrap().1
    }
}

/// With time paused on a current-thread runtime, this returns only after every other
/// task has gone idle (tokio advances the clock only then), so what could happen has
/// happened. It synchronises on idleness, not on a duration.
pub(crate) async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// A wait long enough that only a size trigger, `flush` or `close` can send a batch.
pub(crate) const FOREVER: Duration = Duration::from_secs(3600);
