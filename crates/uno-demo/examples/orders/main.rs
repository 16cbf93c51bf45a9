//! The uno demo: a stream of synthetic orders processed end to end.
//!
//! Each order is charged at a simulated payment service that is slow, flaky and gets
//! slower past a concurrency knee, then written to a database together with its
//! payment. Every uno pattern has a job:
//!
//! - a [`Shutdown`] turns the first Ctrl-C into a graceful drain (orders not started
//!   are skipped, orders in flight finish) and a second Ctrl-C into a forced exit;
//! - a [`ResourceStack`] holds the database pool and the payment client as managed
//!   resources, closed in reverse order on every exit path;
//! - a [`TaskGroup`] runs one task per order and fails fast if the database fails;
//! - an [`AdaptiveLimiter`] (AIMD) finds how much concurrency the payment service
//!   takes, and a [`RetryPolicy`] retries its transient failures with jittered
//!   exponential backoff;
//! - an [`AsyncBatcher`] gathers paid orders into batches, and each batch is written in
//!   one write transaction of a [`TransactionManager`] (`BEGIN IMMEDIATE` on SQLite).
//!
//! At the end it prints a summary and checks that the database holds exactly the
//! orders reported done, each with its payment.
//!
//! ```text
//! cargo run --release --example orders -- --orders 4000 --fail-rate 0.1
//! cargo run --release --example orders -- --db postgres://postgres@127.0.0.1:5432/test
//! ```

mod payment;
mod report;
mod store;

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_util::debugging::DebuggingRecorder;
use tokio::time::Instant;
use uno::batch::AsyncBatcher;
use uno::limit::{AdaptiveLimiter, Aimd, Limiter};
use uno::resource::ResourceStack;
use uno::retry::{Jitter, RetryPolicy};
use uno::signal::{Shutdown, Signal, SignalExit};
use uno::taskgroup::{CancellationToken, TaskGroup};
use uno::tx::TransactionManager;
use uno_testkit::metrics::Recorded;

use crate::payment::{Behaviour, PaymentClient, PaymentError};
use crate::report::{Progress, Stats};
use crate::store::{Database, PaidOrder, Store};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

const USAGE: &str = "\
usage: orders [--orders N] [--db URL] [--fail-rate F] [--concurrency N] [--seed N]
              [--latency-ms N] [--limiter adaptive|fixed] [--metrics]

  --orders N       orders to process (default 4000)
  --db URL         sqlite://PATH, postgres://... or mysql://...; default: a SQLite
                   file in a new temporary directory, removed at the end.
                   The demo (re)creates the tables uno_demo_orders and uno_demo_payments.
  --fail-rate F    probability that one payment call fails transiently (default 0.1)
  --concurrency N  most payment calls in flight (the limiter's ceiling; default 64)
  --seed N         seed of every random choice (default 42)
  --latency-ms N   mean payment latency below the service's knee (default 10)
  --limiter KIND   adaptive (AIMD, default) or fixed (at --concurrency)
  --metrics        print what the patterns reported on the metrics facade at the end";

/// The command line.
#[derive(Debug, Clone)]
struct Args {
    orders: u64,
    db: Option<String>,
    fail_rate: f64,
    concurrency: usize,
    seed: u64,
    latency: Duration,
    adaptive: bool,
    metrics: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut parsed = Args {
        orders: 4_000,
        db: None,
        fail_rate: 0.1,
        concurrency: 64,
        seed: 42,
        latency: Duration::from_millis(10),
        adaptive: true,
        metrics: false,
    };
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        if flag == "--metrics" {
            parsed.metrics = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("{flag} needs {what}, got {value:?}");
        match flag.as_str() {
            "--orders" => parsed.orders = value.parse().map_err(|_| bad("a number"))?,
            "--db" => parsed.db = Some(value),
            "--fail-rate" => {
                parsed.fail_rate = value.parse().map_err(|_| bad("a probability"))?;
                if !(0.0..=1.0).contains(&parsed.fail_rate) {
                    return Err(bad("a probability between 0 and 1"));
                }
            }
            "--concurrency" => {
                parsed.concurrency = value.parse().map_err(|_| bad("a number"))?;
                if parsed.concurrency == 0 {
                    return Err(bad("at least 1"));
                }
            }
            "--seed" => parsed.seed = value.parse().map_err(|_| bad("a number"))?,
            "--latency-ms" => {
                parsed.latency = Duration::from_millis(value.parse().map_err(|_| bad("a number"))?);
            }
            "--limiter" => {
                parsed.adaptive = match value.as_str() {
                    "adaptive" => true,
                    "fixed" => false,
                    _ => return Err(bad("adaptive or fixed")),
                };
            }
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("orders: {message}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("orders: {error}");
            ExitCode::FAILURE
        }
    }
}

/// What the work reports back to `main` when it was not aborted.
#[derive(Debug)]
struct Check {
    orders_in_db: i64,
    payments_in_db: i64,
    partial_rows: i64,
}

async fn run(args: Args) -> Result<ExitCode, BoxError> {
    // Every pattern reports to the process's recorder; a debugging one keeps it all for
    // the table at the end (a service would install a Prometheus exporter instead).
    let metrics = args.metrics.then(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .map(|()| snapshotter)
            .map_err(|error| format!("--metrics: {error}"))
    });
    let metrics = metrics.transpose()?;
    // A Ctrl-C that drains cleanly exits 0: the demo did what it was asked.
    let shutdown = Shutdown::builder()
        .signals([Signal::Interrupt, Signal::Terminate])
        .grace_period(Duration::from_secs(10))
        .signal_exit(SignalExit::Success)
        .install()?;
    let (url, temp_dir) = database_url(&args)?;
    let backend = url.split(':').next().unwrap_or_default().to_owned();
    println!(
        "processing {} orders on {backend} (fail rate {}, limiter {}, seed {}); Ctrl-C drains, a second Ctrl-C forces exit",
        args.orders,
        args.fail_rate,
        if args.adaptive { "adaptive" } else { "fixed" },
        args.seed,
    );

    let stats = Arc::new(Stats::default());
    let check = Arc::new(Mutex::new(None));
    let started = Instant::now();
    let work = {
        let (args, stats, check, token) =
            (args.clone(), stats.clone(), check.clone(), shutdown.token());
        async move {
            let result = match backend.as_str() {
                "sqlite" => process_orders::<sqlx::Sqlite>(args, url, temp_dir, token, stats).await,
                "postgres" | "postgresql" => {
                    process_orders::<sqlx::Postgres>(args, url, temp_dir, token, stats).await
                }
                "mysql" | "mariadb" => {
                    process_orders::<sqlx::MySql>(args, url, temp_dir, token, stats).await
                }
                other => Err(format!("--db: unsupported database {other:?}").into()),
            };
            let failed = result.as_ref().err().map(ToString::to_string);
            *check.lock().expect("check lock") = Some(result);
            match failed {
                None => Ok(()),
                Some(message) => Err(message),
            }
        }
    };
    shutdown.spawn("orders", work)?;
    // The one exit path: the work, then the background cleanups and the batchers'
    // last items, all within the grace period.
    let report = shutdown.run().await;

    report::print_summary(&stats, args.orders, started.elapsed(), &backend_name(&args));
    if let Some(snapshotter) = &metrics {
        println!("\nmetrics:\n{}", Recorded::from(snapshotter.snapshot()));
    }
    if let Some(reason) = report.reason() {
        println!(
            "shutdown: {reason:?}; {}",
            if report.is_clean() {
                "drained cleanly"
            } else {
                "see below"
            }
        );
    }
    if !report.is_clean() {
        println!("{report}");
    }
    let outcome = check.lock().expect("check lock").take();
    match outcome {
        Some(Ok(check)) => {
            let done = stats.done.load(Ordering::Relaxed) as i64;
            if check.orders_in_db == done && check.payments_in_db == done && check.partial_rows == 0
            {
                println!(
                    "check: the database holds exactly the {done} orders reported done, each with its payment"
                );
                // The shutdown's own verdict: 0 after a clean run or drain, 1 when
                // work failed or something was left undrained.
                Ok(ExitCode::from(
                    u8::try_from(report.exit_code()).unwrap_or(1),
                ))
            } else {
                println!(
                    "check FAILED: {} orders and {} payments in the database, {done} reported done, {} partial rows",
                    check.orders_in_db, check.payments_in_db, check.partial_rows
                );
                Ok(ExitCode::FAILURE)
            }
        }
        Some(Err(error)) => Err(error),
        None => {
            println!("check skipped: the run was aborted after the grace period");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn backend_name(args: &Args) -> String {
    match &args.db {
        None => "sqlite (temporary file)".to_owned(),
        Some(url) => url.split(':').next().unwrap_or_default().to_owned(),
    }
}

/// The database URL, and the temporary directory to remove afterwards if the demo
/// made one.
fn database_url(args: &Args) -> Result<(String, Option<std::path::PathBuf>), BoxError> {
    if let Some(url) = &args.db {
        return Ok((url.clone(), None));
    }
    let dir = std::env::temp_dir().join(format!("uno-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("orders.db").display());
    Ok((url, Some(dir)))
}

/// The payment limiter: adaptive by default, or fixed for comparison.
#[derive(Debug, Clone)]
enum PaymentLimiter {
    Adaptive(AdaptiveLimiter),
    Fixed(Limiter),
}

impl PaymentLimiter {
    async fn charge(&self, client: &PaymentClient, order: &PaidOrder) -> Result<i64, PaymentError> {
        let call = client.charge(order.id, order.amount_cents);
        let result = match self {
            PaymentLimiter::Adaptive(limiter) => limiter.run(call).await,
            PaymentLimiter::Fixed(limiter) => limiter.run(call).await,
        };
        // The limiter only fails once closed, which this demo never does while charging.
        result.unwrap_or(Err(PaymentError::Closed))
    }

    fn limit(&self) -> usize {
        match self {
            PaymentLimiter::Adaptive(limiter) => limiter.limit(),
            PaymentLimiter::Fixed(limiter) => limiter.limit(),
        }
    }
}

async fn process_orders<DB: Store>(
    args: Args,
    url: String,
    temp_dir: Option<std::path::PathBuf>,
    token: CancellationToken,
    stats: Arc<Stats>,
) -> Result<Check, BoxError> {
    // Resources: the database first, so that it closes last.
    let mut stack: ResourceStack = ResourceStack::new();
    let database = stack.enter(Database::<DB>::new(url, temp_dir)).await?;
    let pool = stack[database].pool();
    let behaviour = Behaviour {
        fail_rate: args.fail_rate,
        latency: args.latency,
        knee: 16,
    };
    let payments = stack
        .enter(PaymentClient::new(behaviour, args.seed))
        .await?;
    let client = stack[payments].clone();

    // Paid orders are written in batches, one write transaction per batch.
    let manager = TransactionManager::write(pool.clone());
    let batcher = {
        let stats = stats.clone();
        AsyncBatcher::builder(move |orders: Vec<PaidOrder>| {
            let (manager, stats) = (manager.clone(), stats.clone());
            async move {
                let count = orders.len();
                manager
                    .run(async |conn| DB::insert_batch(conn, &orders).await)
                    .await?;
                stats.record_batch(count);
                Ok::<_, uno::tx::Error>(vec![(); count])
            }
        })
        .name("paid orders")
        .max_batch_size(100)
        .max_wait_time(Duration::from_millis(20))
        .build()?
    };

    let limiter = if args.adaptive {
        PaymentLimiter::Adaptive(
            AdaptiveLimiter::new(
                Aimd::builder()
                    .initial_limit(4)
                    .min_limit(1)
                    .max_limit(args.concurrency)
                    .latency_threshold(args.latency * 3)
                    .build()?,
            )
            .named("payments"),
        )
    } else {
        PaymentLimiter::Fixed(
            Limiter::builder()
                .limit(args.concurrency)
                .name("payments")
                .build()?,
        )
    };
    let policy = RetryPolicy::exponential(Duration::from_millis(5))
        .name("payments")
        .max_attempts(4)
        .max_delay(Duration::from_millis(200))
        .jitter(Jitter::Full)
        .seed(args.seed)
        .retry_if(PaymentError::is_transient)
        .notify({
            let stats = stats.clone();
            move |_attempt, _error: &PaymentError, _delay| {
                stats.retries.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build()?;

    // Orders arrive as a stream: a producer task in the group spawns one task per
    // order, with at most `concurrency` orders in progress (an intake limiter whose
    // permit each order task holds). The adaptive limiter decides how many of those
    // may call the payment service at once. After the first Ctrl-C the producer stops;
    // the orders in progress finish.
    let group: TaskGroup<(), BoxError> = TaskGroup::new();
    let intake = Limiter::builder()
        .limit(args.concurrency)
        .name("intake")
        .build()?;
    let spawner = group.spawner();
    let producer = {
        let (stats, token) = (stats.clone(), token.clone());
        let (client, limiter, batcher) = (client.clone(), limiter.clone(), batcher.clone());
        let orders = args.orders;
        let mut rng = fastrand::Rng::with_seed(args.seed);
        async move {
            let mut produced = 0;
            while produced < orders {
                let permit = tokio::select! {
                    biased;
                    () = token.cancelled() => break,
                    permit = intake.acquire() => permit?,
                };
                let order = PaidOrder {
                    id: produced as i64,
                    customer: rng.i64(1..1_000),
                    amount_cents: rng.i64(100..100_000),
                    receipt: 0,
                };
                let (client, limiter, policy, batcher, stats) = (
                    client.clone(),
                    limiter.clone(),
                    policy.clone(),
                    batcher.clone(),
                    stats.clone(),
                );
                spawner.spawn(async move {
                    let _permit = permit;
                    let started = Instant::now();
                    match policy.run(|| limiter.charge(&client, &order)).await {
                        Ok(receipt) => {
                            batcher.add(PaidOrder { receipt, ..order }).await?;
                            stats.record_latency(started.elapsed());
                        }
                        Err(_) => {
                            stats.failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(())
                })?;
                produced += 1;
            }
            stats
                .skipped
                .fetch_add(orders - produced, Ordering::Relaxed);
            Ok(())
        }
    };
    group.spawn(producer)?;

    let progress = Progress::new(args.orders);
    let join = group.join();
    tokio::pin!(join);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut announced = false;
    let joined = loop {
        tokio::select! {
            joined = &mut join => break joined,
            () = token.cancelled(), if !announced => {
                announced = true;
                println!("shutdown requested: finishing the orders in flight (Ctrl-C again to force exit)");
            }
            _ = tick.tick() => {
                let limit = limiter.limit();
                stats.record_limit(limit);
                progress.update(&stats, limit);
            }
        }
    };
    progress.finish();
    stats.record_limit(limiter.limit());
    batcher.close().await;
    joined.map_err(|error| format!("an order task failed: {error}"))?;

    stats.payment_calls.store(client.calls(), Ordering::Relaxed);
    let contents = DB::contents(&pool).await?;
    drop(pool);
    stack.close().await?;
    Ok(Check {
        orders_in_db: contents.orders,
        payments_in_db: contents.payments,
        partial_rows: contents.partial,
    })
}
