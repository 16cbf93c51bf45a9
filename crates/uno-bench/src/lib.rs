//! Criterion benchmarks for uno (not published).
//!
//! Every benchmark group compares uno with the raw tokio primitive and the peer crate
//! a user would otherwise pick, in the same run. Run them all with `cargo xtask bench`,
//! which also rewrites the tables in `docs/benchmarks.md`; `cargo xtask ci` only
//! compiles them.
//!
//! Naming convention, which `cargo xtask bench` relies on: a group is named
//! `<pattern>/<scenario>` and its functions are named after the implementation
//! (`uno`, `tokio`, `joinset`, `backon`, ...); ratios in the tables are uno's median
//! divided by each other function's median.
