//! Windows: tokio's Ctrl-C listener; the forced exit happens on the runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::signal::windows::{CtrlC, ctrl_c};

use crate::{ForceExit, Signal, SignalError};

/// An async stream of Ctrl-C presses.
#[derive(Debug)]
pub(crate) struct SignalStream {
    /// `None` when the listener asked for no signal at all.
    ctrl_c: Option<CtrlC>,
}

impl SignalStream {
    /// The next Ctrl-C; `None` only if the listener was closed.
    pub(crate) async fn recv(&mut self) -> Option<Signal> {
        match &mut self.ctrl_c {
            Some(ctrl_c) => ctrl_c.recv().await.map(|()| Signal::Interrupt),
            None => std::future::pending().await,
        }
    }
}

/// Ends the process because of a Ctrl-C that arrived while shutting down. Windows has
/// no signal handler to do it in, so the shutdown listener does it on the runtime.
pub(crate) fn exit_on_runtime(signal: Signal, force_exit: ForceExit) {
    let code = match force_exit {
        ForceExit::Never => return,
        ForceExit::Conventional => signal.conventional_exit_code(),
        ForceExit::Code(code) => code,
    };
    std::process::exit(i32::from(code));
}

/// Nothing process-global to release on Windows: tokio owns the console handler.
#[derive(Debug)]
pub(crate) struct Registration;

impl Registration {
    pub(crate) fn arm(armed: &AtomicBool) {
        armed.store(true, Ordering::SeqCst);
    }

    /// See [`exit_on_runtime`]: Windows exits from the shutdown listener instead.
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
    if let Some(&signal) = signals.iter().find(|&&signal| signal != Signal::Interrupt) {
        return Err(SignalError::Unsupported { signal });
    }
    if signals.is_empty() {
        return Ok((SignalStream { ctrl_c: None }, Registration));
    }
    let ctrl_c = ctrl_c().map_err(|source| SignalError::Register {
        signal: Signal::Interrupt,
        source,
    })?;
    Ok((
        SignalStream {
            ctrl_c: Some(ctrl_c),
        },
        Registration,
    ))
}
