//! The subscriptions of one connection, owned by its writer task (`writer.rs`).
//!
//! There is no task or channel per subscription: the writer waits on every subscription of its
//! connection at once and, when one has an event, takes every event each of them has ready and
//! writes the lot with one flush. An event goes from the session's log to the socket with one
//! wake-up of one task, and its frame's bytes are the ones encoded once for every subscriber.
//!
//! A client that stops reading stalls only its own writer. Its subscriptions fall behind the
//! session's live channel, and the first one to fall more than the channel holds
//! (`LIVE_CHANNEL_CAPACITY` events) behind ends with `resync_required`, written once the socket
//! takes writes again: the client learns exactly where its view ends rather than missing events
//! silently. A replay is read from the store page by page as the socket drains, so a long one
//! never counts as falling behind.

use agent_runtime_core::{Encoding, SharedEvent, Subscription, SubscriptionItem};
use agent_runtime_protocol::{Envelope, ServerFrame};
use axum::extract::ws::Utf8Bytes;
use serde::Serialize;

/// A frame for the socket, from a subscription.
#[derive(Debug, PartialEq)]
pub enum Item {
    /// An `event` frame (shared bytes).
    Event(Utf8Bytes),
    /// The `resync_required` that ended a subscription.
    Resync(Box<ServerFrame>),
}

/// The live subscriptions of a connection, by session (at most one each).
#[derive(Default)]
pub struct Subscriptions {
    live: Vec<(String, Subscription)>,
}

impl Subscriptions {
    /// Adds a subscription to `session_id`, replacing one it had.
    pub fn insert(&mut self, session_id: String, subscription: Subscription) {
        self.remove(&session_id);
        self.live.push((session_id, subscription));
    }

    /// Ends the subscription to `session_id`, if any.
    pub fn remove(&mut self, session_id: &str) {
        self.live.retain(|(id, _)| id != session_id);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Waits until a subscription has an item and returns it; never returns while there are
    /// none. A subscription that ended (session deleted, runtime stopped, resync) is dropped.
    /// Cancel-safe: an item is taken from a subscription only when this returns it.
    pub async fn next(&mut self) -> Item {
        loop {
            let (index, item) = match self.live.len() {
                0 => std::future::pending().await,
                1 => (0, self.live[0].1.next().await),
                _ => {
                    let waiting = self
                        .live
                        .iter_mut()
                        .map(|(_, subscription)| Box::pin(subscription.next()));
                    let (item, index, _) = futures::future::select_all(waiting).await;
                    (index, item)
                }
            };
            if let Some(item) = self.settle(index, item) {
                return item;
            }
        }
    }

    /// Appends every item ready now, without waiting, until `batch` holds `limit`.
    pub fn ready(&mut self, batch: &mut Vec<Item>, limit: usize) {
        let mut index = 0;
        while index < self.live.len() && batch.len() < limit {
            match self.live[index].1.try_next() {
                None => index += 1,
                // The same index next: the subscription may have more, or, if it ended, the
                // last one was swapped into its place.
                Some(item) => batch.extend(self.settle(index, Some(item))),
            }
        }
    }

    /// The frame of subscription `index`'s item; an ended subscription is removed.
    fn settle(&mut self, index: usize, item: Option<SubscriptionItem>) -> Option<Item> {
        match item {
            Some(SubscriptionItem::Event(event)) => Some(Item::Event(event_frame(&event))),
            Some(SubscriptionItem::Resync { latest_seq, reason }) => {
                let (session_id, _) = self.live.swap_remove(index);
                Some(Item::Resync(Box::new(ServerFrame::ResyncRequired {
                    session_id,
                    latest_seq,
                    reason,
                })))
            }
            None => {
                self.live.swap_remove(index);
                None
            }
        }
    }
}

/// The `event` frame of a shared event, serialized once for every WebSocket subscriber.
pub fn event_frame(event: &SharedEvent) -> Utf8Bytes {
    /// `ServerFrame::Event`, borrowing the envelope instead of owning a copy.
    #[derive(Serialize)]
    #[serde(tag = "type", rename = "event")]
    struct EventFrame<'a> {
        envelope: &'a Envelope,
    }
    event.encoded(Encoding::WebSocket, |envelope| {
        match serde_json::to_string(&EventFrame { envelope }) {
            Ok(text) => Utf8Bytes::from(text),
            // Envelopes are plain data; serializing one cannot fail.
            Err(e) => {
                tracing::error!("serializing an event frame failed: {e}");
                Utf8Bytes::from_static("")
            }
        }
    })
}

#[cfg(test)]
#[path = "subscription_tests.rs"]
mod tests;
