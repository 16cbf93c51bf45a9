//! Counters the run keeps, the progress display and the closing summary.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What the run counts; shared by every task.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) done: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) batched_orders: AtomicU64,
    pub(crate) payment_calls: AtomicU64,
    latencies: Mutex<Vec<Duration>>,
    limit: Mutex<Option<(usize, usize, usize)>>,
}

impl Stats {
    pub(crate) fn record_latency(&self, latency: Duration) {
        self.latencies.lock().expect("stats lock").push(latency);
    }

    pub(crate) fn record_batch(&self, orders: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.batched_orders
            .fetch_add(orders as u64, Ordering::Relaxed);
        self.done.fetch_add(orders as u64, Ordering::Relaxed);
    }

    /// Records one sample of the limiter's current limit.
    pub(crate) fn record_limit(&self, limit: usize) {
        let mut range = self.limit.lock().expect("stats lock");
        *range = Some(match *range {
            None => (limit, limit, limit),
            Some((min, _, max)) => (min.min(limit), limit, max.max(limit)),
        });
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut latencies = self.latencies.lock().expect("stats lock").clone();
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        latencies.sort_unstable();
        let index = ((latencies.len() - 1) as f64 * p).round() as usize;
        latencies[index]
    }

    fn finished(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
            + self.failed.load(Ordering::Relaxed)
            + self.skipped.load(Ordering::Relaxed)
    }
}

/// A progress bar on a terminal, a plain line a second otherwise.
#[derive(Debug)]
pub(crate) enum Progress {
    Bar(indicatif::ProgressBar),
    Lines {
        total: u64,
        ticks: std::sync::atomic::AtomicU32,
    },
}

impl Progress {
    pub(crate) fn new(total: u64) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} orders  {msg}",
                )
                .expect("valid progress template"),
            );
            Progress::Bar(bar)
        } else {
            Progress::Lines {
                total,
                ticks: std::sync::atomic::AtomicU32::new(0),
            }
        }
    }

    pub(crate) fn update(&self, stats: &Stats, limit: usize) {
        let finished = stats.finished();
        let message = format!(
            "done {} failed {} retries {} limit {limit}",
            stats.done.load(Ordering::Relaxed),
            stats.failed.load(Ordering::Relaxed),
            stats.retries.load(Ordering::Relaxed),
        );
        match self {
            Progress::Bar(bar) => {
                bar.set_position(finished);
                bar.set_message(message);
            }
            // Updates come ten times a second; a line a second is enough for a log.
            Progress::Lines { total, ticks } => {
                if ticks.fetch_add(1, Ordering::Relaxed) % 10 == 0 {
                    println!("progress: {finished}/{total} {message}");
                }
            }
        }
    }

    pub(crate) fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Prints the closing summary table.
pub(crate) fn print_summary(stats: &Stats, orders: u64, elapsed: Duration, backend: &str) {
    let done = stats.done.load(Ordering::Relaxed);
    let batches = stats.batches.load(Ordering::Relaxed);
    let batched = stats.batched_orders.load(Ordering::Relaxed);
    let mean_batch = if batches == 0 {
        0.0
    } else {
        batched as f64 / batches as f64
    };
    let (min, last, max) = stats.limit.lock().expect("stats lock").unwrap_or_default();
    let rows = [
        ("database", backend.to_owned()),
        ("orders submitted", orders.to_string()),
        ("orders done", done.to_string()),
        (
            "orders failed",
            stats.failed.load(Ordering::Relaxed).to_string(),
        ),
        (
            "orders not started",
            stats.skipped.load(Ordering::Relaxed).to_string(),
        ),
        (
            "payment calls",
            stats.payment_calls.load(Ordering::Relaxed).to_string(),
        ),
        (
            "payment retries",
            stats.retries.load(Ordering::Relaxed).to_string(),
        ),
        ("batches written", batches.to_string()),
        ("mean batch size", format!("{mean_batch:.1}")),
        ("limit min/final/max", format!("{min} / {last} / {max}")),
        (
            "throughput",
            format!(
                "{:.0} orders/s",
                done as f64 / elapsed.as_secs_f64().max(1e-9)
            ),
        ),
        ("latency p50", format!("{:.1?}", stats.percentile(0.50))),
        ("latency p99", format!("{:.1?}", stats.percentile(0.99))),
        ("elapsed", format!("{elapsed:.2?}")),
    ];
    println!();
    println!("+----------------------+----------------------------+");
    for (name, value) in rows {
        println!("| {name:<20} | {value:>26} |");
    }
    println!("+----------------------+----------------------------+");
}
