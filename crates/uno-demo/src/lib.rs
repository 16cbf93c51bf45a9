//! The uno demo lives in `examples/orders/`; run it from the workspace root with
//! `cargo run --release --example orders`. This crate is unpublished: it exists so the
//! demo can depend on every uno feature and a database driver without putting them in
//! the umbrella crate's dependencies, and so its end-to-end tests (`tests/demo.rs`)
//! have a home.
