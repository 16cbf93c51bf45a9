//! The `tracing` feature: one `transaction` span per run, recording the attempt number.

#![cfg(all(feature = "tracing", feature = "retry", feature = "sqlite"))]

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use uno_retry::RetryPolicy;
use uno_tx::TransactionManager;

/// Records every span's name and its last `attempt` and `backend` values.
#[derive(Default)]
struct Spans {
    next_id: AtomicU64,
    spans: Mutex<Vec<SpanRecord>>,
}

#[derive(Debug, Default, Clone, PartialEq)]
struct SpanRecord {
    name: &'static str,
    attempt: Option<u64>,
    backend: Option<String>,
}

impl Visit for SpanRecord {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "attempt" {
            self.attempt = Some(value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "backend" {
            self.backend = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

#[derive(Clone, Default)]
struct Recorder(Arc<Spans>);

impl Subscriber for Recorder {
    fn enabled(&self, _metadata: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut record = SpanRecord {
            name: span.metadata().name(),
            ..SpanRecord::default()
        };
        span.record(&mut record);
        let mut spans = self.0.spans.lock().unwrap();
        spans.push(record);
        self.0.next_id.store(spans.len() as u64, Ordering::SeqCst);
        Id::from_u64(spans.len() as u64)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.0.spans.lock().unwrap();
        let index = usize::try_from(span.into_u64()).unwrap() - 1;
        values.record(&mut spans[index]);
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, _event: &Event<'_>) {}

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

fn scripted_failure() -> sqlx::Error {
    // A lock wait timeout as SQLite reports it: SQLITE_BUSY.
    sqlx::Error::Database(Box::new(Busy))
}

#[derive(Debug)]
struct Busy;

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted deadlock")
    }
}

impl std::error::Error for Busy {}

impl sqlx::error::DatabaseError for Busy {
    fn message(&self) -> &str {
        "scripted deadlock"
    }

    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some("40P01".into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        sqlx::error::ErrorKind::Other
    }
}

#[tokio::test]
async fn the_span_counts_attempts() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());

    let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
    let manager = TransactionManager::builder(pool.clone())
        .retry(
            RetryPolicy::constant(Duration::from_millis(1))
                .max_attempts(5)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let attempts = AtomicU32::new(0);
    manager
        .run(async |_conn| {
            if attempts.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(scripted_failure());
            }
            Ok(())
        })
        .await
        .unwrap();
    uno_tx::transaction(&pool, async |_conn| Ok::<_, sqlx::Error>(()))
        .await
        .unwrap();

    let spans: Vec<SpanRecord> = recorder
        .0
        .spans
        .lock()
        .unwrap()
        .iter()
        .filter(|span| span.name == "transaction")
        .cloned()
        .collect();
    let expected = |attempt| SpanRecord {
        name: "transaction",
        attempt: Some(attempt),
        backend: Some("SQLite".into()),
    };
    assert_eq!(spans, [expected(3), expected(1)]);
}
