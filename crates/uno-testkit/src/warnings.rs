//! `warnings_during`: the `tracing` warnings that code under test emits, captured
//! without a subscriber crate.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Runs `f` with a subscriber that records every event at `WARN` level or above on
/// this thread, and returns `f`'s result with those events, each as
/// `"<target>: <message> <field>=<value>.."`.
///
/// The subscriber is the thread's default while `f` runs, so run a current-thread
/// runtime inside `f` (`Runtime::block_on`) to capture what its tasks log.
pub fn warnings_during<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    let recorder = Recorder::default();
    let result = tracing::subscriber::with_default(recorder.clone(), f);
    let warnings = recorder.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    (result, warnings)
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

/// Formats an event's message first, then its other fields.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::WARN
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line::default();
        event.record(&mut line);
        let text = format!(
            "{}: {}{}",
            event.metadata().target(),
            line.message,
            line.fields
        );
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(text);
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}
