//! Helpers shared by the behaviour tests.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::mpsc;

/// A flag that a test sets from inside a task and reads afterwards.
#[derive(Clone, Default)]
pub struct Flag(Arc<AtomicBool>);

impl Flag {
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Counts how many of its guards were dropped, and lets a test wait for them.
pub struct DropCounter {
    dropped: Arc<AtomicUsize>,
    sender: mpsc::UnboundedSender<()>,
    receiver: mpsc::UnboundedReceiver<()>,
}

/// Lives inside a task; its drop is the task's cancellation (or end).
pub struct DropGuard {
    dropped: Arc<AtomicUsize>,
    sender: mpsc::UnboundedSender<()>,
}

impl DropCounter {
    pub fn new() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        DropCounter {
            dropped: Arc::default(),
            sender,
            receiver,
        }
    }

    pub fn guard(&self) -> DropGuard {
        DropGuard {
            dropped: Arc::clone(&self.dropped),
            sender: self.sender.clone(),
        }
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Waits until `count` guards in total have been dropped; fails (rather than hangs)
    /// when they are not dropped within a generous bound.
    pub async fn wait_for(&mut self, count: usize) {
        let all_dropped = async {
            while self.dropped() < count {
                self.receiver
                    .recv()
                    .await
                    .expect("the counter holds a sender");
            }
        };
        if tokio::time::timeout(std::time::Duration::from_secs(30), all_dropped)
            .await
            .is_err()
        {
            panic!("only {} of {count} tasks were dropped", self.dropped());
        }
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
        let _ = self.sender.send(());
    }
}

/// A tiny deterministic random number generator (xorshift), for random delays.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// Awaits `future`, failing the test (rather than hanging it) when it takes longer than
/// a generous bound: the way a broken cancellation shows up.
pub async fn within<F: std::future::Future>(future: F) -> F::Output {
    match tokio::time::timeout(std::time::Duration::from_secs(30), future).await {
        Ok(output) => output,
        Err(_) => panic!("still waiting after 30 s: a task was not cancelled"),
    }
}
