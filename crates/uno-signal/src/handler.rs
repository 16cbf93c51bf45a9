//! `on_signal`: run an async handler each time a signal arrives.

use std::collections::VecDeque;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::platform::{self, Registration, SignalStream};
use crate::{Failure, Outcome, Signal, SignalError};

/// How many failures a [`SignalHandle`] keeps for [`SignalHandle::close`]; older ones
/// are only counted, so a handler that fails on every signal for days cannot grow
/// memory without bound.
const KEPT_FAILURES: usize = 16;

/// Runs `handler` each time `signal` arrives, until the returned [`SignalHandle`] is
/// closed or dropped. This is Python uno's `setup_signal_handler(SIGINT, handler)`.
///
/// Runs of the handler never overlap: a signal that arrives while the handler runs is
/// handled right after it, and several such signals of one kind are merged into one
/// run (the operating system merges pending signals the same way).
///
/// A run that returns an error or panics is recorded (and logged at `ERROR` with the
/// `tracing` feature); the listener goes on with the next signal. [`SignalHandle::close`]
/// reports what failed.
///
/// While at least one uno listener (a handle or a [`Shutdown`](crate::Shutdown)) exists
/// for a signal, that signal no longer has its default action (usually: end the
/// process). Once the last one is gone, the default action applies again.
///
/// # Errors
///
/// [`SignalError::Unsupported`] for a signal the platform does not have (off Unix,
/// everything but [`Signal::Interrupt`]), [`SignalError::Register`] if the operating
/// system refuses the handler.
///
/// # Panics
///
/// Panics when called outside a tokio runtime, or (on Unix) in a runtime built
/// without `enable_io`.
///
/// # Examples
///
/// ```
/// use uno_signal::{Signal, on_signal};
///
/// # #[cfg(unix)]
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), uno_signal::SignalError> {
///     let reloads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
///     let counter = reloads.clone();
///     let handle = on_signal(Signal::Hangup, move || {
///         let counter = counter.clone();
///         async move {
///             counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
///             Ok::<(), std::io::Error>(()) // e.g. re-read the configuration
///         }
///     })?;
///     // ... run the program; `kill -HUP <pid>` now runs the handler ...
///     // (The handler runs for as long as `handle` lives. To keep it for the whole
///     // program without using it, bind it: `let _handler = on_signal(..)?;`, never
///     // `let _ = on_signal(..)?;`, which drops it, and stops it, at once.)
///     handle.close().await
/// }
/// # #[cfg(not(unix))]
/// # fn main() {}
/// ```
pub fn on_signal<F, Fut>(signal: Signal, handler: F) -> Result<SignalHandle, SignalError>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Outcome,
{
    let (stream, registration) = platform::listen(&[signal], None)?;
    let stop = CancellationToken::new();
    let failures = Arc::new(Mutex::new(FailureLog::default()));
    #[expect(
        clippy::disallowed_methods,
        reason = "the listener task is owned by the SignalHandle, which aborts it on drop or close"
    )]
    let task = tokio::spawn(listen(
        stream,
        handler,
        signal,
        stop.clone(),
        Arc::clone(&failures),
    ));
    Ok(SignalHandle {
        signal,
        stop,
        task: Some(task),
        failures,
        _registration: registration,
    })
}

/// The listener started by [`on_signal`].
///
/// Dropping it stops the listener at once (an in-flight handler run is aborted at its
/// next `.await`); [`close`](SignalHandle::close) stops it gracefully and reports
/// failed runs.
#[derive(Debug)]
#[must_use = "dropping a SignalHandle stops the handler: bind it with `let _handler = ...` (not `let _ = ...`, which drops it at once)"]
pub struct SignalHandle {
    signal: Signal,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
    failures: Arc<Mutex<FailureLog>>,
    // Kept for its `Drop`: it gives the signal back to its default action when this
    // was the last listener.
    _registration: Registration,
}

impl SignalHandle {
    /// The signal this handle listens for.
    #[must_use]
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// How many handler runs have failed so far (returned an error or panicked).
    #[must_use]
    pub fn failure_count(&self) -> u64 {
        self.lock_failures().count
    }

    /// Takes the failures recorded so far (the most recent 16), leaving the count as
    /// is. Long-running programs can call it periodically; what it returns is not
    /// reported again by [`close`](SignalHandle::close).
    #[must_use]
    pub fn take_failures(&self) -> Vec<Failure> {
        self.lock_failures().recent.drain(..).collect()
    }

    /// Stops listening, lets an in-flight handler run finish, and reports failures.
    ///
    /// After `close` returns, the handler never runs again. If a run may hang, bound
    /// the wait with `tokio::time::timeout`: giving up drops the handle, which aborts
    /// the run.
    ///
    /// # Errors
    ///
    /// [`SignalError::HandlerFailed`] if any run failed and was not yet taken with
    /// [`take_failures`](SignalHandle::take_failures).
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the handle, which stops the listener at
    /// once and aborts an in-flight run; the failures are then lost.
    pub async fn close(mut self) -> Result<(), SignalError> {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            // The listener catches the handler's panics, so it only ends by finishing.
            let _ = task.await;
        }
        let log = std::mem::take(&mut *self.lock_failures());
        if log.recent.is_empty() {
            return Ok(());
        }
        Err(SignalError::HandlerFailed {
            signal: self.signal,
            count: log.count,
            failures: log.recent.into(),
        })
    }

    fn lock_failures(&self) -> std::sync::MutexGuard<'_, FailureLog> {
        // Every update of the log is complete when the lock is released.
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for SignalHandle {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

#[derive(Debug, Default)]
struct FailureLog {
    count: u64,
    recent: VecDeque<Failure>,
}

async fn listen<F, Fut>(
    mut stream: SignalStream,
    mut handler: F,
    signal: Signal,
    stop: CancellationToken,
    failures: Arc<Mutex<FailureLog>>,
) where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Outcome,
{
    // Only the tracing calls read `signal`.
    #[cfg(not(feature = "tracing"))]
    let _ = signal;
    loop {
        let received = tokio::select! {
            biased;
            () = stop.cancelled() => None,
            received = stream.recv() => received,
        };
        if received.is_none() {
            return;
        }
        #[cfg(feature = "tracing")]
        tracing::debug!(%signal, "running signal handler");
        let Err(failure) = run_once(&mut handler).await else {
            continue;
        };
        #[cfg(feature = "tracing")]
        tracing::error!(%signal, %failure, "signal handler failed; still listening");
        let mut log = failures.lock().unwrap_or_else(PoisonError::into_inner);
        log.count += 1;
        if log.recent.len() == KEPT_FAILURES {
            log.recent.pop_front();
        }
        log.recent.push_back(failure);
    }
}

/// One run of the handler, with both the call and the future guarded against panics.
async fn run_once<F, Fut>(handler: &mut F) -> Result<(), Failure>
where
    F: FnMut() -> Fut,
    Fut: Future,
    Fut::Output: Outcome,
{
    // Unwind safety: after a panic the handler is called again for the next signal;
    // any state it left half-updated is the handler's to cope with, as with a panic
    // in any other long-lived callback.
    let future = match std::panic::catch_unwind(AssertUnwindSafe(&mut *handler)) {
        Ok(future) => future,
        Err(payload) => return Err(Failure::from_panic(&*payload)),
    };
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(outcome) => outcome.into_result().map_err(Failure::Error),
        Err(payload) => Err(Failure::from_panic(&*payload)),
    }
}
