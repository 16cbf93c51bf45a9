//! `Drain`: what the exit path waits for once the registered work has stopped, and
//! what it reports when that did not finish in time.
//!
//! A [`Shutdown`](crate::Shutdown) waits for its own work; cleanups and buffers that
//! other parts of the program left running in the background (a dropped resource's
//! cleanup, a dropped batcher's last items) are drains. `Shutdown::run` awaits every
//! drain after the work, within the same grace period, and lists what is left of each
//! one that did not finish in the report, so nothing accepted is lost silently.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// Something the exit path waits for after the registered work stopped: background
/// cleanups, buffered items still being written.
///
/// With the `resource` feature, uno-resource's global
/// [`CleanupTracker`](https://docs.rs/uno-resource) is a drain of every `Shutdown`;
/// with the `batch` feature, so is every dropped or closed uno-batch batcher that is
/// still writing its last items. Add your own with
/// [`ShutdownBuilder::drain`](crate::ShutdownBuilder::drain).
///
/// # Examples
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use uno_signal::{Drain, Shutdown};
///
/// /// Spans buffered for an exporter that flushes in the background.
/// struct Spans(Arc<AtomicUsize>);
///
/// impl Drain for Spans {
///     fn name(&self) -> String {
///         "span exporter".to_owned()
///     }
///     fn wait(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
///         Box::pin(async {
///             while self.0.load(Ordering::Acquire) > 0 {
///                 tokio::task::yield_now().await;
///             }
///         })
///     }
///     fn remaining(&self) -> Vec<String> {
///         match self.0.load(Ordering::Acquire) {
///             0 => Vec::new(),
///             spans => vec![format!("{spans} spans not exported")],
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), uno_signal::SignalError> {
/// let shutdown = Shutdown::builder()
///     .signals([])
///     .drain(Spans(Arc::new(AtomicUsize::new(0))))
///     .install()?;
/// let report = shutdown.run().await; // waits for the exporter too
/// assert!(report.unfinished_drains().is_empty());
/// # Ok(())
/// # }
/// ```
pub trait Drain: Send + Sync + 'static {
    /// What the report calls this drain.
    fn name(&self) -> String;

    /// Resolves once nothing is left to drain. Dropping the future must not affect
    /// the drain itself (it is dropped when the grace period runs out).
    fn wait(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;

    /// What is left, one entry per unfinished piece (such as "35 items queued in
    /// batcher orders"); empty once drained.
    fn remaining(&self) -> Vec<String>;
}

/// A drain that had not finished when the grace period ran out, in a
/// [`ShutdownReport`](crate::ShutdownReport).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfinishedDrain {
    pub(crate) name: String,
    pub(crate) remaining: Vec<String>,
}

impl UnfinishedDrain {
    /// The drain's [`name`](Drain::name).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What was left of it, as its [`remaining`](Drain::remaining) said.
    #[must_use]
    pub fn remaining(&self) -> &[String] {
        &self.remaining
    }
}

impl fmt::Display for UnfinishedDrain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.remaining.join("; "))
    }
}

/// uno-resource's global tracker: cleanups of resources dropped without `close`.
#[cfg(feature = "resource")]
pub(crate) struct ResourceCleanups;

#[cfg(feature = "resource")]
impl Drain for ResourceCleanups {
    fn name(&self) -> String {
        "resource cleanups".to_owned()
    }

    fn wait(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(uno_resource::CleanupTracker::global().wait())
    }

    fn remaining(&self) -> Vec<String> {
        uno_resource::CleanupTracker::global()
            .pending_cleanups()
            .into_iter()
            .map(|resource| format!("cleanup of {resource}"))
            .collect()
    }
}

/// uno-batch's dropped and closed batchers that are still writing their last items.
#[cfg(feature = "batch")]
pub(crate) struct BatchDrains;

#[cfg(feature = "batch")]
impl Drain for BatchDrains {
    fn name(&self) -> String {
        "batchers".to_owned()
    }

    fn wait(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(uno_batch::Draining::global().wait())
    }

    fn remaining(&self) -> Vec<String> {
        uno_batch::Draining::global()
            .pending()
            .into_iter()
            .map(|(batcher, items)| format!("{items} items of batcher {batcher}"))
            .collect()
    }
}
