//! The writer task of a connection: it owns the socket's sending half and the connection's
//! subscriptions (`subscription.rs`), sends what the reader queues in order, pings when idle,
//! and closes when asked.
//!
//! Writes are coalesced: whatever woke the writer (a queued frame or a subscription's event),
//! everything else already queued and every event every subscription has ready are fed to the
//! socket too, and the lot is flushed at once, up to [`MAX_FRAMES_PER_WRITE`] frames. A client
//! behind on a burst of text deltas gets them in a few writes instead of one system call each.

use std::time::{Duration, Instant};

use agent_runtime_core::Subscription;
use agent_runtime_protocol::ServerFrame;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::stream::SplitSink;
use futures::SinkExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::subscription::{Item, Subscriptions};

/// How often the server pings an idle client, so proxies keep the connection open.
pub const PING_INTERVAL: Duration = Duration::from_secs(30);

/// Most frames one write gathers.
const MAX_FRAMES_PER_WRITE: usize = 256;

/// What the reader asks the writer to do, in order.
pub enum Outbound {
    /// Send a frame (a command's result or error).
    Frame(Box<ServerFrame>),
    /// Send the `subscribe` result, then the subscription's events (replacing any earlier
    /// subscription to the session).
    Subscribe {
        session_id: String,
        result: Box<ServerFrame>,
        subscription: Box<Subscription>,
    },
    /// End the subscription to a session; nothing of it is sent after this.
    Unsubscribe { session_id: String },
    /// Send a close frame and stop writing.
    Close { code: u16, reason: &'static str },
}

/// Serves the sending half until the connection closes, the reader stops, or the server shuts
/// down.
pub async fn write_frames(
    mut sink: SplitSink<WebSocket, Message>,
    mut outbound: mpsc::Receiver<Outbound>,
    cancel: CancellationToken,
) {
    let mut subscriptions = Subscriptions::default();
    let mut ping = tokio::time::interval(PING_INTERVAL / 2);
    ping.reset();
    let mut last_write = Instant::now();
    // One future for the life of the writer, not one per wake-up.
    let cancelled = cancel.cancelled();
    tokio::pin!(cancelled);
    loop {
        let mut batch = Vec::new();
        let mut close = None;
        // Events first: while they keep coming, nothing else is polled (queued requests are
        // taken below on every round, and a stuck write still sees the cancellation).
        tokio::select! {
            biased;
            item = subscriptions.next() => batch.push(message_of(item)),
            next = outbound.recv() => match next {
                Some(next) => take(next, &mut subscriptions, &mut batch, &mut close),
                None => break,
            },
            _ = &mut cancelled => break,
            _ = ping.tick() => {
                if last_write.elapsed() >= PING_INTERVAL {
                    batch.push(Message::Ping(Default::default()));
                }
            }
        }
        while close.is_none() && batch.len() < MAX_FRAMES_PER_WRITE {
            let Ok(next) = outbound.try_recv() else { break };
            take(next, &mut subscriptions, &mut batch, &mut close);
        }
        if close.is_none() {
            let mut items = Vec::new();
            subscriptions.ready(&mut items, MAX_FRAMES_PER_WRITE.saturating_sub(batch.len()));
            batch.extend(items.into_iter().map(message_of));
        }
        if !batch.is_empty() {
            let sent = tokio::select! {
                _ = &mut cancelled => break,
                sent = feed_and_flush(&mut sink, batch) => sent,
            };
            if sent.is_err() {
                // The client is gone; the reader notices on its side.
                break;
            }
            last_write = Instant::now();
        }
        if let Some(close) = close {
            let _ = sink.send(close).await;
            return;
        }
    }
    let _ = sink.close().await;
}

/// Carries out one queued request: frames go into `batch`, a close into `close`.
fn take(
    next: Outbound,
    subscriptions: &mut Subscriptions,
    batch: &mut Vec<Message>,
    close: &mut Option<Message>,
) {
    match next {
        Outbound::Frame(frame) => batch.extend(text_of(&frame)),
        Outbound::Subscribe {
            session_id,
            result,
            subscription,
        } => {
            batch.extend(text_of(&result));
            subscriptions.insert(session_id, *subscription);
        }
        Outbound::Unsubscribe { session_id } => subscriptions.remove(&session_id),
        Outbound::Close { code, reason } => {
            *close = Some(Message::Close(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            })));
        }
    }
}

fn message_of(item: Item) -> Message {
    match item {
        Item::Event(text) => Message::Text(text),
        Item::Resync(frame) => text_of(&frame).unwrap_or(Message::Text(Utf8Bytes::from_static(""))),
    }
}

/// A frame as a text message (`None`, logged, if it does not serialize; plain data always does).
fn text_of(frame: &ServerFrame) -> Option<Message> {
    match serde_json::to_string(frame) {
        Ok(text) => Some(Message::Text(Utf8Bytes::from(text))),
        Err(e) => {
            tracing::error!("serializing a websocket frame failed: {e}");
            None
        }
    }
}

/// Feeds every message to the socket, then flushes once.
async fn feed_and_flush(
    sink: &mut SplitSink<WebSocket, Message>,
    batch: Vec<Message>,
) -> Result<(), axum::Error> {
    for message in batch {
        sink.feed(message).await?;
    }
    sink.flush().await
}
