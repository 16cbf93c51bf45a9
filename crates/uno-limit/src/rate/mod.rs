//! Rate limits: [`RateLimiter`], its builder, and the GCRA arithmetic and clock that
//! [`KeyedRateLimiter`](crate::KeyedRateLimiter) and a rated
//! [`Limiter`](crate::Limiter) share.

mod clock;
mod gcra;
mod keyed;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

pub(crate) use self::clock::Clock;
pub use self::clock::RateClock;
pub(crate) use self::gcra::Gcra;
pub use self::keyed::KeyedRateLimiter;
use crate::policy::{WaitingGuard, wait_until};
use crate::{BuildError, LimitError};

/// Admits at most `count` calls per `period`, with bursts of up to `burst` calls, by
/// the generic cell rate algorithm (GCRA, as in ATM networks and the `governor` crate).
///
/// Calls conform one `interval` (`period / count`) apart; a limiter that has been idle
/// lets a burst of up to `burst` calls through at once (by default `burst == count`).
/// The state is one atomic timestamp, so [`try_acquire`](Self::try_acquire) costs a
/// clock read and a compare-and-swap. Waiters in [`acquire`](Self::acquire) are served
/// in FIFO order. Cloning is cheap and clones share the same rate.
///
/// Time comes from tokio's clock by default, so the limiter is exact under
/// `tokio::time::pause()`; see [`RateClock`] for the faster TSC clock.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tokio::time::Instant;
/// use uno_limit::{LimitError, RateLimiter};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // 10 calls per second, in bursts of at most 2.
/// let rate = RateLimiter::builder().rate(10, Duration::from_secs(1)).burst(2).build()?;
/// let started = Instant::now();
/// for _ in 0..4 {
///     rate.acquire().await?;
/// }
/// // Two at once, then one every 100 ms.
/// assert_eq!(started.elapsed(), Duration::from_millis(200));
/// assert_eq!(
///     rate.try_acquire(),
///     Err(LimitError::Limited { retry_after: Duration::from_millis(100) })
/// );
/// # Ok(())
/// # }
/// ```
///
/// # Cancel safety
///
/// Every future returned here is cancel-safe: a call's slot is taken only at the
/// moment it is admitted, so a waiter dropped before then takes nothing and leaves the
/// queue; the next waiter takes its place.
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    gcra: Gcra,
    clock: Clock,
    /// The theoretical arrival time of the next call, in nanoseconds of `clock`.
    tat: AtomicU64,
    /// Callers in `acquire` that did not get a slot at once, plus [`CLOSED`] once the
    /// limiter is closed: one word, so the fast path checks both with one load.
    gate: AtomicUsize,
    /// FIFO order among waiters: tokio's mutex queues its lockers fairly, and the
    /// holder is the only waiter that sleeps until its slot.
    turn: tokio::sync::Mutex<()>,
    on_close: Notify,
}

/// The bit of [`Inner::gate`] that says the limiter is closed.
const CLOSED: usize = 1 << (usize::BITS - 1);

/// Builds a [`RateLimiter`]; see [`RateLimiter::builder`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RateLimiterBuilder {
    rate: Option<(u32, Duration)>,
    burst: Option<u32>,
    clock: RateClock,
}

impl RateLimiter {
    /// Creates a limiter that admits `count` calls per `period`, in bursts of up to
    /// `count`.
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidConfig`] when `count` or `period` is zero, when one call
    /// per `period / count` is more often than once a nanosecond, or when a burst
    /// would span more than a century.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_limit::RateLimiter;
    ///
    /// let rate = RateLimiter::new(100, Duration::from_secs(1))?;
    /// assert_eq!(rate.interval(), Duration::from_millis(10));
    /// assert_eq!(rate.burst(), 100);
    /// assert!(RateLimiter::new(0, Duration::from_secs(1)).is_err());
    /// # Ok::<(), uno_limit::BuildError>(())
    /// ```
    pub fn new(count: u32, period: Duration) -> Result<Self, BuildError> {
        Self::builder().rate(count, period).build()
    }

    /// Starts a [`RateLimiterBuilder`] to choose the rate, the burst and the clock.
    pub fn builder() -> RateLimiterBuilder {
        RateLimiterBuilder::default()
    }

    /// Takes a slot now if the rate allows one.
    ///
    /// It never queues, and it does not overtake callers already waiting in
    /// [`acquire`](Self::acquire): while any wait, it reports the rate as reached.
    ///
    /// # Errors
    ///
    /// [`LimitError::Limited`] with the time until a call would conform (while others
    /// wait, the time until the slot after theirs), and [`LimitError::Closed`] once the
    /// limiter is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_limit::{LimitError, RateLimiter};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rate = RateLimiter::new(1, Duration::from_secs(2))?;
    /// rate.try_acquire()?;
    /// assert_eq!(
    ///     rate.try_acquire(),
    ///     Err(LimitError::Limited { retry_after: Duration::from_secs(2) })
    /// );
    /// # Ok(())
    /// # }
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<(), LimitError> {
        let inner = &*self.inner;
        let gate = inner.gate.load(Ordering::Relaxed);
        let now = inner.clock.now();
        let wait = if gate == 0 {
            match self.take(now) {
                Ok(()) => return Ok(()),
                Err(wait) => wait,
            }
        } else if gate & CLOSED != 0 {
            return Err(LimitError::Closed);
        } else {
            // The queue goes first: report when the slot after its last waiter comes.
            let wait = inner.gcra.wait(inner.tat.load(Ordering::Relaxed), now);
            wait.saturating_add(inner.gcra.span(gate))
        };
        Err(LimitError::Limited {
            retry_after: Duration::from_nanos(wait),
        })
    }

    /// Waits for a slot, in FIFO order among waiters, and takes it.
    ///
    /// A waiter wakes on tokio's timer, whose resolution is a millisecond, so it is
    /// admitted at its slot rounded up to the next millisecond.
    ///
    /// # Errors
    ///
    /// [`LimitError::Closed`] if the limiter is or becomes closed, and
    /// [`LimitError::DeadlinePassed`] when the caller's deadline (`uno_deadline`)
    /// passes before its slot comes.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. If it is used as the event in a `tokio::select!`
    /// statement and some other branch completes first, no slot was taken and the
    /// caller's place in the queue is given up.
    pub async fn acquire(&self) -> Result<(), LimitError> {
        let inner = &*self.inner;
        let gate = inner.gate.load(Ordering::Relaxed);
        if gate & CLOSED != 0 {
            return Err(LimitError::Closed);
        }
        if gate == 0 && self.take(inner.clock.now()).is_ok() {
            return Ok(());
        }
        // The caller's deadline bounds the wait; read only on this slow path.
        let deadline = uno_deadline::current();
        wait_until(deadline, LimitError::DeadlinePassed, self.wait_for_slot()).await?
    }

    /// Queues for a slot, in FIFO order, and takes it when it comes.
    async fn wait_for_slot(&self) -> Result<(), LimitError> {
        let inner = &*self.inner;
        let _waiting = WaitingGuard::new(&inner.gate, None);
        let _turn = inner.turn.lock().await;
        loop {
            let closed = inner.on_close.notified();
            let mut closed = std::pin::pin!(closed);
            closed.as_mut().enable();
            if self.is_closed() {
                return Err(LimitError::Closed);
            }
            let wait = match self.take(inner.clock.now()) {
                Ok(()) => return Ok(()),
                Err(wait) => wait,
            };
            sleep_unless_closed(wait, closed).await?;
        }
    }

    /// Runs `future` once a slot is taken (waiting for one as
    /// [`acquire`](Self::acquire) does).
    ///
    /// # Errors
    ///
    /// [`LimitError::Closed`] if the limiter is or becomes closed before a slot is
    /// taken; `future` is then dropped without being polled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_limit::{LimitError, RateLimiter};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rate = RateLimiter::new(5, Duration::from_secs(1))?;
    /// assert_eq!(rate.run(async { "sent" }).await?, "sent");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run<F: Future>(&self, future: F) -> Result<F::Output, LimitError> {
        self.acquire().await?;
        Ok(future.await)
    }

    /// Runs a fallible `future` as [`run`](Self::run) does, folding a refusal into the
    /// future's own error type (any `E: From<LimitError>`, such as `std::io::Error`).
    ///
    /// # Errors
    ///
    /// The future's own error, or the refusal converted into `E`.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Self::acquire).
    pub async fn try_run<F, T, E>(&self, future: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: From<LimitError>,
    {
        self.run(future).await?
    }

    /// Takes a slot at `now` if it conforms; otherwise the nanoseconds until one would.
    #[inline]
    fn take(&self, now: u64) -> Result<(), u64> {
        let tat = &self.inner.tat;
        let mut current = tat.load(Ordering::Relaxed);
        loop {
            let next = self.inner.gcra.admit(current, now)?;
            match tat.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(actual) => current = actual,
            }
        }
    }

    /// The time between two conforming calls at the steady rate (`period / count`).
    pub fn interval(&self) -> Duration {
        self.inner.gcra.interval()
    }

    /// The most calls admitted at once after the limiter has been idle.
    pub fn burst(&self) -> u32 {
        self.inner.gcra.burst()
    }

    /// How many callers are waiting in [`acquire`](Self::acquire) now.
    pub fn waiting(&self) -> usize {
        self.inner.gate.load(Ordering::Relaxed) & !CLOSED
    }

    /// Closes the limiter: waiting callers and every later request fail with
    /// [`LimitError::Closed`]. Closing twice does nothing more.
    pub fn close(&self) {
        crate::trace!("rate limiter closed");
        self.inner.gate.fetch_or(CLOSED, Ordering::Release);
        self.inner.on_close.notify_waiters();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.gate.load(Ordering::Acquire) & CLOSED != 0
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("interval", &self.interval())
            .field("burst", &self.burst())
            .field("clock", &self.inner.clock.kind())
            .field("waiting", &self.waiting())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl RateLimiterBuilder {
    /// Admit `count` calls per `period` at the steady rate (required).
    pub fn rate(mut self, count: u32, period: Duration) -> Self {
        self.rate = Some((count, period));
        self
    }

    /// Admit up to `burst` calls at once after an idle spell; `count` by default. A
    /// burst of 1 spaces every call one interval apart.
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// Which clock measures time; [`RateClock::Tokio`] by default.
    pub fn clock(mut self, clock: RateClock) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the settings and builds the [`RateLimiter`].
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidConfig`] when no rate was set, for a zero count, period or
    /// burst, for a rate above one call per nanosecond, and for a burst spanning more
    /// than a century.
    pub fn build(self) -> Result<RateLimiter, BuildError> {
        let (gcra, clock) = self.parts()?;
        Ok(RateLimiter::from_parts(gcra, clock))
    }

    /// The checked rate and a started clock.
    pub(crate) fn parts(self) -> Result<(Gcra, Clock), BuildError> {
        let Some((count, period)) = self.rate else {
            return Err(BuildError::InvalidConfig {
                reason: "no rate was set; call .rate(count, period)",
            });
        };
        let gcra = Gcra::new(count, period, self.burst.unwrap_or(count))?;
        Ok((gcra, Clock::new(self.clock)))
    }
}

/// Sleeps `nanos` nanoseconds, or fails with [`LimitError::Closed`] as soon as
/// `closed` (the limiter's close notification) fires.
pub(crate) async fn sleep_unless_closed(
    nanos: u64,
    closed: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
) -> Result<(), LimitError> {
    let sleep = std::pin::pin!(tokio::time::sleep(Duration::from_nanos(nanos)));
    match futures_util::future::select(sleep, closed).await {
        futures_util::future::Either::Left(((), _)) => Ok(()),
        futures_util::future::Either::Right(((), _)) => Err(LimitError::Closed),
    }
}

impl RateLimiter {
    pub(crate) fn from_parts(gcra: Gcra, clock: Clock) -> Self {
        RateLimiter {
            inner: Arc::new(Inner {
                gcra,
                clock,
                tat: AtomicU64::new(0),
                gate: AtomicUsize::new(0),
                turn: tokio::sync::Mutex::new(()),
                on_close: Notify::new(),
            }),
        }
    }
}
