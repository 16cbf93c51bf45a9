//! A rate per key: [`KeyedRateLimiter`].

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::{Clock, Gcra, RateLimiterBuilder, sleep_unless_closed};
use crate::policy::wait_until;
use crate::{BuildError, LimitError};

/// The fewest tracked keys at which idle keys are swept out.
const MIN_SWEEP: usize = 1024;

/// Gives every key (a tenant, a client address, an API token) its own rate, by GCRA as
/// [`RateLimiter`](crate::RateLimiter) does.
///
/// A key costs one small map entry while it is *busy*: while its schedule runs ahead
/// of now or someone waits on it. A key whose schedule has caught up with now admits
/// exactly what a new key would, so it is forgotten: idle keys are swept out whenever
/// the map has doubled since the last sweep, which keeps memory in proportion to the
/// keys busy recently (a million keys seen once each leave only the last interval's
/// behind) at an amortized constant cost per call. Within a key waiters are served in
/// FIFO order; keys never wait for each other. Clones share the same keys.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use uno_limit::{KeyedRateLimiter, LimitError};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Each client: 2 requests per second, no burst beyond that.
/// let per_client = KeyedRateLimiter::new(2, Duration::from_secs(1))?;
/// per_client.try_acquire("10.0.0.1")?;
/// per_client.try_acquire("10.0.0.1")?;
/// assert!(per_client.try_acquire("10.0.0.1").is_err());
/// assert!(per_client.try_acquire("10.0.0.2").is_ok()); // another key, its own rate
/// # Ok(())
/// # }
/// ```
///
/// # Cancel safety
///
/// Every future returned here is cancel-safe: a slot is taken only when a call is
/// admitted, so a waiter dropped before then takes nothing and leaves its key's queue.
pub struct KeyedRateLimiter<K: Hash + Eq> {
    inner: Arc<Inner<K>>,
}

struct Inner<K> {
    gcra: Gcra,
    clock: Clock,
    state: Mutex<State<K>>,
    on_close: Notify,
}

struct State<K> {
    closed: bool,
    keys: HashMap<K, Entry>,
    /// Sweep idle keys once the map holds this many.
    sweep_at: usize,
}

struct Entry {
    /// The key's schedule: the theoretical arrival time of its next call.
    tat: u64,
    /// Callers waiting in `acquire` for this key; the key is kept while any do.
    waiters: usize,
    /// FIFO order among them (present while `waiters > 0`).
    queue: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Entry {
    const FRESH: Entry = Entry {
        tat: 0,
        waiters: 0,
        queue: None,
    };
}

impl<K: Hash + Eq> KeyedRateLimiter<K> {
    /// Creates a limiter that admits `count` calls per `period` for each key, in bursts
    /// of up to `count`.
    ///
    /// # Errors
    ///
    /// As [`RateLimiter::new`](crate::RateLimiter::new).
    pub fn new(count: u32, period: Duration) -> Result<Self, BuildError> {
        Self::builder().rate(count, period).build_keyed()
    }

    /// Starts a [`RateLimiterBuilder`]; finish it with
    /// [`build_keyed`](RateLimiterBuilder::build_keyed).
    pub fn builder() -> RateLimiterBuilder {
        RateLimiterBuilder::default()
    }

    pub(crate) fn from_parts(gcra: Gcra, clock: Clock) -> Self {
        KeyedRateLimiter {
            inner: Arc::new(Inner {
                gcra,
                clock,
                state: Mutex::new(State {
                    closed: false,
                    keys: HashMap::new(),
                    sweep_at: MIN_SWEEP,
                }),
                on_close: Notify::new(),
            }),
        }
    }

    /// Takes a slot of `key` now if its rate allows one; never queues, and never
    /// overtakes callers waiting on the same key.
    ///
    /// # Errors
    ///
    /// [`LimitError::Limited`] with the time until a call of `key` would conform, and
    /// [`LimitError::Closed`] once the limiter is closed.
    pub fn try_acquire(&self, key: K) -> Result<(), LimitError> {
        let inner = &*self.inner;
        let now = inner.clock.now();
        let mut state = inner.lock();
        if state.closed {
            return Err(LimitError::Closed);
        }
        state.sweep(now);
        let wait = match state.keys.entry(key) {
            MapEntry::Occupied(entry) => {
                let entry = entry.into_mut();
                if entry.waiters > 0 {
                    let wait = inner.gcra.wait(entry.tat, now);
                    wait.saturating_add(inner.gcra.span(entry.waiters))
                } else {
                    match inner.gcra.admit(entry.tat, now) {
                        Ok(next) => {
                            entry.tat = next;
                            return Ok(());
                        }
                        Err(wait) => wait,
                    }
                }
            }
            MapEntry::Vacant(entry) => {
                // A fresh key conforms: its schedule starts now.
                let tat = inner.gcra.admit(0, now).unwrap_or(now);
                entry.insert(Entry {
                    tat,
                    ..Entry::FRESH
                });
                return Ok(());
            }
        };
        Err(LimitError::Limited {
            retry_after: Duration::from_nanos(wait),
        })
    }

    /// Waits for a slot of `key`, in FIFO order among that key's waiters, and takes it.
    ///
    /// # Errors
    ///
    /// [`LimitError::Closed`] if the limiter is or becomes closed, and
    /// [`LimitError::DeadlinePassed`] when the caller's deadline (`uno_deadline`)
    /// passes first.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. If it is used as the event in a `tokio::select!`
    /// statement and some other branch completes first, no slot was taken and the
    /// caller's place in the queue is given up.
    pub async fn acquire(&self, key: K) -> Result<(), LimitError>
    where
        K: Clone,
    {
        let inner = &*self.inner;
        let queue = {
            let now = inner.clock.now();
            let mut state = inner.lock();
            if state.closed {
                return Err(LimitError::Closed);
            }
            state.sweep(now);
            let entry = state.keys.entry(key.clone()).or_insert(Entry::FRESH);
            if entry.waiters == 0
                && let Ok(next) = inner.gcra.admit(entry.tat, now)
            {
                entry.tat = next;
                return Ok(());
            }
            entry.waiters += 1;
            Arc::clone(entry.queue.get_or_insert_with(Default::default))
        };
        let _waiter = Waiter { inner, key: &key };
        // The caller's deadline bounds the wait; read only on this slow path.
        let deadline = uno_deadline::current();
        let wait = self.wait_for_slot(&key, &queue);
        wait_until(deadline, LimitError::DeadlinePassed, wait).await?
    }

    /// Waits for `key`'s slot behind the key's earlier waiters and takes it.
    async fn wait_for_slot(&self, key: &K, queue: &tokio::sync::Mutex<()>) -> Result<(), LimitError>
    where
        K: Clone,
    {
        let inner = &*self.inner;
        let _turn = queue.lock().await;
        loop {
            let closed = inner.on_close.notified();
            let mut closed = std::pin::pin!(closed);
            closed.as_mut().enable();
            let wait = {
                let now = inner.clock.now();
                let mut state = inner.lock();
                if state.closed {
                    return Err(LimitError::Closed);
                }
                // Kept while we wait: entries with waiters are never swept.
                let entry = state.keys.entry(key.clone()).or_insert(Entry::FRESH);
                match inner.gcra.admit(entry.tat, now) {
                    Ok(next) => {
                        entry.tat = next;
                        return Ok(());
                    }
                    Err(wait) => wait,
                }
            };
            sleep_unless_closed(wait, closed).await?;
        }
    }

    /// Runs `future` once a slot of `key` is taken.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire); `future` is then dropped without being polled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`acquire`](Self::acquire).
    pub async fn run<F: Future>(&self, key: K, future: F) -> Result<F::Output, LimitError>
    where
        K: Clone,
    {
        self.acquire(key).await?;
        Ok(future.await)
    }

    /// How many keys the limiter holds state for now: the busy ones, and idle ones not
    /// yet swept out.
    pub fn tracked_keys(&self) -> usize {
        self.inner.lock().keys.len()
    }

    /// The time between two conforming calls of one key at the steady rate.
    pub fn interval(&self) -> Duration {
        self.inner.gcra.interval()
    }

    /// The most calls of one key admitted at once after it has been idle.
    pub fn burst(&self) -> u32 {
        self.inner.gcra.burst()
    }

    /// Closes the limiter: waiting callers and every later request fail with
    /// [`LimitError::Closed`]. Closing twice does nothing more.
    pub fn close(&self) {
        crate::trace!("keyed rate limiter closed");
        self.inner.lock().closed = true;
        self.inner.on_close.notify_waiters();
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }
}

impl<K> Inner<K> {
    fn lock(&self) -> MutexGuard<'_, State<K>> {
        // No user code runs under the lock, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Hash + Eq> State<K> {
    /// Forgets idle keys once the map has doubled since the last sweep.
    fn sweep(&mut self, now: u64) {
        if self.keys.len() < self.sweep_at {
            return;
        }
        self.keys
            .retain(|_, entry| entry.waiters > 0 || !Gcra::is_idle(entry.tat, now));
        let live = self.keys.len();
        self.sweep_at = live.saturating_mul(2).max(MIN_SWEEP);
        if self.keys.capacity() > self.sweep_at.saturating_mul(2) {
            self.keys.shrink_to(self.sweep_at);
        }
    }
}

/// One caller waiting on a key, from before it queues until it is admitted, fails or
/// is cancelled.
struct Waiter<'a, K: Hash + Eq> {
    inner: &'a Inner<K>,
    key: &'a K,
}

impl<K: Hash + Eq> Drop for Waiter<'_, K> {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        if let Some(entry) = state.keys.get_mut(self.key) {
            entry.waiters -= 1;
            if entry.waiters == 0 {
                entry.queue = None;
            }
        }
    }
}

impl<K: Hash + Eq> Clone for KeyedRateLimiter<K> {
    fn clone(&self) -> Self {
        KeyedRateLimiter {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K: Hash + Eq> fmt::Debug for KeyedRateLimiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedRateLimiter")
            .field("interval", &self.interval())
            .field("burst", &self.burst())
            .field("clock", &self.inner.clock.kind())
            .field("tracked_keys", &self.tracked_keys())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl RateLimiterBuilder {
    /// Checks the settings and builds a [`KeyedRateLimiter`] giving each key this rate.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use uno_limit::{KeyedRateLimiter, RateLimiter};
    ///
    /// let per_user: KeyedRateLimiter<u64> = RateLimiter::builder()
    ///     .rate(100, Duration::from_secs(60))
    ///     .burst(10)
    ///     .build_keyed()?;
    /// assert_eq!(per_user.burst(), 10);
    /// # Ok::<(), uno_limit::BuildError>(())
    /// ```
    pub fn build_keyed<K: Hash + Eq>(self) -> Result<KeyedRateLimiter<K>, BuildError> {
        let (gcra, clock) = self.parts()?;
        Ok(KeyedRateLimiter::from_parts(gcra, clock))
    }
}
