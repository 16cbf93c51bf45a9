//! A circuit breaker for tokio (work in progress).
#![forbid(unsafe_code)]
