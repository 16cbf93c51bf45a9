//! The operating-system side: turning signals into an async stream, keeping the default
//! action for signals nobody listens to any more, and the forced exit.
//!
//! Everything process-global in the crate lives below this module.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::{Registration, SignalStream, exit_on_runtime, listen};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::{Registration, SignalStream, exit_on_runtime, listen};

#[cfg(not(any(unix, windows)))]
mod unsupported;
#[cfg(not(any(unix, windows)))]
pub(crate) use unsupported::{Registration, SignalStream, exit_on_runtime, listen};
