//! Real signals raised at this test process itself (`SIGUSR1`, `SIGUSR2`), so they
//! live in their own test binary.
//!
//! `raise` runs the signal handler before it returns, and every listener here is
//! created before its signal is raised, so no signal ever meets a process without
//! a listener (which would end it: uno gives signals back their default action).
//! Tests that share a binary under `cargo test` run on threads of one process, so
//! each holds `SERIAL` to keep its signals away from the others' listeners.
#![allow(
    clippy::disallowed_methods,
    reason = "tests spawn bare tasks to stand for independent callers and to watch cancellation from outside"
)]
#![cfg(unix)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use signal_hook::consts::{SIGUSR1, SIGUSR2};
use signal_hook::low_level::raise;
use tokio::sync::{mpsc, oneshot};
use uno_signal::{Failure, ForceExit, Shutdown, ShutdownReason, Signal, SignalError, on_signal};

/// Held by each test for its whole run. A tokio mutex: it is held across `.await`s
/// and, unlike std's, is not poisoned by a failing test.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Debug, thiserror::Error)]
#[error("reload failed")]
struct ReloadFailed;

async fn handler_runs_each_time_the_signal_arrives() {
    let (runs, mut ran) = mpsc::unbounded_channel();
    let handle = on_signal(Signal::User1, move || {
        let runs = runs.clone();
        async move {
            runs.send(()).unwrap();
        }
    })
    .unwrap();
    assert_eq!(handle.signal(), Signal::User1);

    for _ in 0..3 {
        raise(SIGUSR1).unwrap();
        ran.recv().await.unwrap();
    }

    handle.close().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn handler_runs_each_time_the_signal_arrives_on_current_thread() {
    let _serial = SERIAL.lock().await;
    handler_runs_each_time_the_signal_arrives().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_runs_each_time_the_signal_arrives_on_multi_thread() {
    let _serial = SERIAL.lock().await;
    handler_runs_each_time_the_signal_arrives().await;
}

#[tokio::test(flavor = "current_thread")]
async fn handler_errors_and_panics_are_reported_and_the_listener_keeps_going() {
    let _serial = SERIAL.lock().await;
    let (runs, mut ran) = mpsc::unbounded_channel();
    let count = Arc::new(AtomicUsize::new(0));
    let handle = on_signal(Signal::User1, move || {
        let run = count.fetch_add(1, Ordering::SeqCst);
        let runs = runs.clone();
        async move {
            runs.send(run).unwrap();
            match run {
                0 => Err(ReloadFailed),
                1 => panic!("handler panicked on purpose"),
                _ => Ok(()),
            }
        }
    })
    .unwrap();

    for expected in 0..3 {
        raise(SIGUSR1).unwrap();
        assert_eq!(ran.recv().await, Some(expected));
    }

    let error = handle.close().await.unwrap_err();
    let SignalError::HandlerFailed {
        signal,
        count,
        failures,
    } = &error
    else {
        panic!("expected HandlerFailed, got {error:?}");
    };
    assert_eq!(*signal, Signal::User1);
    assert_eq!(*count, 2);
    assert!(matches!(&failures[0], Failure::Error(error) if error.to_string() == "reload failed"));
    assert!(
        matches!(&failures[1], Failure::Panic(message) if message == "handler panicked on purpose")
    );
    assert!(error.to_string().contains("failed 2 time(s)"), "{error}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_handler_that_panics_before_returning_its_future_is_reported_too() {
    let _serial = SERIAL.lock().await;
    let (runs, mut ran) = mpsc::unbounded_channel();
    let count = Arc::new(AtomicUsize::new(0));
    let handle = on_signal(Signal::User1, move || {
        let run = count.fetch_add(1, Ordering::SeqCst);
        runs.send(run).unwrap();
        assert!(run != 0, "the first call panics");
        async {}
    })
    .unwrap();

    raise(SIGUSR1).unwrap();
    assert_eq!(ran.recv().await, Some(0));
    raise(SIGUSR1).unwrap();
    assert_eq!(ran.recv().await, Some(1));

    assert_eq!(handle.failure_count(), 1);
    let taken = handle.take_failures();
    assert!(matches!(&taken[..], [Failure::Panic(message)] if message == "the first call panics"));
    handle
        .close()
        .await
        .expect("failures already taken are not reported again");
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_handle_no_longer_runs_its_handler() {
    let _serial = SERIAL.lock().await;
    let (dropped_runs, mut dropped_ran) = mpsc::unbounded_channel::<()>();
    let dropped = on_signal(Signal::User2, move || {
        let runs = dropped_runs.clone();
        async move { runs.send(()).unwrap() }
    })
    .unwrap();
    // A second listener keeps SIGUSR2 from getting its default action back.
    let (kept_runs, mut kept_ran) = mpsc::unbounded_channel::<()>();
    let kept = on_signal(Signal::User2, move || {
        let runs = kept_runs.clone();
        async move { runs.send(()).unwrap() }
    })
    .unwrap();

    drop(dropped);
    raise(SIGUSR2).unwrap();

    kept_ran.recv().await.unwrap();
    // The dropped listener's handler (and with it the sender) is gone without a run.
    assert_eq!(dropped_ran.recv().await, None);
    kept.close().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn close_lets_an_in_flight_run_finish() {
    let _serial = SERIAL.lock().await;
    let (started, mut has_started) = mpsc::unbounded_channel();
    let (release, released) = oneshot::channel::<()>();
    let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
    let finished = Arc::new(AtomicUsize::new(0));
    let handle = on_signal(Signal::User1, {
        let finished = Arc::clone(&finished);
        move || {
            let started = started.clone();
            let released = Arc::clone(&released);
            let finished = Arc::clone(&finished);
            async move {
                started.send(()).unwrap();
                if let Some(released) = released.lock().await.take() {
                    released.await.unwrap();
                }
                finished.fetch_add(1, Ordering::SeqCst);
            }
        }
    })
    .unwrap();

    raise(SIGUSR1).unwrap();
    has_started.recv().await.unwrap();
    let closing = tokio::spawn(handle.close());
    // Let `close` run up to its wait for the listener.
    tokio::task::yield_now().await;
    release.send(()).unwrap();

    closing.await.unwrap().unwrap();
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_begins_on_an_installed_signal() {
    let _serial = SERIAL.lock().await;
    let shutdown = Shutdown::builder()
        .signals([Signal::User1])
        .force_exit(ForceExit::Never)
        .install()
        .unwrap();
    let token = shutdown.token();

    raise(SIGUSR1).unwrap();

    assert_eq!(shutdown.wait().await, ShutdownReason::Signal(Signal::User1));
    assert!(token.is_cancelled());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shutdowns_both_see_a_signal_they_installed() {
    let _serial = SERIAL.lock().await;
    let install = || {
        Shutdown::builder()
            .signals([Signal::User2, Signal::User2])
            .force_exit(ForceExit::Never)
            .install()
            .unwrap()
    };
    let (first, second) = (install(), install());

    raise(SIGUSR2).unwrap();

    assert_eq!(first.wait().await, ShutdownReason::Signal(Signal::User2));
    assert_eq!(second.wait().await, ShutdownReason::Signal(Signal::User2));
}

#[tokio::test(flavor = "current_thread")]
async fn signals_during_the_shutdown_are_ignored_when_force_exit_is_never() {
    let _serial = SERIAL.lock().await;
    let shutdown = Shutdown::builder()
        .signals([Signal::User1])
        .force_exit(ForceExit::Never)
        .install()
        .unwrap();
    // A handler on the same signal tells when each signal has reached the runtime.
    let (runs, mut ran) = mpsc::unbounded_channel();
    let observer = on_signal(Signal::User1, move || {
        let runs = runs.clone();
        async move { runs.send(()).unwrap() }
    })
    .unwrap();
    shutdown
        .spawn("cleanup", {
            let token = shutdown.token();
            async move { token.cancelled().await }
        })
        .unwrap();

    raise(SIGUSR1).unwrap();
    ran.recv().await.unwrap();
    raise(SIGUSR1).unwrap();
    ran.recv().await.unwrap();

    let report = shutdown.run().await;
    assert_eq!(report.reason(), Some(ShutdownReason::Signal(Signal::User1)));
    assert_eq!(report.finished(), ["cleanup"]);
    observer.close().await.unwrap();
}
