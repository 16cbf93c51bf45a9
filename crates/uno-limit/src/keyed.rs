//! A limit per key: [`KeyedLimiter`] and its [`KeyedPermit`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::check_limit;
use crate::policy::{admit, try_error};
use crate::{BuildError, FullPolicy, LimitError};

/// Gives every key (a tenant, a host, a user) its own concurrency limit.
///
/// Each key gets `limit_per_key` permits, created on first use. A key's state is
/// removed as soon as nobody holds or waits for one of its permits, so memory follows
/// the keys in use now, not every key ever seen. Within a key, waiters are served in
/// FIFO order; keys never wait for each other. Clones share the same keys.
///
/// # Examples
///
/// ```
/// use uno_limit::{KeyedLimiter, LimitError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let per_tenant = KeyedLimiter::new(2)?;
/// let a = per_tenant.acquire("tenant-a").await?;
/// let b = per_tenant.acquire("tenant-b").await?;
/// assert_eq!(per_tenant.active_keys(), 2);
/// drop((a, b));
/// assert_eq!(per_tenant.active_keys(), 0); // idle keys are forgotten
/// # Ok(())
/// # }
/// ```
///
/// # Cancel safety
///
/// Every future returned here is cancel-safe: dropped while waiting, it holds no
/// permit and leaves its key's queue (removing the key if it was the last user).
pub struct KeyedLimiter<K: Hash + Eq> {
    inner: Arc<KeyedInner<K>>,
}

struct KeyedInner<K> {
    limit: usize,
    on_full: FullPolicy,
    waiting: AtomicUsize,
    state: Mutex<KeyedState<K>>,
}

struct KeyedState<K> {
    closed: bool,
    keys: HashMap<K, Entry>,
}

struct Entry {
    semaphore: Arc<Semaphore>,
    /// Callers that hold or wait for one of this key's permits.
    users: usize,
}

/// Room for one operation under one key of a [`KeyedLimiter`]; dropping it gives the
/// room back and forgets the key if it became idle.
#[must_use = "the permit is released as soon as it is dropped"]
pub struct KeyedPermit<K: Hash + Eq> {
    // Fields drop in order: the semaphore permit is returned before the key's use is
    // counted down, so a key is never removed while a permit of it is outstanding.
    _permit: OwnedSemaphorePermit,
    key_use: KeyUse<K>,
}

/// One caller's use of a key, counted from before it waits until its permit is gone.
struct KeyUse<K: Hash + Eq> {
    inner: Arc<KeyedInner<K>>,
    key: K,
}

impl<K: Hash + Eq> KeyedLimiter<K> {
    /// Creates a keyed limiter letting at most `limit_per_key` operations run at once
    /// for each key, with callers waiting when their key is full.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroLimit`] when `limit_per_key` is 0,
    /// [`BuildError::LimitTooLarge`] above tokio's semaphore maximum.
    pub fn new(limit_per_key: usize) -> Result<Self, BuildError> {
        Self::with_policy(limit_per_key, FullPolicy::Wait)
    }

    /// Creates a keyed limiter that acts on a full key as `on_full` says.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), and [`BuildError::InvalidConfig`] for a zero
    /// [`FullPolicy::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use uno_limit::{FullPolicy, KeyedLimiter, LimitError};
    ///
    /// let per_host = KeyedLimiter::with_policy(1, FullPolicy::Reject)?;
    /// let _held = per_host.try_acquire("example.org")?;
    /// assert!(per_host.try_acquire("example.org").is_err());
    /// assert!(per_host.try_acquire("example.com").is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_policy(limit_per_key: usize, on_full: FullPolicy) -> Result<Self, BuildError> {
        let limit = check_limit(limit_per_key)?;
        let on_full = on_full.validate()?;
        Ok(KeyedLimiter {
            inner: Arc::new(KeyedInner {
                limit,
                on_full,
                waiting: AtomicUsize::new(0),
                state: Mutex::new(KeyedState {
                    closed: false,
                    keys: HashMap::new(),
                }),
            }),
        })
    }

    /// Runs `future` while holding a permit of `key`.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire); `future` is then dropped without being polled.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`acquire`](Self::acquire); dropped while running, it releases
    /// its permit.
    pub async fn run<F: Future>(&self, key: K, future: F) -> Result<F::Output, LimitError>
    where
        K: Clone,
    {
        let permit = self.acquire(key).await?;
        // `.await` moves `future` into a temporary created after `permit`, so a `run`
        // cancelled while running drops the work (and what it holds) before the permit.
        let output = future.await;
        drop(permit);
        Ok(output)
    }

    /// Runs a fallible `future` under `key` as [`run`](Self::run) does, folding a
    /// refusal into the future's own error type (any `E: From<LimitError>`).
    ///
    /// # Errors
    ///
    /// The future's own error, or the refusal converted into `E`.
    ///
    /// # Cancel safety
    ///
    /// As [`run`](Self::run).
    pub async fn try_run<F, T, E>(&self, key: K, future: F) -> Result<T, E>
    where
        K: Clone,
        F: Future<Output = Result<T, E>>,
        E: From<LimitError>,
    {
        self.run(key, future).await?
    }

    /// Gets a permit of `key` as the limiter's [`FullPolicy`] says.
    ///
    /// # Errors
    ///
    /// [`LimitError::Closed`] if the limiter is or becomes closed, and
    /// [`LimitError::Full`] or [`LimitError::Timeout`] under those policies.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. If it is used as the event in a `tokio::select!`
    /// statement and some other branch completes first, no permit is held and the
    /// caller's place in the queue is given up.
    pub async fn acquire(&self, key: K) -> Result<KeyedPermit<K>, LimitError>
    where
        K: Clone,
    {
        self.acquire_with(key, self.inner.on_full).await
    }

    /// Gets a permit of `key` if one is free now.
    ///
    /// # Errors
    ///
    /// [`LimitError::Full`] when the key's permits are all taken,
    /// [`LimitError::Closed`] when the limiter is closed.
    pub fn try_acquire(&self, key: K) -> Result<KeyedPermit<K>, LimitError>
    where
        K: Clone,
    {
        let (semaphore, key_use) = self.start_use(key)?;
        let permit = semaphore
            .try_acquire_owned()
            .map_err(|error| try_error(&error, self.inner.limit))?;
        Ok(KeyedPermit {
            _permit: permit,
            key_use,
        })
    }

    /// Waits up to `timeout` for a permit of `key`.
    ///
    /// # Errors
    ///
    /// [`LimitError::Timeout`] when no permit became free in time,
    /// [`LimitError::Closed`] when the limiter is or becomes closed.
    ///
    /// # Cancel safety
    ///
    /// This method is cancel safe. If it is used as the event in a `tokio::select!`
    /// statement and some other branch completes first, no permit is held and the
    /// caller's place in the queue is given up.
    pub async fn acquire_timeout(
        &self,
        key: K,
        timeout: Duration,
    ) -> Result<KeyedPermit<K>, LimitError>
    where
        K: Clone,
    {
        if timeout.is_zero() {
            return self.try_acquire(key).map_err(|error| match error {
                LimitError::Full { .. } => LimitError::Timeout { timeout },
                other => other,
            });
        }
        self.acquire_with(key, FullPolicy::Timeout(timeout)).await
    }

    async fn acquire_with(&self, key: K, policy: FullPolicy) -> Result<KeyedPermit<K>, LimitError>
    where
        K: Clone,
    {
        // The use is counted before waiting, so the key outlives its waiters, and the
        // count is dropped with this future if the wait is cancelled.
        let (semaphore, key_use) = self.start_use(key)?;
        let permit = admit(
            policy,
            || self.inner.limit,
            (&self.inner.waiting, None),
            || semaphore.clone().try_acquire_owned(),
            || semaphore.clone().acquire_owned(),
        )
        .await?;
        Ok(KeyedPermit {
            _permit: permit,
            key_use,
        })
    }

    fn start_use(&self, key: K) -> Result<(Arc<Semaphore>, KeyUse<K>), LimitError>
    where
        K: Clone,
    {
        let mut state = self.inner.lock();
        if state.closed {
            return Err(LimitError::Closed);
        }
        let limit = self.inner.limit;
        let entry = state.keys.entry(key.clone()).or_insert_with(|| Entry {
            semaphore: Arc::new(Semaphore::new(limit)),
            users: 0,
        });
        entry.users += 1;
        let semaphore = entry.semaphore.clone();
        drop(state);
        let key_use = KeyUse {
            inner: self.inner.clone(),
            key,
        };
        Ok((semaphore, key_use))
    }

    /// How many permits of `key` are held now.
    pub fn in_flight(&self, key: &K) -> usize {
        let state = self.inner.lock();
        match state.keys.get(key) {
            Some(entry) => self.inner.limit - entry.semaphore.available_permits(),
            None => 0,
        }
    }

    /// How many callers wait for a permit now, over all keys.
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// How many keys have a permit held or awaited now: the keys whose state is kept.
    pub fn active_keys(&self) -> usize {
        self.inner.lock().keys.len()
    }

    /// The most operations each key may run at once.
    pub fn limit_per_key(&self) -> usize {
        self.inner.limit
    }

    /// What this limiter does when a key is full.
    pub fn on_full(&self) -> FullPolicy {
        self.inner.on_full
    }

    /// Closes the limiter for every key: waiting callers and every later request fail
    /// with [`LimitError::Closed`]; running operations finish.
    pub fn close(&self) {
        crate::trace!("keyed limiter closed");
        let mut state = self.inner.lock();
        state.closed = true;
        for entry in state.keys.values() {
            entry.semaphore.close();
        }
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }
}

impl<K> KeyedInner<K> {
    fn lock(&self) -> MutexGuard<'_, KeyedState<K>> {
        // The state stays consistent even if a holder panicked: every critical section
        // is a single map update.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Hash + Eq> Drop for KeyUse<K> {
    fn drop(&mut self) {
        let mut state = self.inner.lock();
        if let Some(entry) = state.keys.get_mut(&self.key) {
            entry.users -= 1;
            if entry.users == 0 {
                state.keys.remove(&self.key);
                state.shrink_after_burst();
            }
        }
    }
}

impl<K: Hash + Eq> KeyedState<K> {
    /// Gives memory back once a burst of keys has passed: a map that fell to a quarter
    /// of its capacity is halved in capacity (never below a small floor), so the cost
    /// of rehashing is amortised over the removals that led to it.
    fn shrink_after_burst(&mut self) {
        const FLOOR: usize = 64;
        let capacity = self.keys.capacity();
        if capacity > FLOOR && self.keys.len() * 4 < capacity {
            self.keys.shrink_to((self.keys.len() * 2).max(FLOOR));
        }
    }
}

impl<K: Hash + Eq> Clone for KeyedLimiter<K> {
    fn clone(&self) -> Self {
        KeyedLimiter {
            inner: self.inner.clone(),
        }
    }
}

impl<K: Hash + Eq> fmt::Debug for KeyedLimiter<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLimiter")
            .field("limit_per_key", &self.inner.limit)
            .field("active_keys", &self.active_keys())
            .field("waiting", &self.waiting())
            .field("on_full", &self.inner.on_full)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq> KeyedPermit<K> {
    /// The key this permit belongs to.
    pub fn key(&self) -> &K {
        &self.key_use.key
    }
}

impl<K: Hash + Eq + fmt::Debug> fmt::Debug for KeyedPermit<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedPermit")
            .field("key", &self.key_use.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_map_gives_memory_back_after_a_burst() {
        let limiter = KeyedLimiter::new(1).unwrap();
        let burst: Vec<_> = (0..10_000u32)
            .map(|key| limiter.try_acquire(key).unwrap())
            .collect();
        let peak = limiter.inner.lock().keys.capacity();
        assert!(peak >= 10_000);
        drop(burst);
        let after = limiter.inner.lock().keys.capacity();
        assert!(
            after <= 128,
            "capacity stayed at {after} after the burst (peak {peak})"
        );
    }
}
