//! Optional OTLP export of the server's tracing spans: OTLP over HTTP with JSON bodies
//! (`POST <endpoint>/v1/traces`, the encoding every OpenTelemetry collector accepts), so a
//! session's turns and the HTTP requests show in Jaeger, Tempo or Honeycomb next to the logs.
//!
//! A [`tracing_subscriber::Layer`] gives each span ids (a root span a new trace, a child its
//! parent's), keeps its fields as attributes, and on close hands it to a task that posts
//! batches ([`BATCH_SPANS`] spans or every [`BATCH_INTERVAL`]). Spans are dropped, and counted
//! in the log, when the collector falls behind: exporting never slows the runtime down or grows
//! its memory. Off unless an endpoint is configured (`--otlp-endpoint`,
//! `OTEL_EXPORTER_OTLP_ENDPOINT`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Closed spans waiting for export; past this, new ones are dropped.
pub const QUEUE_SPANS: usize = 4096;

/// Most spans one request carries.
pub const BATCH_SPANS: usize = 512;

/// How often queued spans are sent when fewer than a batch wait.
pub const BATCH_INTERVAL: Duration = Duration::from_secs(1);

/// How long one export request may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// One finished span, as OTLP wants it.
#[derive(Debug, Clone)]
struct FinishedSpan {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_id: Option<[u8; 8]>,
    name: &'static str,
    start: u64,
    end: u64,
    attributes: Vec<(String, String)>,
}

/// What the layer keeps in a span's extensions while it is open.
struct OpenSpan {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_id: Option<[u8; 8]>,
    start: u64,
    attributes: Vec<(String, String)>,
}

/// The layer; build it with [`OtlpExporter::start`].
pub struct OtlpLayer {
    spans: mpsc::Sender<FinishedSpan>,
}

/// The export task's handle.
pub struct OtlpExporter;

impl OtlpExporter {
    /// Starts the task posting to `endpoint` (e.g. `http://collector:4318`) as `service` and
    /// returns the layer that feeds it. Must be called inside a Tokio runtime.
    pub fn start(endpoint: &str, service: &str) -> OtlpLayer {
        let (spans, queue) = mpsc::channel(QUEUE_SPANS);
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        tokio::spawn(export(url, service.to_string(), queue));
        OtlpLayer { spans }
    }
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = span.parent().and_then(|p| {
            p.extensions()
                .get::<OpenSpan>()
                .map(|o| (o.trace_id, o.span_id))
        });
        let mut attributes = Vec::new();
        attrs.record(&mut FieldVisitor(&mut attributes));
        let open = OpenSpan {
            trace_id: parent.map_or_else(random_trace_id, |(trace, _)| trace),
            span_id: random_span_id(),
            parent_id: parent.map(|(_, id)| id),
            start: now_nanos(),
            attributes,
        };
        span.extensions_mut().insert(open);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            if let Some(open) = span.extensions_mut().get_mut::<OpenSpan>() {
                values.record(&mut FieldVisitor(&mut open.attributes));
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<OpenSpan>() else {
            return;
        };
        let finished = FinishedSpan {
            trace_id: open.trace_id,
            span_id: open.span_id,
            parent_id: open.parent_id,
            name: span.name(),
            start: open.start,
            end: now_nanos(),
            attributes: open.attributes,
        };
        // A full queue drops the span: the collector is behind or gone.
        let _ = self.spans.try_send(finished);
    }
}

/// Collects a span's fields as string attributes (a later value of a field replaces it).
struct FieldVisitor<'a>(&'a mut Vec<(String, String)>);

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.set(field, format!("{value:?}"));
    }
}

impl FieldVisitor<'_> {
    fn set(&mut self, field: &Field, value: String) {
        let name = field.name();
        match self.0.iter_mut().find(|(key, _)| key == name) {
            Some((_, old)) => *old = value,
            None => self.0.push((name.to_string(), value)),
        }
    }
}

/// Posts batches until every layer is gone, then sends what is left.
async fn export(url: String, service: String, mut queue: mpsc::Receiver<FinishedSpan>) {
    let client = match reqwest::Client::builder().timeout(EXPORT_TIMEOUT).build() {
        Ok(client) => client,
        Err(e) => {
            eprintln!("agent-runtime: OTLP export is off: {e}");
            return;
        }
    };
    let mut failures = 0u64;
    loop {
        let mut batch = Vec::new();
        let deadline = tokio::time::sleep(BATCH_INTERVAL);
        tokio::pin!(deadline);
        let open = loop {
            tokio::select! {
                _ = &mut deadline => break true,
                span = queue.recv() => match span {
                    Some(span) => {
                        batch.push(span);
                        if batch.len() == BATCH_SPANS {
                            break true;
                        }
                    }
                    None => break false,
                },
            }
        };
        if !batch.is_empty() {
            let body = request_body(&service, &batch);
            let sent = client.post(&url).json(&body).send().await;
            let ok = matches!(&sent, Ok(response) if response.status().is_success());
            if !ok {
                failures += 1;
                // Not through tracing: this would export itself. Once, then every hundredth.
                if failures == 1 || failures.is_multiple_of(100) {
                    let why = match sent {
                        Ok(response) => format!("HTTP {}", response.status()),
                        Err(e) => e.to_string(),
                    };
                    eprintln!(
                        "agent-runtime: OTLP export to {url} failed ({why}); {failures} batches lost"
                    );
                }
            }
        }
        if !open {
            return;
        }
    }
}

/// An `ExportTraceServiceRequest` in OTLP's JSON encoding.
fn request_body(service: &str, spans: &[FinishedSpan]) -> Value {
    let spans: Vec<Value> = spans
        .iter()
        .map(|span| {
            let mut value = json!({
                "traceId": hex::encode(span.trace_id),
                "spanId": hex::encode(span.span_id),
                "name": span.name,
                // SPAN_KIND_INTERNAL
                "kind": 1,
                "startTimeUnixNano": span.start.to_string(),
                "endTimeUnixNano": span.end.to_string(),
                "attributes": span
                    .attributes
                    .iter()
                    .map(|(key, value)| json!({"key": key, "value": {"stringValue": value}}))
                    .collect::<Vec<_>>(),
            });
            if let Some(parent) = span.parent_id {
                value["parentSpanId"] = json!(hex::encode(parent));
            }
            value
        })
        .collect();
    json!({
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": service}},
                {"key": "service.version", "value": {"stringValue": env!("CARGO_PKG_VERSION")}},
            ]},
            "scopeSpans": [{
                "scope": {"name": "agent-runtime"},
                "spans": spans,
            }],
        }],
    })
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

fn random_trace_id() -> [u8; 16] {
    *uuid::Uuid::new_v4().as_bytes()
}

fn random_span_id() -> [u8; 8] {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut id = [0; 8];
    id.copy_from_slice(&bytes[..8]);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_otlp_json_with_ids_in_hex_and_times_as_strings() {
        let span = FinishedSpan {
            trace_id: [1; 16],
            span_id: [2; 8],
            parent_id: Some([3; 8]),
            name: "turn",
            start: 1_000,
            end: 2_000,
            attributes: vec![("turn_id".into(), "turn_1".into())],
        };
        let body = request_body("svc", &[span]);
        let resource = &body["resourceSpans"][0];
        assert_eq!(
            resource["resource"]["attributes"][0]["value"]["stringValue"],
            "svc"
        );
        let span = &resource["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "01".repeat(16));
        assert_eq!(span["spanId"], "02".repeat(8));
        assert_eq!(span["parentSpanId"], "03".repeat(8));
        assert_eq!(span["startTimeUnixNano"], "1000");
        assert_eq!(span["endTimeUnixNano"], "2000");
        assert_eq!(
            span["attributes"][0],
            json!({"key": "turn_id", "value": {"stringValue": "turn_1"}})
        );
    }
}
