//! The crate's error type and the description of a failed handler or task.

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;

use crate::Signal;

/// An error that a handler or a piece of shutdown work returned, boxed.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong in uno-signal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// The operating system refused to install a handler for the signal.
    #[error(
        "could not listen for {signal}: {source}; check that nothing else in the process \
         forbids handling this signal"
    )]
    Register {
        /// The signal that could not be registered.
        signal: Signal,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The signal does not exist on this platform.
    #[error("{signal} cannot be handled on this platform; only Signal::Interrupt (Ctrl-C) can")]
    Unsupported {
        /// The signal that was asked for.
        signal: Signal,
    },
    /// Work was spawned into a [`Shutdown`](crate::Shutdown) that is already shutting down.
    #[error(
        "cannot spawn {name:?}: the shutdown has already begun; start work before \
         shutting down, or check Shutdown::is_triggered first"
    )]
    ShuttingDown {
        /// The name the work was given.
        name: String,
    },
    /// A signal handler failed (returned an error or panicked) one or more times.
    #[error(
        "the {signal} handler failed {count} time(s), most recently: {}; the listener kept \
         running after each failure",
        failures.last().map_or_else(String::new, ToString::to_string)
    )]
    HandlerFailed {
        /// The signal the handler was listening for.
        signal: Signal,
        /// How many runs of the handler failed in total.
        count: u64,
        /// The most recent failures (at most 16), oldest first.
        failures: Vec<Failure>,
    },
}

/// Why a signal handler run or a piece of shutdown work did not succeed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// It returned an error.
    Error(BoxError),
    /// It panicked; the panic message, when the payload was a string.
    Panic(String),
    /// It was spawned under a deadline (`uno_deadline`), inherited it, and was cut
    /// short when it passed.
    DeadlinePassed,
}

impl Failure {
    pub(crate) fn from_panic(payload: &(dyn Any + Send)) -> Failure {
        let message = match payload.downcast_ref::<&'static str>() {
            Some(message) => (*message).to_owned(),
            None => match payload.downcast_ref::<String>() {
                Some(message) => message.clone(),
                None => "a panic with a non-string payload".to_owned(),
            },
        };
        Failure::Panic(message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Error(error) => write!(f, "returned an error: {error}"),
            Failure::Panic(message) => write!(f, "panicked: {message}"),
            Failure::DeadlinePassed => f.write_str(
                "was cut short by the deadline it inherited from the code that spawned it; give that code more time",
            ),
        }
    }
}

/// What a signal handler or a piece of shutdown work may return: `()` when it cannot
/// fail, or `Result<(), E>` for any error type `E` that converts into a [`BoxError`].
///
/// Errors are reported (see [`SignalHandle::close`](crate::SignalHandle::close) and
/// [`ShutdownReport::failed`](crate::ShutdownReport::failed)), never dropped silently.
pub trait Outcome: Send + 'static {
    /// Converts the value into `Ok(())` or the boxed error.
    ///
    /// # Errors
    ///
    /// Returns the error the handler or work returned.
    fn into_result(self) -> Result<(), BoxError>;
}

impl Outcome for () {
    fn into_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E> Outcome for Result<(), E>
where
    E: Into<BoxError> + Send + 'static,
{
    fn into_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::{Failure, SignalError};
    use crate::Signal;

    #[test]
    fn messages_are_lowercase_sentences_without_a_final_period() {
        let errors = [
            SignalError::Register {
                signal: Signal::Interrupt,
                source: std::io::Error::other("refused"),
            },
            SignalError::Unsupported {
                signal: Signal::Hangup,
            },
            SignalError::ShuttingDown {
                name: "late".to_owned(),
            },
            SignalError::HandlerFailed {
                signal: Signal::User1,
                count: 3,
                failures: vec![Failure::Panic("boom".to_owned())],
            },
        ];
        for error in errors {
            let message = error.to_string();
            let first = message.chars().next().expect("a message");
            assert!(
                !first.is_uppercase() || message.starts_with("SIG"),
                "{message}"
            );
            assert!(!message.ends_with('.'), "{message}");
        }
    }

    #[test]
    fn handler_failed_names_the_most_recent_failure() {
        let error = SignalError::HandlerFailed {
            signal: Signal::User1,
            count: 3,
            failures: vec![
                Failure::Panic("first".to_owned()),
                Failure::Error("second".into()),
            ],
        };
        assert_eq!(
            error.to_string(),
            "the SIGUSR1 handler failed 3 time(s), most recently: returned an error: second; \
             the listener kept running after each failure"
        );
    }
}
