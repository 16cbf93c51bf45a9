//! The synchronisation types of the adaptive limiter's accounting: std's, or loom's
//! under `--cfg uno_loom`, where `tests/loom.rs` explores every interleaving of them (the
//! shim tokio-util uses). tokio's semaphore stays tokio's: loom sees its calls as
//! single steps, which they are (tokio checks its own with loom).

#[cfg(uno_loom)]
pub(crate) use loom::sync::atomic::AtomicUsize;
#[cfg(uno_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(uno_loom))]
pub(crate) use std::sync::atomic::AtomicUsize;
#[cfg(not(uno_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
