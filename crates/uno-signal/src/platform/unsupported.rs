//! Platforms without signals: every signal is unsupported.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{ForceExit, Signal, SignalError};

#[derive(Debug)]
pub(crate) struct SignalStream;

impl SignalStream {
    pub(crate) async fn recv(&mut self) -> Option<Signal> {
        std::future::pending().await
    }
}

pub(crate) fn exit_on_runtime(_signal: Signal, _force_exit: ForceExit) {}

#[derive(Debug)]
pub(crate) struct Registration;

impl Registration {
    pub(crate) fn arm(armed: &AtomicBool) {
        armed.store(true, Ordering::SeqCst);
    }

    pub(crate) fn add_forced_exit(
        &mut self,
        _signals: &[Signal],
        _force_exit: ForceExit,
        _armed: &Arc<AtomicBool>,
    ) -> Result<(), SignalError> {
        Ok(())
    }
}

pub(crate) fn listen(
    signals: &[Signal],
    forced_exit: Option<(ForceExit, &Arc<AtomicBool>)>,
) -> Result<(SignalStream, Registration), SignalError> {
    if let Some((force_exit, armed)) = forced_exit {
        Registration.add_forced_exit(signals, force_exit, armed)?;
    }
    match signals.first() {
        Some(&signal) => Err(SignalError::Unsupported { signal }),
        None => Ok((SignalStream, Registration)),
    }
}
