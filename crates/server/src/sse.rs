//! Server-sent events: `GET /api/sessions/{id}/events`, for clients that only read.
//!
//! Each event is `id: <seq>`, `event: <event type>`, `data: <Envelope JSON>`. A reconnecting
//! client's `Last-Event-ID` (or, on a first connect, `?since=`) resumes after that seq. When the
//! runtime says the subscription fell behind, an `event: resync_required` (data: the WebSocket
//! `resync_required` frame) ends the stream: fetch the snapshot and reconnect with `since` = its
//! `seq`. Comments keep idle connections alive through proxies.

use std::convert::Infallible;
use std::time::Duration;

use agent_runtime_core::{Subscription, SubscriptionItem};
use agent_runtime_protocol::{Envelope, ServerFrame};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};

/// How often an idle stream sends a keep-alive comment.
pub const SSE_KEEPALIVE: Duration = Duration::from_secs(15);

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
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // A reconnecting EventSource repeats the original URL, so its Last-Event-ID is the newer cursor.
    let since = last_event_id(&headers)?.or(query.since).unwrap_or(0);
    let subscription = state.runtime.subscribe(&id, since).await?;
    let stream = event_stream(id, subscription, state.shutdown.clone());
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(SSE_KEEPALIVE)))
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

fn event_stream(
    session_id: String,
    subscription: Subscription,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let state = StreamState {
        session_id,
        subscription: Some(subscription),
        shutdown,
    };
    futures::stream::unfold(state, |mut state| async move {
        let subscription = state.subscription.as_mut()?;
        let item = tokio::select! {
            _ = state.shutdown.cancelled() => None,
            item = subscription.next() => item,
        };
        match item? {
            SubscriptionItem::Event(envelope) => {
                let event = envelope_event(&envelope);
                Some((Ok(event), state))
            }
            SubscriptionItem::Resync { latest_seq, reason } => {
                state.subscription = None;
                let frame = ServerFrame::ResyncRequired {
                    session_id: state.session_id.clone(),
                    latest_seq,
                    reason,
                };
                let data = serde_json::to_string(&frame).unwrap_or_default();
                Some((
                    Ok(Event::default().event("resync_required").data(data)),
                    state,
                ))
            }
        }
    })
}

fn envelope_event(envelope: &Envelope) -> Event {
    let value = serde_json::to_value(envelope).unwrap_or_default();
    let kind = value
        .pointer("/event/type")
        .and_then(|t| t.as_str())
        .unwrap_or("event")
        .to_string();
    Event::default()
        .id(envelope.seq.to_string())
        .event(kind)
        .data(value.to_string())
}
