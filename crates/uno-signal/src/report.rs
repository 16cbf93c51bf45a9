//! What [`Shutdown::run`](crate::Shutdown::run) reports.

use std::fmt;

use crate::{Failure, Signal};

/// Why a [`Shutdown`](crate::Shutdown) began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShutdownReason {
    /// One of the installed signals arrived.
    Signal(Signal),
    /// [`Shutdown::trigger`](crate::Shutdown::trigger) was called.
    Triggered,
}

impl fmt::Display for ShutdownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShutdownReason::Signal(signal) => write!(f, "{signal}"),
            ShutdownReason::Triggered => f.write_str("trigger()"),
        }
    }
}

/// What happened to the work of a [`Shutdown`](crate::Shutdown), returned by
/// [`Shutdown::run`](crate::Shutdown::run).
///
/// Work appears in exactly one list: [`finished`](ShutdownReport::finished),
/// [`failed`](ShutdownReport::failed) or [`aborted`](ShutdownReport::aborted).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_signal::{Shutdown, ShutdownReason};
///
/// #[tokio::main(flavor = "current_thread", start_paused = true)]
/// async fn main() -> Result<(), uno_signal::SignalError> {
///     let shutdown = Shutdown::builder()
///         .signals([])
///         .grace_period(Duration::from_secs(5))
///         .install()?;
///     let token = shutdown.token();
///     shutdown.spawn("polite", async move { token.cancelled().await })?;
///     shutdown.spawn("stubborn", std::future::pending::<()>())?;
///
///     shutdown.trigger();
///     let report = shutdown.run().await;
///     assert_eq!(report.reason(), Some(ShutdownReason::Triggered));
///     assert_eq!(report.finished(), ["polite"]);
///     assert_eq!(report.aborted(), ["stubborn"]);
///     assert!(!report.is_clean());
///     Ok(())
/// }
/// ```
#[derive(Debug, Default)]
pub struct ShutdownReport {
    pub(crate) reason: Option<ShutdownReason>,
    pub(crate) finished: Vec<String>,
    pub(crate) failed: Vec<(String, Failure)>,
    pub(crate) aborted: Vec<String>,
}

impl ShutdownReport {
    /// Why the shutdown began, or `None` if all work finished before any shutdown.
    #[must_use]
    pub fn reason(&self) -> Option<ShutdownReason> {
        self.reason
    }

    /// Names of the work that completed successfully, in completion order.
    #[must_use]
    pub fn finished(&self) -> &[String] {
        &self.finished
    }

    /// Names of the work that returned an error or panicked, with what happened, in
    /// completion order.
    #[must_use]
    pub fn failed(&self) -> &[(String, Failure)] {
        &self.failed
    }

    /// Names of the work still running when the grace period ran out, which was then
    /// aborted, in the order it was spawned.
    #[must_use]
    pub fn aborted(&self) -> &[String] {
        &self.aborted
    }

    /// Whether every piece of work finished successfully.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.aborted.is_empty()
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Some(reason) => write!(f, "shut down after {reason}")?,
            None => f.write_str("all work finished without a shutdown")?,
        }
        write!(f, ": {} finished", self.finished.len())?;
        if !self.failed.is_empty() {
            f.write_str(", failed: ")?;
            for (position, (name, failure)) in self.failed.iter().enumerate() {
                let separator = if position == 0 { "" } else { "; " };
                write!(f, "{separator}{name} {failure}")?;
            }
        }
        if !self.aborted.is_empty() {
            write!(
                f,
                ", aborted after the grace period: {}",
                self.aborted.join(", ")
            )?;
        }
        Ok(())
    }
}
