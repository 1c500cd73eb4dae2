//! JSON log lines in the log schema of `distsys_types::event` (`level`, `timestamp`, `skill`,
//! `node_id`, `term`, `event`, `context`), written by a tracing layer. The node logs through
//! [`emit`], which gives the layer an event's ([`LogEvent`]) name, the term and the context as a JSON
//! string; other tracing events are written as `event: "log"` with their message.

use distsys_types::event::{self, Level as LineLevel};
use distsys_types::Event as LogEvent;
use serde_json::{json, Value};
use std::io::Write;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

#[derive(Default)]
struct Fields {
    event: Option<String>,
    term: Option<u64>,
    context: Option<Value>,
    message: Option<String>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "term" {
            self.term = Some(value);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "event" => self.event = Some(value.to_string()),
            "context" => self.context = serde_json::from_str(value).ok(),
            "message" => self.message = Some(value.to_string()),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = Some(format!("{value:?}")),
            "context" => {
                self.context = serde_json::from_str(&format!("{value:?}")).ok();
            }
            "event" => self.event = Some(format!("{value:?}").trim_matches('"').to_string()),
            _ => {}
        }
    }
}

struct SchemaLayer {
    node_id: u64,
    /// A duplicate of the standard error descriptor: writing through it does not take the
    /// process-wide stderr lock, which the command-line front end may hold for its whole run.
    out: std::sync::Mutex<Box<dyn Write + Send>>,
}

impl<S: Subscriber> Layer<S> for SchemaLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = match *event.metadata().level() {
            Level::ERROR => LineLevel::Error,
            Level::WARN => LineLevel::Warn,
            Level::INFO => LineLevel::Info,
            Level::DEBUG => LineLevel::Debug,
            Level::TRACE => LineLevel::Trace,
        };
        let mut context = fields.context.unwrap_or_else(|| json!({}));
        if let (Some(message), Some(map)) = (fields.message, context.as_object_mut()) {
            if !message.is_empty() {
                map.insert("message".into(), Value::String(message));
            }
        }
        let line = event::line(
            level,
            &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            Some(self.node_id),
            fields.term,
            fields.event.as_deref().unwrap_or(event::UNNAMED),
            context,
        );
        // Formatted first, then written whole: one write per line (formatting straight into
        // the unbuffered descriptor made a system call per fragment, some 35 a line, a tenth of
        // a busy node's protocol thread), and no line split by a full pipe between fragments.
        let mut text = line.to_string();
        text.push('\n');
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(text.as_bytes());
        }
    }
}

/// Logs `event` at its kind's level ([`distsys_types::EventKind::level`]), with the node's
/// `term` when it has one.
pub fn emit(term: Option<u64>, event: &LogEvent) {
    emit_at(event.kind().level(), term, event);
}

/// A rate limit for one kind of log line: at most [`Throttle::PER_SECOND`] lines a second;
/// the rest are counted and the count reported on the next line written.
#[derive(Debug, Default)]
pub struct Throttle {
    state: std::sync::Mutex<(u64, u64, u64)>,
}

impl Throttle {
    /// Lines written per second at most.
    pub const PER_SECOND: u64 = 5;

    /// Whether a line may be written now; `Some(n)`: yes, and `n` were suppressed before it.
    pub fn admit(&self) -> Option<u64> {
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.admit_at(second)
    }

    fn admit_at(&self, second: u64) -> Option<u64> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (at, written, suppressed) = &mut *guard;
        if *at != second {
            (*at, *written) = (second, 0);
        }
        if *written >= Self::PER_SECOND {
            *suppressed += 1;
            return None;
        }
        *written += 1;
        Some(std::mem::take(suppressed))
    }

    /// Logs a `connection_refused` line for `port` if the rate allows.
    pub fn refused(&self, port: &str, addr: Option<std::net::SocketAddr>, reason: &str) {
        if let Some(suppressed) = self.admit() {
            emit(
                None,
                &LogEvent::ConnectionRefused(event::ConnectionRefused {
                    port: port.to_string(),
                    addr: addr.map(|a| a.to_string()).unwrap_or_default(),
                    reason: reason.to_string(),
                    suppressed,
                }),
            );
        }
    }
}

/// Logs `event` at `level`: [`emit`] for the node's most frequent events, written at
/// [`LineLevel::Debug`].
pub fn emit_at(level: LineLevel, term: Option<u64>, event: &LogEvent) {
    let name = event.kind().name();
    let context = event.context().to_string();
    let context = context.as_str();
    macro_rules! at {
        ($level:expr) => {
            tracing::event!($level, event = name, term = term, context = context)
        };
    }
    match level {
        LineLevel::Error => at!(Level::ERROR),
        LineLevel::Warn => at!(Level::WARN),
        LineLevel::Info => at!(Level::INFO),
        LineLevel::Debug => at!(Level::DEBUG),
        LineLevel::Trace => at!(Level::TRACE),
    }
}

/// Installs the JSON logger for node `node_id` (once per process; later calls do nothing).
pub fn init(node_id: u64) {
    use std::os::fd::AsFd;
    let out: Box<dyn Write + Send> = match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(_) => Box::new(std::io::sink()),
    };
    let _ = tracing_subscriber::registry()
        .with(SchemaLayer {
            node_id,
            out: std::sync::Mutex::new(out),
        })
        .try_init();
}

#[cfg(test)]
mod throttle_tests {
    use super::Throttle;

    #[test]
    fn a_throttle_writes_a_few_lines_a_second_and_counts_the_rest() {
        let throttle = Throttle::default();
        for _ in 0..Throttle::PER_SECOND {
            assert_eq!(throttle.admit_at(10), Some(0));
        }
        assert_eq!(throttle.admit_at(10), None);
        assert_eq!(throttle.admit_at(10), None);
        assert_eq!(
            throttle.admit_at(11),
            Some(2),
            "the next second reports what it dropped"
        );
        assert_eq!(throttle.admit_at(11), Some(0));
    }
}

#[cfg(test)]
mod layer_tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer that keeps every `write` call's bytes apart.
    #[derive(Clone, Default)]
    struct Calls(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("calls").push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_log_line_is_one_write_of_one_json_object() {
        let calls = Calls::default();
        let layer = SchemaLayer {
            node_id: 3,
            out: Mutex::new(Box::new(calls.clone())),
        };
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..2 {
                emit(
                    Some(7),
                    &LogEvent::ConnectionRefused(event::ConnectionRefused {
                        port: "client".into(),
                        addr: "127.0.0.1:9".into(),
                        reason: "a \"quoted\" reason".into(),
                        suppressed: 2,
                    }),
                );
            }
        });
        let calls = calls.0.lock().expect("calls");
        assert_eq!(calls.len(), 2, "one write per line");
        for call in calls.iter() {
            assert_eq!(call.last(), Some(&b'\n'));
            let line: Value = serde_json::from_slice(call).expect("a whole JSON line");
            assert_eq!(line["event"], "connection_refused");
            assert_eq!(line["node_id"], 3);
            assert_eq!(line["context"]["reason"], "a \"quoted\" reason");
        }
    }
}
