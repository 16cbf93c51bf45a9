//! Example programs run as child processes by tests: where the test's profile keeps
//! them, and building them when the test run did not.
//!
//! `cargo test` and `cargo nextest run` build a package's examples together with its
//! tests, so usually they are there and newer than every source file. If not (a
//! filtered build, say), the set's examples are built once per test process with
//! `cargo build`, with the test's profile, features and target directory, so that the
//! build reuses the library already compiled for the tests. Whether they are current
//! is judged by modification times, not by asking cargo, which would wait for the
//! build lock that parallel test processes and other builds hold.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

/// A package's example programs, as a test that runs them describes them.
///
/// ```no_run
/// use std::path::Path;
/// use uno_testkit::ExampleSet;
///
/// const EXAMPLES: ExampleSet<'static> = ExampleSet {
///     package: "uno-demo",
///     manifest_dir: env!("CARGO_MANIFEST_DIR"),
///     source_dirs: &["src", "examples/orders"],
///     examples: &["orders"],
///     features: &[],
/// };
/// let orders: std::path::PathBuf = EXAMPLES.path("orders");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ExampleSet<'a> {
    /// The package the examples belong to (`cargo build -p`).
    pub package: &'a str,
    /// The package's directory: `env!("CARGO_MANIFEST_DIR")` in its tests.
    pub manifest_dir: &'a str,
    /// Directories under `manifest_dir` whose files the examples are built from; an
    /// example older than any of them is rebuilt.
    pub source_dirs: &'a [&'a str],
    /// Every example of the set: all are checked, and built together.
    pub examples: &'a [&'a str],
    /// The features to build them with, as the test itself was built.
    pub features: &'a [&'a str],
}

impl ExampleSet<'_> {
    /// The path of the example `name`, after building the set once per process if one
    /// of its examples is missing or older than its sources.
    ///
    /// # Panics
    ///
    /// When the test binary is not in `<target>/<profile>/deps/`, or the build fails.
    #[must_use]
    pub fn path(&self, name: &str) -> PathBuf {
        static BUILT: Mutex<Option<HashSet<String>>> = Mutex::new(None);
        let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
        if built
            .get_or_insert_with(HashSet::new)
            // Per set, not per package: two sets of one package are checked apart.
            .insert(format!("{}:{}", self.package, self.examples.join(",")))
            && !self.current()
        {
            self.build();
        }
        examples_dir().join(name)
    }

    /// Whether every example exists and is newer than every file of its sources.
    fn current(&self) -> bool {
        let manifest_dir = Path::new(self.manifest_dir);
        let mut newest_source = SystemTime::UNIX_EPOCH;
        for dir in self.source_dirs {
            let Ok(entries) = std::fs::read_dir(manifest_dir.join(dir)) else {
                return false;
            };
            for entry in entries.flatten() {
                if let Ok(modified) = entry.metadata().and_then(|meta| meta.modified()) {
                    newest_source = newest_source.max(modified);
                }
            }
        }
        self.examples.iter().all(|name| {
            std::fs::metadata(examples_dir().join(name))
                .and_then(|meta| meta.modified())
                .is_ok_and(|built| built > newest_source)
        })
    }

    fn build(&self) {
        let examples = examples_dir();
        let profile_dir = examples.parent().expect("the examples dir has a parent");
        let target_dir = profile_dir.parent().expect("the profile dir has a parent");
        let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "-p", self.package, "--profile", profile]);
        for example in self.examples {
            build.args(["--example", example]);
        }
        if !self.features.is_empty() {
            build.args(["--features", &self.features.join(",")]);
        }
        let status = build
            .env("CARGO_TARGET_DIR", target_dir)
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "building the examples of {} failed: {status}",
            self.package
        );
    }
}

/// The directory the examples are built into: the test binary lives in
/// `<target>/<profile>/deps/`, the examples in `<target>/<profile>/examples/`.
fn examples_dir() -> PathBuf {
    let test_binary = std::env::current_exe().expect("the test binary has a path");
    test_binary
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in <target>/<profile>/deps")
        .join("examples")
}
