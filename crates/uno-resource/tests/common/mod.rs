//! A resource that records what happens to it, shared by the behaviour tests.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use uno_resource::AsyncResource;

/// What a probe's `initialize` or `cleanup` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Behaviour {
    #[default]
    Succeed,
    Fail,
    Panic,
    /// Never finishes.
    Hang,
    /// Finishes after a while.
    Sleep(Duration),
}

/// Counts and logs every lifecycle call of the probes made from it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Log {
    pub(crate) initialized: Arc<AtomicUsize>,
    pub(crate) cleanups_started: Arc<AtomicUsize>,
    pub(crate) cleanups_finished: Arc<AtomicUsize>,
    pub(crate) order: Arc<Mutex<Vec<String>>>,
    pub(crate) unhealthy: Arc<AtomicBool>,
}

impl Log {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn probe(&self, name: &str) -> Probe {
        Probe {
            name: name.to_owned(),
            log: self.clone(),
            initialize: Behaviour::Succeed,
            cleanup: Behaviour::Succeed,
        }
    }

    pub(crate) fn initialized(&self) -> usize {
        self.initialized.load(Ordering::SeqCst)
    }

    pub(crate) fn cleanups_started(&self) -> usize {
        self.cleanups_started.load(Ordering::SeqCst)
    }

    pub(crate) fn cleanups_finished(&self) -> usize {
        self.cleanups_finished.load(Ordering::SeqCst)
    }

    /// The names of the probes whose cleanup finished, in order.
    pub(crate) fn cleaned(&self) -> Vec<String> {
        self.order.lock().unwrap().clone()
    }
}

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("probe {0} failed")]
pub(crate) struct ProbeError(pub(crate) String);

#[derive(Debug)]
pub(crate) struct Probe {
    pub(crate) name: String,
    pub(crate) log: Log,
    pub(crate) initialize: Behaviour,
    pub(crate) cleanup: Behaviour,
}

impl Probe {
    pub(crate) fn initialize(mut self, behaviour: Behaviour) -> Self {
        self.initialize = behaviour;
        self
    }

    pub(crate) fn cleanup(mut self, behaviour: Behaviour) -> Self {
        self.cleanup = behaviour;
        self
    }
}

async fn act(behaviour: Behaviour, name: &str) -> Result<(), ProbeError> {
    match behaviour {
        Behaviour::Succeed => Ok(()),
        Behaviour::Fail => Err(ProbeError(name.to_owned())),
        Behaviour::Panic => panic!("probe {name} panicked"),
        Behaviour::Hang => std::future::pending().await,
        Behaviour::Sleep(duration) => {
            tokio::time::sleep(duration).await;
            Ok(())
        }
    }
}

impl AsyncResource for Probe {
    type Error = ProbeError;

    async fn initialize(&mut self) -> Result<(), ProbeError> {
        act(self.initialize, &self.name).await?;
        self.log.initialized.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn cleanup(&mut self) -> Result<(), ProbeError> {
        self.log.cleanups_started.fetch_add(1, Ordering::SeqCst);
        act(self.cleanup, &self.name).await?;
        self.log.cleanups_finished.fetch_add(1, Ordering::SeqCst);
        self.log.order.lock().unwrap().push(self.name.clone());
        Ok(())
    }

    async fn is_healthy(&mut self) -> bool {
        !self.log.unhealthy.load(Ordering::SeqCst)
    }
}
