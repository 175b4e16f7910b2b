//! Server-sent events: `GET /api/sessions/{id}/events`, for clients that only read.
//!
//! Each event is `id: <seq>`, `event: <event type>`, `data: <Envelope JSON>`. A reconnecting
//! client's `Last-Event-ID` (or, on a first connect, `?since=`) resumes after that seq. When the
//! runtime says the subscription fell behind, an `event: resync_required` (data: the WebSocket
//! `resync_required` frame) ends the stream: fetch the snapshot and reconnect with `since` = its
//! `seq`. Comments keep idle connections alive through proxies.

use std::convert::Infallible;
use std::time::Duration;

use agent_runtime_core::{Encoding, SharedEvent, Subscription, SubscriptionItem};
use agent_runtime_protocol::ServerFrame;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::Stream;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};

/// How often an idle stream sends a keep-alive comment.
pub const SSE_KEEPALIVE: Duration = Duration::from_secs(15);

/// Most bytes one chunk of the response gathers from events that are ready at once.
const MAX_CHUNK_BYTES: usize = 64 * 1024;

/// `?since=` (the `token` parameter, if any, is read by the auth middleware).
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    since: Option<u64>,
}

pub async fn session_events(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<EventsQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // A reconnecting EventSource repeats the original URL, so its Last-Event-ID is the newer cursor.
    let since = last_event_id(&headers)?.or(query.since).unwrap_or(0);
    let subscription = state.runtime.subscribe(&id, since).await?;
    let stream = event_stream(id, subscription, state.shutdown.clone());
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

fn last_event_id(headers: &HeaderMap) -> ApiResult<Option<u64>> {
    let Some(value) = headers.get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default().trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        ApiError::InvalidRequest(format!("Last-Event-ID {text:?} is not a sequence number"))
    })
}

struct StreamState {
    session_id: String,
    subscription: Option<Subscription>,
    shutdown: CancellationToken,
}

/// The response body: chunks of encoded events. Each chunk holds the first event that comes and
/// every further one already waiting (up to [`MAX_CHUNK_BYTES`]), so a burst is written in few
/// writes; a single event goes out as the shared bytes themselves, without a copy. A keep-alive
/// comment goes out after [`SSE_KEEPALIVE`] without events.
fn event_stream(
    session_id: String,
    subscription: Subscription,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let state = StreamState {
        session_id,
        subscription: Some(subscription),
        shutdown,
    };
    futures::stream::unfold(state, |mut state| async move {
        let subscription = state.subscription.as_mut()?;
        let item = tokio::select! {
            _ = state.shutdown.cancelled() => return None,
            _ = tokio::time::sleep(SSE_KEEPALIVE) => {
                return Some((Ok(Bytes::from_static(b":\n\n")), state));
            }
            item = subscription.next() => item?,
        };
        let first = state.encode(item);
        if state.subscription.is_none() {
            return Some((Ok(first), state));
        }
        let mut chunk: Option<BytesMut> = None;
        while chunk.as_ref().map_or(first.len(), BytesMut::len) < MAX_CHUNK_BYTES {
            let Some(item) = state.subscription.as_mut().and_then(Subscription::try_next) else {
                break;
            };
            let next = state.encode(item);
            chunk
                .get_or_insert_with(|| BytesMut::from(&first[..]))
                .extend_from_slice(&next);
        }
        let bytes = chunk.map_or(first, BytesMut::freeze);
        Some((Ok(bytes), state))
    })
}

impl StreamState {
    /// Encodes one item; a resync ends the subscription.
    fn encode(&mut self, item: SubscriptionItem) -> Bytes {
        match item {
            SubscriptionItem::Event(event) => event_bytes(&event),
            SubscriptionItem::Resync { latest_seq, reason } => {
                self.subscription = None;
                let frame = ServerFrame::ResyncRequired {
                    session_id: self.session_id.clone(),
                    latest_seq,
                    reason,
                };
                let data = serde_json::to_string(&frame).unwrap_or_default();
                Bytes::from(format!("event: resync_required\ndata: {data}\n\n"))
            }
        }
    }
}

/// `id: <seq>`, `event: <type>`, `data: <Envelope JSON>`: encoded once for every SSE subscriber.
/// Compact JSON has no raw newline, so the data fits one `data:` line.
fn event_bytes(event: &SharedEvent) -> Bytes {
    event.encoded(Encoding::ServerSentEvents, |envelope| {
        let data = serde_json::to_string(envelope).unwrap_or_default();
        Bytes::from(format!(
            "id: {}\nevent: {}\ndata: {data}\n\n",
            envelope.seq,
            envelope.event.kind()
        ))
    })
}
