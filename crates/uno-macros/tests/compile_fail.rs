//! Misuse of the macros is a compile error that points at the offending tokens and
//! says the fix. The expected messages are checked in under `tests/ui/*.stderr`;
//! after a deliberate change, regenerate them with `TRYBUILD=overwrite`.

#[test]
fn misuse_is_a_compile_error_that_says_the_fix() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}

/// A `#[uno::main]` that returns normally builds, runs and exits with code 0.
#[test]
fn a_main_that_succeeds_exits_cleanly() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/main/*.rs");
}
