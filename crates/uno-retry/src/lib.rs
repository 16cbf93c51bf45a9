//! Retry with backoff and jitter that is exact, observable and deterministic in tests.
//!
//! A `RetryPolicy` says how often to try (`max_attempts` counts every call, the first
//! included), how long to wait between attempts (constant, linear, exponential,
//! fibonacci or decorrelated-jitter backoff, capped by `max_delay`), what to retry
//! (error and result predicates) and when to give up (`max_elapsed`). Delays follow
//! tokio's clock, so tests with `tokio::time::pause` see exact sequences, and jitter
//! draws from a seedable RNG.
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
