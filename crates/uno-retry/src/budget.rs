//! `RetryBudget`: a limit on retries shared by many runs, against retry storms.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;

/// How many slices the budget's time window is cut into; entries expire one slice at
/// a time.
const SLOTS: usize = 10;

/// A budget of retries that many calls share, so that a failing dependency cannot
/// multiply the load on itself (a retry storm). Modelled on tower's `TpsBudget`.
///
/// Every run of a policy that holds the budget deposits one call; every retry
/// withdraws one. Over the last `ttl`, retries may number at most
/// `min_per_second * ttl + ratio * calls`: the reserve lets a quiet service still
/// retry, the ratio bounds retries to a share of the traffic. Once the budget is spent,
/// runs fail fast with their last error instead of retrying; as old entries leave the
/// window (in tenths of `ttl`), the budget recovers. Time is tokio's clock.
///
/// Cloning is cheap and clones share the same budget.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_retry::{RetryBudget, RetryPolicy};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), uno_retry::Error> {
/// // No reserve, and one retry per two calls.
/// let budget = RetryBudget::new(Duration::from_secs(10), 0, 0.5)?;
/// let policy = RetryPolicy::constant(Duration::from_millis(10))
///     .max_attempts(10)
///     .budget(budget.clone())
///     .build()?;
///
/// let mut calls = 0;
/// let _ = policy.run(|| { calls += 1; async { Err::<(), _>("down") } }).await;
/// assert_eq!(calls, 1, "one call deposited half a retry: not enough to retry");
/// let _ = policy.run(|| { calls += 1; async { Err::<(), _>("down") } }).await;
/// assert_eq!(calls, 3, "two calls deposited one retry");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    ttl: Duration,
    slot_width: Duration,
    reserve: f64,
    ratio: f64,
    window: Mutex<Window>,
}

/// The deposits and withdrawals of the last `ttl`, in `SLOTS` slices.
#[derive(Debug)]
struct Window {
    slots: [Slot; SLOTS],
    /// The slice that receives new entries.
    current: usize,
    /// When the current slice began.
    current_start: Instant,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    deposits: u64,
    withdrawals: u64,
}

impl RetryBudget {
    /// Creates a budget remembering the last `ttl`, allowing `min_per_second` retries
    /// per second regardless of traffic plus `ratio` retries per call (0.2: one retry
    /// per five calls).
    ///
    /// # Errors
    ///
    /// [`Error::ZeroBudgetTtl`] for a zero `ttl`, [`Error::InvalidRetryRatio`] for a
    /// negative or non-finite ratio, and [`Error::EmptyBudget`] when `min_per_second`
    /// and `ratio` are both zero, so no retry could ever happen.
    pub fn new(ttl: Duration, min_per_second: u32, ratio: f64) -> Result<Self, Error> {
        if ttl.is_zero() {
            return Err(Error::ZeroBudgetTtl);
        }
        if !(ratio >= 0.0 && ratio.is_finite()) {
            return Err(Error::InvalidRetryRatio { ratio });
        }
        if min_per_second == 0 && ratio == 0.0 {
            return Err(Error::EmptyBudget);
        }
        // A slot narrower than a nanosecond would never rotate.
        let slot_width = (ttl / SLOTS as u32).max(Duration::from_nanos(1));
        Ok(Self {
            inner: Arc::new(Inner {
                ttl,
                slot_width,
                reserve: f64::from(min_per_second) * ttl.as_secs_f64(),
                ratio,
                window: Mutex::new(Window {
                    slots: [Slot::default(); SLOTS],
                    current: 0,
                    current_start: Instant::now(),
                }),
            }),
        })
    }

    /// Records a call. Runs of a policy holding this budget do this themselves, once
    /// per run.
    pub fn deposit(&self) {
        self.with_window(|window| {
            let slot = &mut window.slots[window.current];
            slot.deposits = slot.deposits.saturating_add(1);
        });
    }

    /// Takes one retry from the budget if it has one, and says whether it did. Runs of
    /// a policy holding this budget do this before every retry.
    pub fn try_withdraw(&self) -> bool {
        let inner = &self.inner;
        self.with_window(|window| {
            if inner.balance(window) < 1.0 {
                return false;
            }
            let slot = &mut window.slots[window.current];
            slot.withdrawals = slot.withdrawals.saturating_add(1);
            true
        })
    }

    /// How many retries the budget would allow right now.
    pub fn available(&self) -> u64 {
        let inner = &self.inner;
        // The balance is at most `reserve + ratio * u64::MAX`, which is infinite for a
        // ratio near `f64::MAX`; the float-to-int cast saturates (infinity becomes
        // `u64::MAX`), which is what we want.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        self.with_window(|window| inner.balance(window).max(0.0).floor() as u64)
    }

    /// The window the budget remembers.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    fn with_window<R>(&self, f: impl FnOnce(&mut Window) -> R) -> R {
        // Nothing panics while the lock is held, so a poisoned window is still whole.
        let mut window = self
            .inner
            .window
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.inner.expire(&mut window, Instant::now());
        f(&mut window)
    }
}

impl Inner {
    /// Moves the window forward to `now`, forgetting slices older than `ttl`.
    fn expire(&self, window: &mut Window, now: Instant) {
        let elapsed = now.saturating_duration_since(window.current_start);
        if elapsed < self.slot_width {
            return;
        }
        // Rotation count is at most SLOTS, so a long idle period costs no more than a
        // full clear.
        let steps = (elapsed.as_nanos() / self.slot_width.as_nanos()).min(SLOTS as u128);
        for _ in 0..steps {
            window.current = (window.current + 1) % SLOTS;
            window.slots[window.current] = Slot::default();
        }
        if steps == SLOTS as u128 {
            window.current_start = now;
        } else {
            // `steps` is below SLOTS here, so it fits a u32.
            #[allow(clippy::cast_possible_truncation)]
            let advanced = self.slot_width * steps as u32;
            window.current_start += advanced;
        }
    }

    fn balance(&self, window: &Window) -> f64 {
        let (deposits, withdrawals) = window.slots.iter().fold((0u64, 0u64), |(d, w), slot| {
            (
                d.saturating_add(slot.deposits),
                w.saturating_add(slot.withdrawals),
            )
        });
        #[allow(clippy::cast_precision_loss)]
        let earned = self.ratio * deposits as f64;
        #[allow(clippy::cast_precision_loss)]
        let spent = withdrawals as f64;
        self.reserve + earned - spent
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ttl", &self.inner.ttl)
            .field("reserve", &self.inner.reserve)
            .field("ratio", &self.inner.ratio)
            .field("available", &self.available())
            .finish()
    }
}
