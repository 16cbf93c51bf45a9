//! [`recorded`]: runs code under a metrics recorder of its own and returns what the
//! code recorded, so a test can assert the values of uno's `metrics` feature.

use std::collections::BTreeMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// What code recorded, each metric keyed `name{label=value,...}` (labels sorted by
/// name; just `name` without labels).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recorded {
    /// Counters and their totals.
    pub counters: BTreeMap<String, u64>,
    /// Gauges and their last values.
    pub gauges: BTreeMap<String, f64>,
    /// Histograms and every value recorded into them, in order.
    pub histograms: BTreeMap<String, Vec<f64>>,
}

impl Recorded {
    /// The counter's total, 0 when it was never incremented.
    pub fn counter(&self, key: &str) -> u64 {
        self.counters.get(key).copied().unwrap_or(0)
    }

    /// The gauge's last value, if it was ever set.
    pub fn gauge(&self, key: &str) -> Option<f64> {
        self.gauges.get(key).copied()
    }
}

/// Runs `f` with a recorder of its own, installed for this thread only (so tests
/// running in parallel never mix), and returns what `f` recorded. For async code,
/// build a current-thread runtime inside `f`: its tasks run on this thread.
pub fn recorded<R>(f: impl FnOnce() -> R) -> (R, Recorded) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let result = metrics::with_local_recorder(&recorder, f);
    let mut recorded = Recorded::default();
    for (key, _unit, _description, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut labels: Vec<String> = key
            .labels()
            .map(|label| format!("{}={}", label.key(), label.value()))
            .collect();
        labels.sort();
        let name = match labels.is_empty() {
            true => key.name().to_owned(),
            false => format!("{}{{{}}}", key.name(), labels.join(",")),
        };
        match value {
            DebugValue::Counter(total) => {
                recorded.counters.insert(name, total);
            }
            DebugValue::Gauge(value) => {
                recorded.gauges.insert(name, value.into_inner());
            }
            DebugValue::Histogram(values) => {
                let values = values.into_iter().map(|value| value.into_inner()).collect();
                recorded.histograms.insert(name, values);
            }
        }
    }
    (result, recorded)
}
