//! Delivering a [`Reply`] over HTTP: JSON errors, JSON messages, and paced SSE streams
//! that can be cut on purpose and stop as soon as the client or the server goes away.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::api::Api;
use crate::gemini;
use crate::openai;
use crate::openai_sse::response_events;
use crate::reply::{new_id, AssistantMessage, Delivery, Reply};
use crate::routes::Shared;
use crate::sse::message_events;

/// Pause between the last event sent and a scripted cut.
const CUT_GRACE: Duration = Duration::from_millis(50);

/// Converts a reply into an HTTP response in `api`'s wire form; `stream` selects SSE for
/// messages.
pub(crate) fn into_http_response(
    reply: Reply,
    api: Api,
    stream: bool,
    shared: &Shared,
) -> Response {
    match reply {
        Reply::Error { status, body } => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            match api {
                Api::Anthropic => {
                    with_request_id(&body, (code, Json(body.clone())).into_response())
                }
                Api::Gemini => {
                    let message = body["error"]["message"].as_str().unwrap_or("error");
                    (code, Json(gemini::error_body(status, message))).into_response()
                }
                Api::OpenAi => {
                    let message = body["error"]["message"].as_str().unwrap_or("error");
                    (code, Json(openai::error_body(status, message))).into_response()
                }
            }
        }
        Reply::Message { message, delivery } if stream => {
            sse_response(&message, api, delivery, shared)
        }
        Reply::Message { message, delivery } => {
            let json = match api {
                Api::Anthropic => message.to_json(),
                Api::Gemini => gemini::response_json(&message),
                Api::OpenAi => openai::response_json(&message),
            };
            json_message_response(json, delivery)
        }
    }
}

fn with_request_id(body: &Value, mut response: Response) -> Response {
    let id = body
        .get("request_id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| new_id("req_01"));
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("request-id", value);
    }
    response
}

fn json_message_response(json: Value, delivery: Delivery) -> Response {
    let Some(_) = delivery.cut_after_events else {
        return Json(json).into_response();
    };
    // A cut JSON answer: half the body, then the connection drops.
    let bytes = Bytes::from(json.to_string());
    let half = bytes.slice(..bytes.len() / 2);
    let chunks: Vec<io::Result<Bytes>> = vec![Ok(half), Err(cut_error())];
    let mut response = Response::new(Body::from_stream(futures::stream::iter(chunks)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn sse_response(
    message: &AssistantMessage,
    api: Api,
    delivery: Delivery,
    shared: &Shared,
) -> Response {
    let events: Vec<Bytes> = match api {
        Api::Anthropic => message_events(message, delivery.chunks)
            .iter()
            .map(|event| event.to_bytes())
            .collect(),
        // Google's SSE: `data:` lines only, CRLF-separated.
        Api::Gemini => gemini::stream_chunks(message, delivery.chunks)
            .iter()
            .map(|chunk| Bytes::from(format!("data: {chunk}\r\n\r\n")))
            .collect(),
        Api::OpenAi => response_events(message, delivery.chunks)
            .iter()
            .map(|event| event.to_bytes())
            .collect(),
    };
    let body = paced_events(
        events,
        delivery,
        ActiveStream::new(Arc::clone(&shared.active_streams)),
    )
    .take_until(shared.shutdown.clone().cancelled_owned());
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&new_id("req_01")) {
        headers.insert("request-id", value);
    }
    response
}

/// Yields the events with `delivery.chunk_delay` before each one after the first, and an
/// error (which makes hyper drop the connection) in place of event number
/// `cut_after_events`. hyper drops the stream when the client disconnects, which cancels
/// a pending pause, so a slow stream stops as soon as a write fails.
fn paced_events(
    events: Vec<Bytes>,
    delivery: Delivery,
    guard: ActiveStream,
) -> impl Stream<Item = io::Result<Bytes>> + Send {
    let cut_at = delivery
        .cut_after_events
        .and_then(|n| usize::try_from(n).ok());
    let delay = delivery.chunk_delay;
    futures::stream::iter(events.into_iter().enumerate())
        .take_while(move |(index, _)| {
            futures::future::ready(cut_at.is_none_or(|cut| *index <= cut))
        })
        .then(move |(index, bytes)| {
            let pause = pause_before(index, delay);
            async move {
                if let Some(pause) = pause {
                    tokio::time::sleep(pause).await;
                }
                if cut_at == Some(index) {
                    // Let the events before the cut reach the client first; an error
                    // right behind them makes hyper drop them with the connection.
                    tokio::time::sleep(CUT_GRACE).await;
                    Err(cut_error())
                } else {
                    Ok(bytes)
                }
            }
        })
        // Keeps the guard alive exactly as long as hyper holds the body.
        .map(move |item| {
            let _ = &guard;
            item
        })
}

fn pause_before(index: usize, delay: Duration) -> Option<Duration> {
    (index > 0 && !delay.is_zero()).then_some(delay)
}

fn cut_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "scripted midstream cut")
}

/// Counts a live SSE stream for [`crate::ScriptedModelServer::active_streams`].
struct ActiveStream(Arc<AtomicUsize>);

impl ActiveStream {
    fn new(counter: Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for ActiveStream {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
