//! `using`: open a resource, run a body with it, clean up on every exit path.

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;

use crate::error::Error;
use crate::managed::Managed;
use crate::resource::AsyncResource;
use crate::tracker::CleanupTracker;

/// Opens `resource`, runs `body` with it, then cleans it up, whatever the body did.
///
/// This is Python's `async with resource as r: ...`. The cleanup runs after the body
/// returns `Ok`, after it returns `Err`, after it panics (then the panic resumes), and
/// when this future is dropped mid-body (then in the background, on
/// [`CleanupTracker::global`]; use [`using_in`] to choose the tracker).
///
/// # Errors
///
/// - [`Error::Initialize`] if `initialize` failed (the body and `cleanup` do not run);
/// - [`Error::Body`] with the body's error, and the cleanup's error beside it if the
///   cleanup failed too;
/// - [`Error::Cleanup`], [`Error::CleanupTimeout`] or [`Error::CleanupPanicked`] if
///   the body succeeded but the cleanup did not.
///
/// The body's error type `E` must be able to hold the resource's error
/// (`E: From<R::Error>`); using the resource's own error type works.
///
/// # Panics
///
/// Resumes a panic of `body` once the cleanup finished.
///
/// # Cancel safety
///
/// Dropping this future mid-body still runs the cleanup exactly once, in the
/// background. Dropping it during `initialize` drops the resource without cleanup.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
///
/// use uno_resource::{AsyncResource, using};
///
/// struct Connection {
///     queries: u32,
/// }
///
/// impl AsyncResource for Connection {
///     type Error = Infallible;
///     async fn initialize(&mut self) -> Result<(), Infallible> { Ok(()) }
///     async fn cleanup(&mut self) -> Result<(), Infallible> { Ok(()) }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let answer = using(Connection { queries: 0 }, async |connection| {
///     connection.queries += 1;
///     Ok::<_, Infallible>(42)
/// })
/// .await?;
/// assert_eq!(answer, 42);
/// # Ok(())
/// # }
/// ```
pub async fn using<R, T, E, F>(resource: R, body: F) -> Result<T, Error<E>>
where
    R: AsyncResource,
    E: From<R::Error>,
    F: AsyncFnOnce(&mut R) -> Result<T, E>,
{
    run(Managed::open(resource).await, body).await
}

/// [`using`], with the cleanup bounded by and reported to `tracker`.
///
/// # Errors
///
/// As for [`using`].
///
/// # Panics
///
/// As for [`using`].
///
/// # Cancel safety
///
/// As for [`using`]; a cleanup left to the background goes to `tracker`.
pub async fn using_in<R, T, E, F>(
    resource: R,
    tracker: &CleanupTracker,
    body: F,
) -> Result<T, Error<E>>
where
    R: AsyncResource,
    E: From<R::Error>,
    F: AsyncFnOnce(&mut R) -> Result<T, E>,
{
    run(Managed::open_in(resource, tracker).await, body).await
}

async fn run<R, T, E, F>(opened: Result<Managed<R>, R::Error>, body: F) -> Result<T, Error<E>>
where
    R: AsyncResource,
    E: From<R::Error>,
    F: AsyncFnOnce(&mut R) -> Result<T, E>,
{
    let mut managed = match opened {
        Ok(managed) => managed,
        Err(error) => return Err(Error::Initialize(E::from(error))),
    };
    // The body cannot observe the resource after a panic (it only borrowed it), and
    // the panic is resumed right after cleanup, so no broken state leaks.
    let outcome = AssertUnwindSafe(body(&mut *managed)).catch_unwind().await;
    let closed = managed
        .close()
        .await
        .map_err(|error| error.map_inner(E::from));
    match outcome {
        Err(panic) => std::panic::resume_unwind(panic),
        Ok(Ok(value)) => closed.map(|()| value),
        Ok(Err(error)) => Err(Error::Body {
            error,
            cleanup: closed.err().map(Box::new),
        }),
    }
}
