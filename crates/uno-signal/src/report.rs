//! What [`Shutdown::run`](crate::Shutdown::run) reports.

use std::fmt;

use crate::{Failure, Signal, SignalExit, UnfinishedDrain};

/// Why a [`Shutdown`](crate::Shutdown) began.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShutdownReason {
    /// One of the installed signals arrived.
    Signal(Signal),
    /// [`Shutdown::trigger`](crate::Shutdown::trigger) was called.
    Triggered,
    /// Work started with [`Shutdown::spawn`](crate::Shutdown::spawn) returned an error
    /// or panicked, and its [`OnFailure`](crate::OnFailure) said to shut down.
    Failed {
        /// The name the work was spawned under.
        name: String,
    },
}

impl fmt::Display for ShutdownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShutdownReason::Signal(signal) => write!(f, "{signal}"),
            ShutdownReason::Triggered => f.write_str("trigger()"),
            ShutdownReason::Failed { name } => write!(f, "the failure of {name:?}"),
        }
    }
}

/// What happened to the work of a [`Shutdown`](crate::Shutdown), returned by
/// [`Shutdown::run`](crate::Shutdown::run).
///
/// Work appears in exactly one list: [`finished`](ShutdownReport::finished),
/// [`failed`](ShutdownReport::failed) or [`aborted`](ShutdownReport::aborted). Drains
/// (background cleanups, batchers writing their last items) that did not finish within
/// the grace period are in [`unfinished_drains`](ShutdownReport::unfinished_drains).
/// End `main` with [`exit_code`](ShutdownReport::exit_code).
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
    pub(crate) unfinished_drains: Vec<UnfinishedDrain>,
    pub(crate) signal_exit: SignalExit,
}

/// The exit code for a shutdown that lost or failed something: the conventional
/// "general error".
const FAILURE_EXIT_CODE: u8 = 1;

impl ShutdownReport {
    /// Why the shutdown began, or `None` if all work finished before any shutdown.
    #[must_use]
    pub fn reason(&self) -> Option<ShutdownReason> {
        self.reason.clone()
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

    /// The drains (background cleanups, batchers writing their last items) that had
    /// not finished when the grace period ran out, with what was left of each.
    #[must_use]
    pub fn unfinished_drains(&self) -> &[UnfinishedDrain] {
        &self.unfinished_drains
    }

    /// Whether every piece of work finished successfully and every drain finished.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.aborted.is_empty() && self.unfinished_drains.is_empty()
    }

    /// The process exit code this shutdown calls for, so that `main` can end with
    /// `std::process::exit(report.exit_code())`:
    ///
    /// | why it shut down | clean | not clean |
    /// |---|---|---|
    /// | a signal, [`SignalExit::Conventional`] (default) | 128 + the signal's number: 130 after `SIGINT`, 143 after `SIGTERM` | the same |
    /// | a signal, [`SignalExit::Success`] | 0 | 1 |
    /// | [`trigger`](crate::Shutdown::trigger), or all work finished first | 0 | 1 |
    /// | [`ShutdownReason::Failed`] | 1 | 1 |
    ///
    /// "Not clean" means some work failed or was aborted, or a drain did not finish
    /// (see [`is_clean`](Self::is_clean)). The signal codes are what a shell reports
    /// for a process the signal ended, which is what supervisors expect of a service
    /// that stopped because it was asked to.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), uno_signal::SignalError> {
    /// let shutdown = uno_signal::Shutdown::builder().signals([]).install()?;
    /// shutdown.trigger();
    /// let report = shutdown.run().await;
    /// assert_eq!(report.exit_code(), 0);
    /// // At the end of a real main: std::process::exit(report.exit_code());
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        let clean = if self.is_clean() {
            0
        } else {
            FAILURE_EXIT_CODE
        };
        let code = match (&self.reason, self.signal_exit) {
            (Some(ShutdownReason::Signal(signal)), SignalExit::Conventional) => {
                signal.conventional_exit_code()
            }
            (Some(ShutdownReason::Failed { .. }), _) => FAILURE_EXIT_CODE,
            _ => clean,
        };
        i32::from(code)
    }
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
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
        if !self.unfinished_drains.is_empty() {
            f.write_str(", not drained within the grace period: ")?;
            for (position, drain) in self.unfinished_drains.iter().enumerate() {
                let separator = if position == 0 { "" } else { "; " };
                write!(f, "{separator}{drain}")?;
            }
        }
        Ok(())
    }
}
