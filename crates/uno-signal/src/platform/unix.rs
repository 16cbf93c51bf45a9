//! Unix: signal-hook-tokio for delivery, signal-hook's flag actions for the forced exit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::StreamExt;
use signal_hook::SigId;
use signal_hook_tokio::Signals;

use crate::{ForceExit, Signal, SignalError};

/// An async stream of the signals one listener asked for.
pub(crate) struct SignalStream {
    /// `None` when the listener asked for no signal at all (a trigger-only
    /// `Shutdown`), which then needs no self-pipe and no I/O driver.
    signals: Option<Signals>,
}

impl std::fmt::Debug for SignalStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // signal-hook-tokio's stream does not implement Debug.
        f.debug_struct("SignalStream").finish_non_exhaustive()
    }
}

impl SignalStream {
    /// The next signal; `None` only if the stream was closed.
    ///
    /// Signals of the same kind that arrive while nobody polls are merged into one, as
    /// the operating system itself does.
    pub(crate) async fn recv(&mut self) -> Option<Signal> {
        let Some(signals) = &mut self.signals else {
            return std::future::pending().await;
        };
        loop {
            let raw = signals.next().await?;
            // The stream only yields numbers we registered, so this always matches.
            if let Some(signal) = Signal::from_raw(raw) {
                return Some(signal);
            }
        }
    }
}

/// What a listener holds in the process-global signal state; released on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    listeners: Vec<ListenerGuard>,
    force_exit: Vec<SigId>,
}

/// Ends the process because of a signal that arrived while shutting down, if the
/// platform did not already do so inside the signal handler. On Unix it always has
/// (or the forced exit is off), so there is nothing left to do.
pub(crate) fn exit_on_runtime(_signal: Signal, _force_exit: ForceExit) {}

impl Registration {
    /// Arms the forced exit: from now on, the next of these signals ends the process
    /// from inside the signal handler, whatever the runtime is doing.
    pub(crate) fn arm(armed: &AtomicBool) {
        armed.store(true, Ordering::SeqCst);
    }

    /// Makes a second signal exit the process.
    ///
    /// For each signal two signal-hook actions are registered, in this order: "exit if
    /// armed", then "arm". The first signal therefore only arms (and reaches the async
    /// stream); the second exits inside the handler, which works even when a blocking
    /// task holds every runtime thread.
    pub(crate) fn add_forced_exit(
        &mut self,
        signals: &[Signal],
        force_exit: ForceExit,
        armed: &Arc<AtomicBool>,
    ) -> Result<(), SignalError> {
        for &signal in signals {
            let code = match force_exit {
                ForceExit::Never => return Ok(()),
                ForceExit::Conventional => signal.conventional_exit_code(),
                ForceExit::Code(code) => code,
            };
            let register = |result: std::io::Result<SigId>| {
                result.map_err(|source| SignalError::Register { signal, source })
            };
            let exit = register(signal_hook::flag::register_conditional_shutdown(
                signal.raw(),
                i32::from(code),
                Arc::clone(armed),
            ))?;
            self.force_exit.push(exit);
            let arm = register(signal_hook::flag::register(signal.raw(), Arc::clone(armed)))?;
            self.force_exit.push(arm);
        }
        Ok(())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        for id in self.force_exit.drain(..) {
            signal_hook::low_level::unregister(id);
        }
        // `listeners` drop after this, restoring default actions where we were the last.
    }
}

/// Starts listening for `signals`: returns the stream to poll and the registration to
/// keep for as long as the listener lives.
///
/// # Panics
///
/// Panics outside a tokio runtime, or in one built without `enable_io`.
pub(crate) fn listen(
    signals: &[Signal],
    forced_exit: Option<(ForceExit, &Arc<AtomicBool>)>,
) -> Result<(SignalStream, Registration), SignalError> {
    let mut registration = Registration {
        listeners: Vec::with_capacity(signals.len()),
        force_exit: Vec::new(),
    };
    // Take the listener counts first, so the default-action emulation is off before
    // signal-hook replaces the operating system's default action.
    for &signal in signals {
        registration.listeners.push(ListenerGuard::acquire(signal)?);
    }
    // The forced exit's actions must run before the stream's: signal-hook runs a
    // signal's actions in registration order, and the stream's action wakes the
    // runtime, whose listener task then arms the forced exit (`Shutdown` starting).
    // Registered after the stream, "exit if armed" could see that arming on another
    // thread within the same signal and exit on the first signal.
    if let Some((force_exit, armed)) = forced_exit {
        registration.add_forced_exit(signals, force_exit, armed)?;
    }
    let Some(&first) = signals.first() else {
        return Ok((SignalStream { signals: None }, registration));
    };
    let stream =
        Signals::new(std::iter::empty::<i32>()).map_err(|source| SignalError::Register {
            signal: first,
            source,
        })?;
    let handle = stream.handle();
    for &signal in signals {
        handle
            .add_signal(signal.raw())
            .map_err(|source| SignalError::Register { signal, source })?;
    }
    let stream = SignalStream {
        signals: Some(stream),
    };
    Ok((stream, registration))
}

/// Process-global, per signal: how many uno listeners exist, and whether the default
/// action must be emulated because there are none.
///
/// Why global: the operating system keeps one disposition per signal per process, and
/// signal-hook never gives it back once it installed its handler. Without this, a
/// signal that arrives after the last listener is gone would be swallowed, which is
/// exactly tokio's "Ctrl-C does nothing any more" trap.
struct DefaultSlot {
    listeners: Mutex<SlotState>,
    /// Read inside the signal handler, hence an atomic.
    emulate_default: AtomicBool,
}

struct SlotState {
    count: usize,
    /// Whether the first listener has looked at the signal's disposition (and
    /// registered the default-action emulation, where it applies).
    prepared: bool,
}

static SLOTS: [DefaultSlot; Signal::ALL.len()] = [const {
    DefaultSlot {
        listeners: Mutex::new(SlotState {
            count: 0,
            prepared: false,
        }),
        emulate_default: AtomicBool::new(false),
    }
}; Signal::ALL.len()];

/// One listener's share of a [`DefaultSlot`].
#[derive(Debug)]
struct ListenerGuard {
    signal: Signal,
}

impl ListenerGuard {
    fn acquire(signal: Signal) -> Result<ListenerGuard, SignalError> {
        let slot = &SLOTS[signal.index()];
        // The state stays consistent even if a holder panicked: every update is a
        // single assignment.
        let mut state = slot
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !state.prepared {
            // A signal the process ignores before uno first listens to it (`nohup`
            // ignores SIGHUP; shells without job control ignore SIGINT in background
            // jobs) keeps being ignored once uno's listeners are gone: signal-hook's
            // handler with no action does exactly that. Any other signal gets an
            // action, registered once for the life of the process, that emulates the
            // default while `emulate_default` is set.
            if !is_ignored(signal) {
                signal_hook::flag::register_conditional_default(
                    signal.raw(),
                    &slot.emulate_default,
                )
                .map_err(|source| SignalError::Register { signal, source })?;
            }
            state.prepared = true;
        }
        state.count += 1;
        slot.emulate_default.store(false, Ordering::SeqCst);
        Ok(ListenerGuard { signal })
    }
}

impl Drop for ListenerGuard {
    fn drop(&mut self) {
        let slot = &SLOTS[self.signal.index()];
        let mut state = slot
            .listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.count -= 1;
        if state.count == 0 {
            slot.emulate_default.store(true, Ordering::SeqCst);
        }
    }
}

/// Whether the process ignores `signal` right now, as Linux reports it in
/// `/proc/self/status`. Reading the disposition directly (`sigaction`) would need
/// unsafe code, which this crate forbids.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn is_ignored(signal: Signal) -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|status| ignored_in_status(&status, signal.raw()))
}

/// Other Unixes have no safe way to read a disposition: assume the default action.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn is_ignored(_signal: Signal) -> bool {
    false
}

/// Reads the `SigIgn:` line of a `/proc/<pid>/status` text: a hexadecimal mask in
/// which bit `n - 1` stands for signal `n`.
#[cfg_attr(
    not(any(target_os = "linux", target_os = "android")),
    allow(dead_code, reason = "only Linux has /proc/self/status")
)]
fn ignored_in_status(status: &str, raw_signal: i32) -> bool {
    let mask = status
        .lines()
        .find_map(|line| line.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok());
    let bit = u32::try_from(raw_signal - 1).ok();
    match (mask, bit) {
        (Some(mask), Some(bit)) if bit < u64::BITS => mask & (1 << bit) != 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::ignored_in_status;

    const STATUS: &str = "Name:\tdemo\nSigBlk:\t0000000000000001\nSigIgn:\t0000000000000006\nSigCgt:\t0000000000000000\n";

    #[test]
    fn the_sigign_mask_marks_signal_n_with_bit_n_minus_one() {
        // 0x6 = bits 1 and 2: signals 2 (SIGINT) and 3 (SIGQUIT).
        assert!(!ignored_in_status(STATUS, 1));
        assert!(ignored_in_status(STATUS, 2));
        assert!(ignored_in_status(STATUS, 3));
        assert!(!ignored_in_status(STATUS, 15));
    }

    #[test]
    fn unreadable_status_means_not_ignored() {
        assert!(!ignored_in_status("Name:\tdemo\n", 2));
        assert!(!ignored_in_status("SigIgn:\tzz\n", 2));
        assert!(!ignored_in_status(STATUS, 0));
        assert!(!ignored_in_status(STATUS, 65));
    }
}
