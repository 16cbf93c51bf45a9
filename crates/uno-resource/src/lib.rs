//! Async resources whose cleanup always runs.
//!
//! Rust has no async drop, so an async `cleanup` is easy to lose when its owner returns
//! early, panics or is cancelled. This crate gives resources an explicit async
//! lifecycle (`AsyncResource`: `initialize`, `cleanup`), wraps them so that cleanup runs
//! on every exit path (`Managed`, `using`), closes groups of resources in reverse order
//! (`ResourceStack`, Python's `AsyncExitStack`) and pools them on deadpool
//! (`ResourcePool`), so that no cleanup is lost at shutdown.
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
