//! Names for the future of an async closure, so that it can be required to be `Send`.
//!
//! Stable Rust cannot yet bound the future of an `AsyncFnOnce` (its `CallOnceFuture`
//! is unstable to name), so a function taking `F: AsyncFnOnce(&mut C) -> R` cannot
//! promise that its own future is `Send`. These traits join the async-closure bound
//! (which lets the compiler infer the closure's higher-ranked signature) with an
//! ordinary `FnOnce(&'a mut C) -> Fut` bound whose `Fut` can be named and bounded, the
//! approach diesel-async takes. Both are implemented for every async closure whose
//! future is `Send`; callers never implement them.

use std::future::Future;

/// An async closure run once inside a transaction: `async |conn| { .. }` where `conn` is
/// `&mut C` and the future is `Send`.
///
/// Implemented for every such closure (and `async fn` taking `&mut C`); you only meet
/// this trait in signatures.
pub trait TransactionFn<'a, C: ?Sized + 'a, R>:
    AsyncFnOnce(&'a mut C) -> R + FnOnce(&'a mut C) -> <Self as TransactionFn<'a, C, R>>::Future
{
    /// The closure's future.
    type Future: Future<Output = R> + Send;
}

impl<'a, C, R, F, Fut> TransactionFn<'a, C, R> for F
where
    C: ?Sized + 'a,
    F: AsyncFnOnce(&'a mut C) -> R + FnOnce(&'a mut C) -> Fut,
    Fut: Future<Output = R> + Send,
{
    type Future = Fut;
}

/// An async closure that may run several times, once per attempt of a retried
/// transaction: `async |conn| { .. }` where `conn` is `&mut C` and the future is `Send`.
///
/// Such a closure must be callable again after each attempt, so its future cannot
/// borrow from values the closure owns: capture by reference (the default for
/// `async |conn|`), or clone owned values inside the body. An `async move |conn|`
/// closure that reads an owned `String` is only `AsyncFnMut`, not `FnMut`, and the
/// compiler rejects it here.
pub trait TransactionFnMut<'a, C: ?Sized + 'a, R>:
    AsyncFnMut(&'a mut C) -> R + FnMut(&'a mut C) -> <Self as TransactionFnMut<'a, C, R>>::Future
{
    /// The closure's future.
    type Future: Future<Output = R> + Send;
}

impl<'a, C, R, F, Fut> TransactionFnMut<'a, C, R> for F
where
    C: ?Sized + 'a,
    F: AsyncFnMut(&'a mut C) -> R + FnMut(&'a mut C) -> Fut,
    Fut: Future<Output = R> + Send,
{
    type Future = Fut;
}
