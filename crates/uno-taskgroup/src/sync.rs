//! The lock and flag of the abort-handle hand-off (`shared/handoff.rs`): std's, or
//! loom's under `--cfg uno_loom`, where that file's models explore every interleaving
//! of them (the shim tokio-util uses).

#[cfg(uno_loom)]
pub(crate) use loom::sync::atomic::AtomicBool;
#[cfg(uno_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(uno_loom))]
pub(crate) use std::sync::atomic::AtomicBool;
#[cfg(not(uno_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
