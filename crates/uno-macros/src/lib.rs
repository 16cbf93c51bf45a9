//! Attribute macros for uno: the seed's decorators, `@retry` and
//! `@concurrent_limited`, as `#[uno::retry(..)]` and `#[uno::concurrent_limited(..)]`,
//! and `#[uno::main]`, a tokio main that exits through a `Shutdown` report.
//!
//! **Use these through the `uno` crate** (feature `macros`, on by default), not by
//! depending on `uno-macros` directly: the code they generate names
//! `::uno::retry::RetryPolicy` and `::uno::limit::Limiter`, so it compiles wherever
//! `uno` is a dependency, and only there (`#[uno::main]` also names
//! `::uno::signal` and `::tokio::runtime`).
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//!
//! static CALLS: AtomicU32 = AtomicU32::new(0);
//!
//! #[uno::retry(max_attempts = 3, backoff = exponential, initial = 100ms, max_delay = 10s)]
//! async fn fetch(id: u32) -> Result<u32, std::io::Error> {
//!     match CALLS.fetch_add(1, Ordering::SeqCst) {
//!         0 => Err(std::io::ErrorKind::ConnectionRefused.into()),
//!         _ => Ok(id * 2),
//!     }
//! }
//!
//! #[uno::concurrent_limited(5)]
//! async fn render(page: u32) -> String {
//!     format!("page {page}")
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), std::io::Error> {
//! assert_eq!(fetch(21).await?, 42);
//! assert_eq!(CALLS.load(Ordering::SeqCst), 2);
//! assert_eq!(render(1).await, "page 1");
//! # Ok(())
//! # }
//! ```
//!
//! | Python uno | Rust uno |
//! | --- | --- |
//! | `@retry(max_attempts=3, backoff_strategy=BackoffStrategy.EXPONENTIAL, max_delay=10.0)` | `#[uno::retry(max_attempts = 3, backoff = exponential, max_delay = 10s)]` |
//! | `@retry(retry_exceptions=[ConnectionError])` | `#[uno::retry(retry_if = is_connection_error)]` |
//! | `@concurrent_limited(max_concurrent=5)` | `#[uno::concurrent_limited(5)]`, `#[uno::limited(max_concurrent = 5)]` |
//!
//! Both macros keep the function's signature: a caller cannot tell a decorated
//! function from a hand-written one. Misuse is a compile error that names the
//! offending tokens and the fix: a function that is not `async`, an unknown or
//! repeated key, a bad duration, `max_attempts = 0`, a limit of 0, `retry` on a
//! function that does not return `Result`, and (for `retry`) an owned argument that
//! is not `Clone`.
#![forbid(unsafe_code)]

mod args;
mod body;
mod duration;
mod limited;
mod retry;
mod service_main;
#[cfg(test)]
mod snapshot_tests;

use proc_macro::TokenStream;
use syn::{ItemFn, parse_macro_input};

use crate::args::Arguments;

/// Retries an `async fn` that returns `Result`, as the seed's `@retry` does.
///
/// Each attempt runs the function's body afresh, under a
/// [`RetryPolicy`](https://docs.rs/uno/latest/uno/retry/struct.RetryPolicy.html)
/// built once, on the first call (a `static LazyLock` inside the function). The
/// function returns the first success, or the error of the last attempt.
///
/// # Keys
///
/// | key | value | default |
/// | --- | --- | --- |
/// | `max_attempts` | number of calls in all, at least 1 (an integer expression) | `3` |
/// | `backoff` | `exponential`, `constant`, `linear`, `fibonacci` or `decorrelated` | `exponential` |
/// | `initial` | first delay (for `constant`, every delay) | `100ms` |
/// | `max_delay` | cap on any one delay | none |
/// | `max_elapsed` | give up once this much time has passed | none |
/// | `jitter` | `none`, `full` or `equal` | `none` |
/// | `retry_if` | path to a `fn(&E) -> bool`: retry only errors it accepts | every error |
/// | `policy` | an expression of type `RetryPolicy<E>`, instead of all the keys above | |
///
/// Durations are literals with a unit, `100ms`, `10s`, `1.5s` (units `ns`, `us`, `ms`,
/// `s`, `min`, `h`), or any expression of type `std::time::Duration`.
///
/// # Arguments
///
/// Every attempt gets its own arguments: owned arguments are cloned from the ones the
/// caller passed (so they must be `Clone`; a type that is not is a compile error at
/// that argument), shared references (`&T`, `&self`) are passed through. `&mut`
/// arguments, `&mut self` and `self` cannot be handed to several attempts and are
/// refused at compile time.
///
/// # Generic functions
///
/// A `static` cannot name a generic parameter, so in a generic function (one with
/// type, lifetime or const parameters), and in one whose return type names `Self`, the
/// policy is built at the start of each call instead: one builder run per call,
/// before the first attempt. Write `policy = a_function()` returning a clone of a
/// shared policy to avoid even that. For the same reason, a method in a generic
/// `impl<T>` block whose error type names `T` does not compile: build the policy per
/// call there by giving the method its own generic parameter, or use `RetryPolicy::run`.
///
/// # Examples
///
/// ```
/// use std::io;
///
/// fn is_transient(error: &io::Error) -> bool {
///     error.kind() == io::ErrorKind::ConnectionRefused
/// }
///
/// struct Client {
///     base: String,
/// }
///
/// impl Client {
///     #[uno::retry(max_attempts = 5, backoff = constant, initial = 1s, retry_if = is_transient)]
///     async fn get(&self, path: &str, tries: u32) -> io::Result<String> {
///         let _ = tries;
///         Ok(format!("{}{path}", self.base))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> io::Result<()> {
/// let client = Client { base: "https://example.com".into() };
/// assert_eq!(client.get("/a", 1).await?, "https://example.com/a");
/// # Ok(())
/// # }
/// ```
///
/// # Panics
///
/// The inline keys are checked at compile time where they are literals. A duration or
/// attempt count given as an expression is checked when the policy is built: an
/// invalid combination (such as a `max_delay` below `initial`) panics on the first
/// call, with the builder's message. With `policy = EXPR`, nothing panics here.
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    let original = proc_macro2::TokenStream::from(item.clone());
    let args = parse_macro_input!(args as Arguments);
    let function = parse_macro_input!(item as ItemFn);
    or_error(retry::expand(args, function), original)
}

/// Runs at most N executions of an `async fn` at once, as the seed's
/// `@concurrent_limited(max_concurrent=N)` does; further calls wait their turn
/// (first come, first served).
///
/// Write the limit as `#[uno::concurrent_limited(5)]` or
/// `#[uno::concurrent_limited(max_concurrent = 5)]`: the function then owns one
/// [`Limiter`](https://docs.rs/uno/latest/uno/limit/struct.Limiter.html), a `static
/// LazyLock` shared by every call (and by every instantiation of a generic function).
/// Or share a limiter between functions with `limiter = EXPR`, any expression that
/// dereferences to a `Limiter` (a `static LazyLock<Limiter>`, `self.limiter`, an
/// `Arc<Limiter>`).
///
/// The function's signature and return type are unchanged. A call that is dropped while
/// it waits gives up its place in the queue.
///
/// # Examples
///
/// ```
/// use std::sync::LazyLock;
/// use uno::limit::Limiter;
///
/// static DATABASE: LazyLock<Limiter> = LazyLock::new(|| Limiter::new(10).expect("10 > 0"));
///
/// #[uno::concurrent_limited(max_concurrent = 5)]
/// async fn resize(image: Vec<u8>) -> usize {
///     image.len()
/// }
///
/// #[uno::limited(limiter = DATABASE)]
/// async fn load(id: u32) -> Result<String, std::io::Error> {
///     Ok(format!("row {id}"))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), std::io::Error> {
/// assert_eq!(resize(vec![1, 2, 3]).await, 3);
/// assert_eq!(load(7).await?, "row 7");
/// # Ok(())
/// # }
/// ```
///
/// # Panics
///
/// The static limiter waits when full and is never closed, so it never refuses a call;
/// the expansion relies on that (`expect`). A call under a `uno::deadline` that passes
/// while it waits is dropped by that deadline, as any other waiting call is. A limiter
/// given with `limiter = EXPR` must not refuse either: if it is closed, or set to
/// reject or time out when full, a refused call panics with the limiter's error. Use
/// `Limiter::run` directly to handle refusals as values.
#[proc_macro_attribute]
pub fn concurrent_limited(args: TokenStream, item: TokenStream) -> TokenStream {
    limited_as("concurrent_limited", args, item)
}

/// An alias of [`macro@concurrent_limited`].
///
/// # Examples
///
/// ```
/// #[uno::limited(2)]
/// async fn ping() -> &'static str {
///     "pong"
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(ping().await, "pong");
/// # }
/// ```
#[proc_macro_attribute]
pub fn limited(args: TokenStream, item: TokenStream) -> TokenStream {
    limited_as("limited", args, item)
}

/// A tokio `main` that installs a
/// [`Shutdown`](https://docs.rs/uno/latest/uno/signal/struct.Shutdown.html) on SIGINT
/// and SIGTERM (Ctrl-C elsewhere) and exits through its report, the one exit path of
/// a uno service.
///
/// The function is `async`, takes nothing or `&uno::signal::Shutdown` (to spawn work
/// and read its token), and returns `()` or `Result<(), E>` with `E` convertible into
/// a boxed error. After it returns, `Shutdown::run` waits for the spawned work and
/// every drain (within the grace period); the process then exits with
/// `report.exit_code()`. If the function returns an error, it is printed, the shutdown
/// begins, and the exit code is at least 1. A report that is not clean is printed to
/// standard error.
///
/// Keys, as `tokio::main`: `flavor = "multi_thread"` (the default) or
/// `flavor = "current_thread"`, and `worker_threads = N`. The expansion names
/// `::tokio::runtime::Builder`, so the crate needs `tokio` with the `rt` (and, for the
/// default flavor, `rt-multi-thread`) feature, and `uno` with its `signal` feature
/// (on by default).
///
/// # Examples
///
/// ```no_run
/// use uno::signal::Shutdown;
///
/// #[uno::main(flavor = "current_thread")]
/// async fn main(shutdown: &Shutdown) -> Result<(), uno::signal::SignalError> {
///     let token = shutdown.token();
///     shutdown.spawn("ticker", async move {
///         token.cancelled().await;
///     })?;
///     Ok(())
/// }
/// ```
///
/// # Panics
///
/// Panics if the tokio runtime cannot be built (as `tokio::main` does).
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(args as Arguments);
    let function = parse_macro_input!(item as ItemFn);
    // On a mistake, a plain `fn` of the same name stands in for the function, so the
    // only error is the attribute's (an `async fn main` would add "main cannot be async").
    let (vis, name) = (&function.vis, &function.sig.ident);
    let stand_in = quote::quote!(#vis fn #name() {});
    or_error(service_main::expand(args, function.clone()), stand_in)
}

fn limited_as(macro_name: &str, args: TokenStream, item: TokenStream) -> TokenStream {
    let original = proc_macro2::TokenStream::from(item.clone());
    let args = parse_macro_input!(args as Arguments);
    let function = parse_macro_input!(item as ItemFn);
    or_error(limited::expand(macro_name, args, function), original)
}

/// The expansion, or the error followed by the function as written, so that a
/// mistake in the attribute does not also make every caller fail to find it.
fn or_error(
    expansion: syn::Result<proc_macro2::TokenStream>,
    original: proc_macro2::TokenStream,
) -> TokenStream {
    match expansion {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let mut tokens = error.into_compile_error();
            tokens.extend(original);
            tokens.into()
        }
    }
}
