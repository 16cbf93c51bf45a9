//! The hand-off of a freshly spawned task's abort handle to its group, racing the
//! group's teardown.
//!
//! A spawner parks its task's handle here rather than taking the state's lock a second
//! time; the next spawn, abort or join moves the parked handles into their slots. A
//! teardown marks the group aborted *before* it takes the parked handles. The
//! invariant: every handle parked while a teardown runs is either taken by that
//! teardown or seen by its parker, which finds the group aborted and tears down again
//! itself. So no task outlives its group's teardown unaborted. The lock orders the
//! two: if the teardown's take comes after the park, it takes the handle; if before,
//! the park's lock comes after the teardown's unlock, which happened after the mark.
//!
//! Under `--cfg uno_loom` the lock and the flag are loom's (`crate::sync`), and the
//! models at the bottom check the invariant in every interleaving.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use crate::sync::{AtomicBool, Mutex, MutexGuard};

/// Parked handles (`H`), and whether the group was torn down.
pub(crate) struct Handoff<H> {
    aborted: AtomicBool,
    /// Only spawners and teardowns touch it, so it is rarely contended. Taken under
    /// the state's lock, never the other way round.
    parked: Mutex<Vec<H>>,
}

impl<H> Handoff<H> {
    pub(crate) fn new() -> Self {
        Self {
            aborted: AtomicBool::new(false),
            parked: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<H>> {
        // Pushing and draining a `Vec` of handles runs no user code.
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Parks `handle`. Returns whether the group was torn down meanwhile: the caller
    /// must then tear down again, as the teardown may have missed this handle.
    pub(crate) fn park(&self, handle: H) -> bool {
        self.lock().push(handle);
        self.aborted.load(Ordering::Acquire)
    }

    /// Marks the group torn down; called before the teardown takes the handles.
    pub(crate) fn mark_aborted(&self) {
        self.aborted.store(true, Ordering::Release);
    }

    /// Whether the group was torn down: a task that has not started sees it and never
    /// runs its body.
    pub(crate) fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// Takes every parked handle, in the order parked, handing each to `take`.
    pub(crate) fn take_all(&self, mut take: impl FnMut(H)) {
        for handle in self.lock().drain(..) {
            take(handle);
        }
    }

    /// How many handles are parked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Loom models of the hand-off, run by `cargo xtask ci` with `--cfg uno_loom`: a
/// "handle" is a flag its abort sets, and a teardown marks, takes and aborts, as
/// `Shared::abort_all` and its `Teardown` do.
#[cfg(all(test, uno_loom))]
mod loom_models {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicBool, Ordering};
    use loom::thread;

    use super::Handoff;

    type Handle = Arc<AtomicBool>;

    fn teardown(handoff: &Handoff<Handle>) {
        handoff.mark_aborted();
        handoff.take_all(|handle| handle.store(true, Ordering::Relaxed));
    }

    /// Parks a new task's handle, tearing down again if the group was torn down.
    fn spawn(handoff: &Handoff<Handle>) -> Handle {
        let handle = Arc::new(AtomicBool::new(false));
        if handoff.park(Arc::clone(&handle)) {
            teardown(handoff);
        }
        handle
    }

    #[test]
    fn a_task_spawned_while_its_group_is_torn_down_is_always_aborted() {
        loom::model(|| {
            let handoff = Arc::new(Handoff::new());
            let spawner = {
                let handoff = Arc::clone(&handoff);
                thread::spawn(move || spawn(&handoff))
            };
            teardown(&handoff);
            let handle = spawner.join().unwrap();
            assert!(
                handle.load(Ordering::Relaxed),
                "a task outlived the teardown"
            );
        });
    }

    #[test]
    fn two_spawners_racing_a_teardown_are_both_aborted() {
        loom::model(|| {
            let handoff = Arc::new(Handoff::new());
            let spawners: Vec<_> = (0..2)
                .map(|_| {
                    let handoff = Arc::clone(&handoff);
                    thread::spawn(move || spawn(&handoff))
                })
                .collect();
            teardown(&handoff);
            for spawner in spawners {
                assert!(spawner.join().unwrap().load(Ordering::Relaxed));
            }
        });
    }

    #[test]
    fn without_a_teardown_nothing_is_aborted_and_every_handle_is_taken() {
        loom::model(|| {
            let handoff = Arc::new(Handoff::new());
            let spawner = {
                let handoff = Arc::clone(&handoff);
                thread::spawn(move || spawn(&handoff))
            };
            let mut taken = 0;
            handoff.take_all(|_| taken += 1);
            let handle = spawner.join().unwrap();
            handoff.take_all(|_| taken += 1);
            assert_eq!(taken, 1, "each parked handle is taken once");
            assert!(!handle.load(Ordering::Relaxed));
            assert!(!handoff.is_aborted());
        });
    }
}
