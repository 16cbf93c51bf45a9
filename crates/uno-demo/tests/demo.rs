//! End-to-end tests of the demo: run the `orders` example as a child process, on
//! SQLite and on PostgreSQL, and interrupt it with real signals.

use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use sqlx::Connection;
use uno_testkit::{ChildProgram, ExampleSet};

/// A child stuck longer than this fails the test instead of hanging it.
const WATCHDOG: Duration = Duration::from_secs(120);

/// The `orders` example, built if the test run did not build it (see
/// `uno_testkit::ExampleSet`).
fn orders_binary() -> PathBuf {
    ExampleSet {
        package: "uno-demo",
        manifest_dir: env!("CARGO_MANIFEST_DIR"),
        source_dirs: &["src", "examples/orders"],
        examples: &["orders"],
        features: &[],
    }
    .path("orders")
}

/// Starts the demo with `args`, its output read line by line (see
/// `uno_testkit::ChildProgram`).
fn start(args: &[&str]) -> ChildProgram {
    ChildProgram::start(
        Command::new(orders_binary())
            .args(args)
            .stderr(Stdio::inherit()),
        WATCHDOG,
    )
}

/// Waits for the demo to exit; returns its status and whole output.
fn finish(demo: ChildProgram) -> (ExitStatus, String) {
    let (status, lines) = ChildProgram::finish(demo);
    (status, lines.join("\n"))
}

/// The number in the summary row `| name | value |`.
fn summary_value(output: &str, name: &str) -> i64 {
    output
        .lines()
        .find(|line| line.starts_with(&format!("| {name} ")))
        .and_then(|line| line.split('|').nth(2))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no summary row {name:?} in:\n{output}"))
}

/// Orders, payments and partial rows in the demo's tables.
async fn database_counts(url: &str) -> (i64, i64, i64) {
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let mut count = async |sql: &'static str| -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .fetch_one(&mut conn)
            .await
            .expect("count query");
        n
    };
    let orders = count("SELECT COUNT(*) FROM uno_demo_orders").await;
    let payments = count("SELECT COUNT(*) FROM uno_demo_payments").await;
    let partial = count(
        "SELECT COUNT(*) FROM uno_demo_orders o LEFT JOIN uno_demo_payments p \
         ON p.order_id = o.id WHERE p.order_id IS NULL",
    )
    .await;
    (orders, payments, partial)
}

fn sqlite_url(name: &str) -> (tempdir::Dir, String) {
    let dir = tempdir::Dir::new(name);
    let url = format!("sqlite://{}?mode=rwc", dir.path.join("orders.db").display());
    (dir, url)
}

/// A temporary directory removed on drop.
mod tempdir {
    use std::path::PathBuf;

    pub(crate) struct Dir {
        pub(crate) path: PathBuf,
    }

    impl Dir {
        pub(crate) fn new(name: &str) -> Dir {
            let path =
                std::env::temp_dir().join(format!("uno-demo-test-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("create temp dir");
            Dir { path }
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn assert_run_matches_database(output: &str, counts: (i64, i64, i64)) {
    let done = summary_value(output, "orders done");
    let (orders, payments, partial) = counts;
    assert_eq!(
        orders, done,
        "orders in the database vs reported done\n{output}"
    );
    assert_eq!(
        payments, done,
        "payments in the database vs reported done\n{output}"
    );
    assert_eq!(partial, 0, "orders without payment\n{output}");
}

#[tokio::test]
async fn demo_on_sqlite_writes_exactly_the_orders_done() {
    sqlx::any::install_default_drivers();
    let (_dir, url) = sqlite_url("sqlite");
    let mut demo = start(&[
        "--orders",
        "300",
        "--latency-ms",
        "1",
        "--fail-rate",
        "0.2",
        "--db",
        &url,
    ]);
    demo.read_until("processing 300 orders");
    let (status, output) = finish(demo);
    assert!(status.success(), "{status}\n{output}");
    assert!(
        output.contains("check: the database holds exactly"),
        "{output}"
    );
    let done = summary_value(&output, "orders done");
    let failed = summary_value(&output, "orders failed");
    assert_eq!(
        done + failed,
        300,
        "every order is done or failed\n{output}"
    );
    assert!(
        summary_value(&output, "payment retries") > 0,
        "a 20% failure rate needs retries\n{output}"
    );
    assert_run_matches_database(&output, database_counts(&url).await);
}

#[tokio::test]
async fn demo_on_postgres_writes_exactly_the_orders_done() {
    let Some(url) = uno_testkit::server_url(uno_testkit::Server::Postgres) else {
        return;
    };
    sqlx::any::install_default_drivers();
    let mut demo = start(&["--orders", "300", "--latency-ms", "1", "--db", &url]);
    demo.read_until("processing 300 orders");
    let (status, output) = finish(demo);
    assert!(status.success(), "{status}\n{output}");
    assert_run_matches_database(&output, database_counts(&url).await);
}

#[tokio::test]
async fn first_sigint_drains_and_leaves_no_partial_order() {
    sqlx::any::install_default_drivers();
    let (_dir, url) = sqlite_url("sigint");
    let mut demo = start(&["--orders", "1000000", "--latency-ms", "2", "--db", &url]);
    // The second progress line comes a second in, when orders have been written.
    demo.read_until("progress:");
    demo.read_until("progress:");
    demo.signal("INT");
    demo.read_until("shutdown requested");
    let (status, output) = finish(demo);
    assert!(
        status.success(),
        "a drained run exits 0: {status}\n{output}"
    );
    assert!(summary_value(&output, "orders not started") > 0, "{output}");
    assert!(summary_value(&output, "orders done") > 0, "{output}");
    assert!(
        output.contains("check: the database holds exactly"),
        "{output}"
    );
    assert_run_matches_database(&output, database_counts(&url).await);
}

#[tokio::test]
async fn second_sigint_forces_exit_with_130() {
    use std::os::unix::process::ExitStatusExt;

    sqlx::any::install_default_drivers();
    let (_dir, url) = sqlite_url("force");
    // Slow payments keep the drain going long enough for the second signal.
    let mut demo = start(&["--orders", "1000000", "--latency-ms", "3000", "--db", &url]);
    demo.read_until("progress:");
    demo.signal("INT");
    demo.read_until("shutdown requested");
    demo.signal("INT");
    let (status, output) = finish(demo);
    assert_eq!(
        status.code(),
        Some(130),
        "{status:?} (signal {:?})\n{output}",
        status.signal()
    );
    // Whatever was committed before the forced exit is whole.
    let (orders, payments, partial) = database_counts(&url).await;
    assert_eq!(
        (orders, partial),
        (payments, 0),
        "no partial order after a forced exit"
    );
}

/// The value printed for `metric` in the `--metrics` table.
fn metric_value(output: &str, metric: &str) -> String {
    output
        .lines()
        .find(|line| line.starts_with(metric) && line[metric.len()..].starts_with("  "))
        .map(|line| line[metric.len()..].trim().to_owned())
        .unwrap_or_else(|| panic!("no metric {metric:?} in:\n{output}"))
}

#[tokio::test]
async fn metrics_agree_with_the_summary() {
    sqlx::any::install_default_drivers();
    let (_dir, url) = sqlite_url("metrics");
    let mut demo = start(&[
        "--orders",
        "200",
        "--latency-ms",
        "1",
        "--fail-rate",
        "0.2",
        "--db",
        &url,
        "--metrics",
    ]);
    demo.read_until("processing 200 orders");
    let (status, output) = finish(demo);
    assert!(status.success(), "{status}\n{output}");
    let number = |metric: &str| -> i64 { metric_value(&output, metric).parse().unwrap() };
    // Every payment call is a retry attempt under the limiter, and every retry counted.
    let calls = summary_value(&output, "payment calls");
    assert_eq!(number("uno_retry_attempts_total{policy=payments}"), calls);
    assert_eq!(number("uno_limit_acquired_total{limiter=payments}"), calls);
    assert_eq!(
        number("uno_retry_retries_total{policy=payments}"),
        summary_value(&output, "payment retries")
    );
    assert_eq!(number("uno_limit_acquired_total{limiter=intake}"), 200);
    // One committed transaction per batch written, and nothing left in flight.
    assert_eq!(
        number("uno_tx_attempts_total{backend=SQLite,outcome=committed}"),
        summary_value(&output, "batches written")
    );
    assert_eq!(number("uno_limit_in_flight{limiter=payments}"), 0);
    assert!(
        metric_value(&output, "uno_batch_size{batcher=paid orders}").starts_with("count "),
        "{output}"
    );
}
