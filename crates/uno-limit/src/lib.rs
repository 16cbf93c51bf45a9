//! Concurrency limits for tokio: fixed, per key, and adaptive.
//!
//! A `Limiter` bounds how much work runs at once (the seed's
//! `@concurrent_limited(max_concurrent=5)`), fairly and cancel-safely, with a choice of
//! waiting, waiting up to a timeout or rejecting at once when full. `KeyedLimiter`
//! gives each key (a tenant, a host) its own limit, and `AdaptiveLimiter` moves the
//! limit with observed latency and errors, as Netflix's concurrency-limits does.
//!
//! This crate is part of [uno](https://docs.rs/uno); it can be used on its own or
//! through the umbrella crate's feature of the same name.
