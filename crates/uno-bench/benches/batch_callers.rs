//! Micro-batching at 16, 256 and 2,048 callers, each adding one item at a time and
//! awaiting its output before adding the next: uno's `AsyncBatcher` under each
//! `BatchPolicy`, a hand-written mpsc + oneshot loop, and batch-aint-one (its
//! `Immediate` and `Balanced` policies), in one criterion group per caller count.
//! Batches of at most 100, a 1 ms window, one batch at a time, and an operation that
//! does no work, so what is measured is the batcher's own cost and the time items wait.
//!
//! `uno` is the `Immediate` policy (the one the ratio column compares everything to);
//! `uno_window` and `uno_balanced` are the other two.
//!
//! `batch/callers_*` run on two worker threads, as a service would; where the batcher's
//! worker and the callers land on those threads changes the figures by up to 2x from
//! one run to the next. `batch/cpu_callers_*` run the same scenarios on a
//! current-thread runtime, where nothing but the work done per item counts: the stable
//! measure of what each item costs.
//!
//! After the criterion groups, one more pass per implementation records every item's
//! latency and prints items/s, p50 and p99 as a markdown table (copied into
//! docs/benchmarks.md by hand).
#![allow(
    clippy::disallowed_methods,
    reason = "callers are bare tasks, as in the services this stands for"
)]

#[path = "shared/hand_loop.rs"]
mod hand_loop;
#[path = "shared/no_op_processor.rs"]
mod no_op_processor;

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use no_op_processor::NoOpProcessor;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};
use uno_batch::{AsyncBatcher, BatchPolicy};

const MAX_BATCH_SIZE: usize = 100;
const WINDOW: Duration = Duration::from_millis(1);
/// Caller counts, and how many items each caller adds (fewer where each item waits).
const SCENARIOS: [(u64, u64); 3] = [(16, 500), (256, 200), (2048, 50)];

/// Something callers add items to and await outputs from.
trait Submit: Clone + Send + Sync + 'static {
    fn submit(&self, item: u64) -> impl Future<Output = u64> + Send + '_;
}

impl Submit for AsyncBatcher<u64, u64, Infallible> {
    async fn submit(&self, item: u64) -> u64 {
        self.add(item).await.expect("the no-op batch succeeds")
    }
}

/// What one writes by hand (see `shared/hand_loop.rs`).
#[derive(Clone)]
struct HandWritten(mpsc::UnboundedSender<hand_loop::Request>);

impl HandWritten {
    fn start() -> Self {
        HandWritten(hand_loop::start(MAX_BATCH_SIZE).0)
    }
}

impl Submit for HandWritten {
    fn submit(&self, item: u64) -> impl Future<Output = u64> + Send + '_ {
        let (reply, output) = oneshot::channel();
        self.0.send((item, reply)).expect("the loop runs");
        async move { output.await.expect("the loop answers") }
    }
}

impl Submit for batch_aint_one::Batcher<NoOpProcessor> {
    async fn submit(&self, item: u64) -> u64 {
        self.add((), item).await.expect("the no-op batch succeeds")
    }
}

fn uno(policy: BatchPolicy) -> AsyncBatcher<u64, u64, Infallible> {
    AsyncBatcher::builder(|items: Vec<u64>| async move { Ok::<_, Infallible>(items) })
        .max_batch_size(MAX_BATCH_SIZE)
        .max_wait_time(WINDOW)
        .policy(policy)
        .build()
        .expect("a valid batcher")
}

fn batch_aint_one(
    policy: batch_aint_one::BatchingPolicy,
    items: u64,
) -> batch_aint_one::Batcher<NoOpProcessor> {
    use batch_aint_one::{Batcher, Limits};
    Batcher::builder()
        .name("bench")
        .processor(NoOpProcessor)
        .limits(
            Limits::builder()
                .max_batch_size(MAX_BATCH_SIZE)
                .max_key_concurrency(1)
                .max_key_queued_items(usize::try_from(items).expect("fits"))
                .build(),
        )
        .batching_policy(policy)
        .build()
}

/// `callers` tasks each add `per_caller` items one after another. Returns every item's
/// latency when `record` is set.
async fn drive<S: Submit>(submit: S, callers: u64, per_caller: u64, record: bool) -> Vec<Duration> {
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let submit = submit.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut sum = 0;
                for n in 0..per_caller {
                    let item = caller * per_caller + n;
                    if record {
                        let started = Instant::now();
                        sum += submit.submit(item).await;
                        latencies.push(started.elapsed());
                    } else {
                        sum += submit.submit(item).await;
                    }
                }
                black_box(sum);
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("no caller panics"));
    }
    latencies
}

/// The implementations, by name; each call starts a fresh one.
const KINDS: [&str; 6] = [
    "uno",
    "uno_window",
    "uno_balanced",
    "hand_written",
    "batch_aint_one_immediate",
    "batch_aint_one_balanced",
];

async fn run(kind: &str, callers: u64, per_caller: u64, record: bool) -> Vec<Duration> {
    use batch_aint_one::BatchingPolicy as Peer;
    let items = callers * per_caller;
    match kind {
        "uno_window" => drive(uno(BatchPolicy::Window), callers, per_caller, record).await,
        "uno" => drive(uno(BatchPolicy::Immediate), callers, per_caller, record).await,
        "uno_balanced" => drive(uno(BatchPolicy::Balanced), callers, per_caller, record).await,
        "hand_written" => drive(HandWritten::start(), callers, per_caller, record).await,
        "batch_aint_one_immediate" => {
            drive(
                batch_aint_one(Peer::Immediate, items),
                callers,
                per_caller,
                record,
            )
            .await
        }
        _ => {
            let balanced = Peer::Balanced {
                min_size_hint: MAX_BATCH_SIZE,
            };
            drive(batch_aint_one(balanced, items), callers, per_caller, record).await
        }
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The implementations measured on one thread: uno's `Immediate`, the loop, and the peer.
const CPU_KINDS: [&str; 3] = ["uno", "hand_written", "batch_aint_one_immediate"];

fn main() {
    let runtime = runtime();
    let one_thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut c = Criterion::default().configure_from_args();
    for (callers, per_caller) in SCENARIOS {
        let name = format!("batch/callers_{callers}");
        measure(&mut c, &name, &runtime, &KINDS, (callers, per_caller));
    }
    for (callers, per_caller) in SCENARIOS {
        let name = format!("batch/cpu_callers_{callers}");
        measure(
            &mut c,
            &name,
            &one_thread,
            &CPU_KINDS,
            (callers, per_caller),
        );
    }
    c.final_summary();
    // Latencies, once per implementation and caller count (not under `--test`).
    if std::env::args().any(|arg| arg == "--bench") {
        latency_table(&runtime);
    }
}

/// One criterion group: each of `kinds` with `callers` callers adding `per_caller`
/// items each, on `runtime`.
fn measure(
    c: &mut Criterion,
    name: &str,
    runtime: &Runtime,
    kinds: &[&'static str],
    (callers, per_caller): (u64, u64),
) {
    let mut group = c.benchmark_group(name);
    group
        .throughput(Throughput::Elements(callers * per_caller))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for &kind in kinds {
        group.bench_function(kind, |b| {
            b.to_async(runtime)
                .iter(|| run(kind, callers, per_caller, false));
        });
    }
    group.finish();
}

#[allow(clippy::print_stdout, reason = "the table is this pass's output")]
fn latency_table(runtime: &Runtime) {
    println!("\n| callers | implementation | items/s | p50 | p99 |");
    println!("| ---: | --- | ---: | ---: | ---: |");
    for (callers, per_caller) in SCENARIOS {
        for kind in KINDS {
            let started = Instant::now();
            let mut latencies = runtime.block_on(run(kind, callers, per_caller, true));
            let elapsed = started.elapsed();
            latencies.sort_unstable();
            let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
            println!(
                "| {callers} | {kind} | {:.0} | {:?} | {:?} |",
                latencies.len() as f64 / elapsed.as_secs_f64(),
                at(0.50),
                at(0.99),
            );
        }
    }
}
