//! JSON log lines in the seed's schema (`level`, `timestamp`, `skill`, `node_id`, `term`,
//! `event`, `context`), written by a tracing layer. Events give `event`, optionally `term`,
//! and `context` as a JSON string.

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
            Level::ERROR => "ERROR",
            Level::WARN => "WARN",
            Level::INFO => "INFO",
            Level::DEBUG => "DEBUG",
            Level::TRACE => "TRACE",
        };
        let mut context = fields.context.unwrap_or_else(|| json!({}));
        if let (Some(message), Some(map)) = (fields.message, context.as_object_mut()) {
            if !message.is_empty() {
                map.insert("message".into(), Value::String(message));
            }
        }
        let line = json!({
            "level": level,
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "skill": "distributed-systems",
            "node_id": self.node_id,
            "term": fields.term,
            "event": fields.event.unwrap_or_else(|| "log".into()),
            "context": context,
        });
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{line}");
        }
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
