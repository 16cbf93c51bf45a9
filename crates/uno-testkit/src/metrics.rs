//! [`recorded`]: runs code under a metrics recorder of its own and returns what the
//! code recorded, so a test can assert the values of uno's `metrics` feature.

use std::collections::BTreeMap;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshot};

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
    (result, Recorded::from(snapshotter.snapshot()))
}

impl From<Snapshot> for Recorded {
    fn from(snapshot: Snapshot) -> Self {
        let mut recorded = Recorded::default();
        for (key, _unit, _description, value) in snapshot.into_vec() {
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
        recorded
    }
}

impl std::fmt::Display for Recorded {
    /// One line per metric, in name order: a counter's total, a gauge's value, a
    /// histogram's count, mean and maximum.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut lines: Vec<(String, String)> = Vec::new();
        for (name, total) in &self.counters {
            lines.push((name.clone(), total.to_string()));
        }
        for (name, value) in &self.gauges {
            lines.push((name.clone(), format!("{value}")));
        }
        for (name, values) in &self.histograms {
            let count = values.len();
            let mean = values.iter().sum::<f64>() / count.max(1) as f64;
            let max = values.iter().copied().fold(0.0_f64, f64::max);
            lines.push((
                name.clone(),
                format!("count {count}, mean {mean:.4}, max {max:.4}"),
            ));
        }
        lines.sort();
        let width = lines.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        for (name, value) in lines {
            writeln!(f, "{name:<width$}  {value}")?;
        }
        Ok(())
    }
}

/// Runs `test` on a new current-thread runtime with paused time, under [`recorded`].
/// Returns what was recorded, what `test` returned and the runtime: what the test
/// hands back (permits, waiting tasks) and the runtime's tasks stay alive until the
/// caller drops them, after the metrics were read.
///
/// # Panics
///
/// If the runtime cannot be built, and with any panic of `test`.
pub fn recorded_paused<T>(test: impl Future<Output = T>) -> (Recorded, T, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    let (held, recorded) = recorded(|| runtime.block_on(test));
    (recorded, held, runtime)
}
