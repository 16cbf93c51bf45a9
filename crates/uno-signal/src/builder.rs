//! Options of a [`Shutdown`].

use std::time::Duration;

use crate::{Shutdown, Signal, SignalError};

/// The grace period when none is set: five seconds, enough for most cleanups and
/// clearly shorter than the time after which supervisors follow `SIGTERM` with
/// `SIGKILL` (10 seconds for `docker stop`, 30 for Kubernetes), so the shutdown ends
/// on its own terms and its report still gets written.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(5);

/// What a signal that arrives once a [`Shutdown`] has begun does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ForceExit {
    /// Exit at once with the signal's conventional code, 128 plus its number: 130 for
    /// `SIGINT`, 143 for `SIGTERM`. The default.
    #[default]
    Conventional,
    /// Exit at once with this code, whatever the signal.
    Code(u8),
    /// Never force: later signals are ignored and only the grace period bounds the
    /// shutdown.
    Never,
}

/// Options for a [`Shutdown`], made by [`Shutdown::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_signal::{ForceExit, Shutdown, Signal};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), uno_signal::SignalError> {
/// let shutdown = Shutdown::builder()
///     .signals([Signal::Interrupt, Signal::Terminate])
///     .grace_period(Duration::from_secs(20))
///     .force_exit(ForceExit::Conventional)
///     .install()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a ShutdownBuilder does nothing until install() is called"]
pub struct ShutdownBuilder {
    pub(crate) signals: Vec<Signal>,
    pub(crate) grace_period: Duration,
    pub(crate) force_exit: ForceExit,
}

impl Default for ShutdownBuilder {
    fn default() -> Self {
        ShutdownBuilder {
            signals: vec![Signal::Interrupt, Signal::Terminate],
            grace_period: DEFAULT_GRACE_PERIOD,
            force_exit: ForceExit::Conventional,
        }
    }
}

impl ShutdownBuilder {
    /// The signals that begin the shutdown. Default: `SIGINT` and `SIGTERM`.
    ///
    /// Duplicates are ignored. An empty list gives a shutdown that only
    /// [`Shutdown::trigger`] begins, which is handy in tests.
    pub fn signals(mut self, signals: impl IntoIterator<Item = Signal>) -> Self {
        let mut signals: Vec<Signal> = signals.into_iter().collect();
        signals.sort_unstable();
        signals.dedup();
        self.signals = signals;
        self
    }

    /// How long work may take to finish once the shutdown has begun, counted from the
    /// moment it began; then the rest is aborted. Default: [`DEFAULT_GRACE_PERIOD`].
    ///
    /// Zero is allowed: work that has not finished when the shutdown begins is aborted
    /// at once.
    pub fn grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }

    /// What a signal does once the shutdown has begun. Default:
    /// [`ForceExit::Conventional`].
    pub fn force_exit(mut self, force_exit: ForceExit) -> Self {
        self.force_exit = force_exit;
        self
    }

    /// Installs the signal listeners and returns the [`Shutdown`].
    ///
    /// # Errors
    ///
    /// [`SignalError::Unsupported`] for a signal the platform does not have,
    /// [`SignalError::Register`] if the operating system refuses a handler.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime, or (on Unix, with signals to
    /// listen for) in a runtime built without `enable_io`.
    pub fn install(self) -> Result<Shutdown, SignalError> {
        Shutdown::from_builder(&self)
    }
}
