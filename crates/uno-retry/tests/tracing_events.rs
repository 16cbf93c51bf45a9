//! With the `tracing` feature, every retry and the decision to give up are logged.
#![cfg(feature = "tracing")]

use std::fmt::{Debug, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use uno_retry::RetryPolicy;

/// A subscriber that keeps every event's fields as one line of text.
#[derive(Clone, Default)]
struct Recorder {
    events: Arc<Mutex<Vec<String>>>,
}

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(String::new());
        event.record(&mut line);
        self.events.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn each_retry_and_giving_up_emit_an_event() {
    let recorder = Recorder::default();
    let policy = RetryPolicy::constant(Duration::from_millis(5))
        .max_attempts(3)
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    tracing::subscriber::with_default(recorder.clone(), || {
        let result = runtime.block_on(policy.run(|| async { Err::<(), _>("down") }));
        assert!(result.is_err());
    });
    let events = recorder.events.lock().unwrap();
    assert_eq!(events.len(), 3, "{events:#?}");
    assert!(
        events[0].contains("attempt=1") && events[0].contains("delay_ms=5.0"),
        "{}",
        events[0]
    );
    assert!(events[1].contains("attempt=2"), "{}", events[1]);
    assert!(
        events[2].contains("giving up") && events[2].contains("max_attempts reached"),
        "{}",
        events[2]
    );
}
