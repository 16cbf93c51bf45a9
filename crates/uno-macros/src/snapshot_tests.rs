//! Snapshot tests of the expansions: the code each macro writes, printed as a user
//! would read it in `cargo expand`, compared with `src/snapshots/*.rs`. After a
//! deliberate change, regenerate them with `UNO_SNAPSHOTS=overwrite`.

use std::path::PathBuf;

use syn::ItemFn;

use crate::args::Arguments;

fn check(name: &str, expansion: syn::Result<proc_macro2::TokenStream>) {
    let tokens = expansion.expect("the expansion succeeds");
    let file: syn::File = syn::parse2(tokens).expect("the expansion is valid Rust");
    let actual = prettyplease::unparse(&file);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/snapshots")
        .join(format!("{name}.rs"));
    if std::env::var_os("UNO_SNAPSHOTS").is_some_and(|mode| mode == "overwrite") {
        std::fs::write(&path, &actual).expect("the snapshot is writable");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual,
        expected,
        "the expansion of {name} changed; if on purpose, run with UNO_SNAPSHOTS=overwrite and review {}",
        path.display()
    );
}

fn parts(args: &str, function: &str) -> (Arguments, ItemFn) {
    (
        syn::parse_str(args).expect("valid arguments"),
        syn::parse_str(function).expect("a valid function"),
    )
}

#[test]
fn retry_with_inline_keys_builds_one_static_policy() {
    let (args, function) = parts(
        "max_attempts = 3, backoff = exponential, initial = 100ms, max_delay = 10s, retry_if = is_transient",
        "pub async fn fetch(url: String, client: &Client) -> Result<String, Error> { client.get(&url).await }",
    );
    check("retry_inline", crate::retry::expand(args, function));
}

#[test]
fn retry_on_a_generic_method_builds_the_policy_per_call() {
    let (args, function) = parts(
        "policy = shared_policy()",
        "async fn load<T: Clone>(&self, mut key: T) -> Result<T, Error> { self.find(key).await }",
    );
    check("retry_generic_method", crate::retry::expand(args, function));
}

#[test]
fn concurrent_limited_runs_the_body_under_a_static_limiter() {
    let (args, function) = parts(
        "5",
        "async fn render(page: u32) -> String { format!(\"{page}\") }",
    );
    check(
        "limited_static",
        crate::limited::expand("concurrent_limited", args, function),
    );
}

#[test]
fn limited_with_a_shared_limiter_borrows_it() {
    let (args, function) = parts(
        "limiter = self.limiter",
        "async fn query(&self, id: u32) -> Result<Row, Error> { self.db.get(id).await }",
    );
    check(
        "limited_shared",
        crate::limited::expand("limited", args, function),
    );
}

#[test]
fn main_installs_a_shutdown_and_exits_with_its_code() {
    let (args, function) = parts(
        "flavor = \"current_thread\"",
        "async fn main(shutdown: &Shutdown) -> Result<(), Error> { serve(shutdown).await }",
    );
    check("main", crate::service_main::expand(args, function));
}
