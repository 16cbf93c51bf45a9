//! Options of a [`Shutdown`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::{Drain, Shutdown, Signal, SignalError};

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

/// What [`ShutdownReport::exit_code`](crate::ShutdownReport::exit_code) gives after a
/// shutdown that a signal began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SignalExit {
    /// 128 plus the signal's number (130 after `SIGINT`, 143 after `SIGTERM`), what a
    /// shell reports for a process the signal ended. The default.
    #[default]
    Conventional,
    /// 0 after a clean drain (1 otherwise): for supervisors that treat any non-zero
    /// exit as a crash, even after the `SIGTERM` they sent.
    Success,
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
#[must_use = "a ShutdownBuilder does nothing until install() is called"]
pub struct ShutdownBuilder {
    pub(crate) signals: Vec<Signal>,
    pub(crate) grace_period: Duration,
    pub(crate) force_exit: ForceExit,
    pub(crate) signal_exit: SignalExit,
    pub(crate) drains: Vec<Arc<dyn Drain>>,
}

impl Default for ShutdownBuilder {
    fn default() -> Self {
        let drains: Vec<Arc<dyn Drain>> = vec![
            #[cfg(feature = "resource")]
            Arc::new(crate::drain::ResourceCleanups),
            #[cfg(feature = "batch")]
            Arc::new(crate::drain::BatchDrains),
        ];
        ShutdownBuilder {
            signals: vec![Signal::Interrupt, Signal::Terminate],
            grace_period: DEFAULT_GRACE_PERIOD,
            force_exit: ForceExit::Conventional,
            signal_exit: SignalExit::Conventional,
            drains,
        }
    }
}

impl fmt::Debug for ShutdownBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownBuilder")
            .field("signals", &self.signals)
            .field("grace_period", &self.grace_period)
            .field("force_exit", &self.force_exit)
            .field("signal_exit", &self.signal_exit)
            .field(
                "drains",
                &self
                    .drains
                    .iter()
                    .map(|drain| drain.name())
                    .collect::<Vec<_>>(),
            )
            .finish()
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
    /// at once. A grace period too long for tokio's clock (such as `Duration::MAX`)
    /// is endless: `run` waits for the work and the drains however long they take.
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

    /// What [`ShutdownReport::exit_code`](crate::ShutdownReport::exit_code) gives after
    /// a shutdown that a signal began. Default: [`SignalExit::Conventional`].
    pub fn signal_exit(mut self, signal_exit: SignalExit) -> Self {
        self.signal_exit = signal_exit;
        self
    }

    /// Adds something for [`run`](Shutdown::run) to wait for once the work has
    /// stopped, within the same grace period, and to report if it does not finish.
    ///
    /// With the `resource` feature, uno-resource's global cleanup tracker is always a
    /// drain; with `batch`, so are uno-batch's dropped and closed batchers.
    pub fn drain(mut self, drain: impl Drain) -> Self {
        self.drains.push(Arc::new(drain));
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
