//! Signal handlers and graceful shutdown that a second Ctrl-C can always cut short.
//!
//! `on_signal` runs an async handler each time a signal arrives (the seed's
//! `setup_signal_handler`). `Shutdown` turns the first SIGINT or SIGTERM into a
//! cancellation that running work can watch, gives that work a grace period, reports
//! what did not finish, and lets a second signal force the process out with the
//! conventional exit code.
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
