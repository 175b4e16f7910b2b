//! One subscription of a connection: a task forwarding a session's events into the
//! connection's outbound channel.

use agent_runtime_core::{Encoding, SharedEvent, Subscription, SubscriptionItem};
use agent_runtime_protocol::{Envelope, ServerFrame};
use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use std::time::Duration;

use tokio::sync::mpsc::{self, error::SendTimeoutError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::connection::Outbound;

/// Why a subscription is ended when the connection's outbound channel stays full.
pub const SLOW_CLIENT_REASON: &str = "the client is not reading fast enough";

/// How long an event may wait for room in a full outbound channel before the subscription is
/// ended with `resync_required`. Waiting a little lets a large replay flow at the socket's pace;
/// waiting for ever would let one stalled client pin the session's live channel.
pub const SLOW_CLIENT_GRACE: Duration = Duration::from_secs(5);

/// A running subscription, owned by its connection.
pub struct SubscriptionTask {
    cancel: CancellationToken,
    handle: JoinHandle<()>,
}

impl SubscriptionTask {
    /// Starts forwarding `subscription` (after its `result` has been queued).
    pub fn start(
        session_id: String,
        subscription: Subscription,
        out: mpsc::Sender<Outbound>,
        cancel: CancellationToken,
    ) -> Self {
        let handle = tokio::spawn(forward(session_id, subscription, out, cancel.clone()));
        SubscriptionTask { cancel, handle }
    }

    /// Stops forwarding and waits until the task has queued its last frame.
    pub async fn stop(self) {
        self.cancel.cancel();
        if let Err(e) = self.handle.await {
            if e.is_panic() {
                tracing::error!("subscription task panicked: {e}");
            }
        }
    }
}

/// Forwards events until the subscription ends, is cancelled, or the client falls behind.
///
/// An event that finds the connection's channel full waits up to [`SLOW_CLIENT_GRACE`]; if the
/// channel is still full then, this client is not keeping up. The subscription is dropped and a
/// `resync_required` is queued (that one send may wait for room), so the client learns exactly
/// where its view ends rather than missing events silently. Only this subscription waits: other
/// sessions and the runtime never block on a slow socket.
async fn forward(
    session_id: String,
    mut subscription: Subscription,
    out: mpsc::Sender<Outbound>,
    cancel: CancellationToken,
) {
    loop {
        let item = tokio::select! {
            _ = cancel.cancelled() => return,
            item = subscription.next() => item,
        };
        let resync = match item {
            // The session was deleted or the runtime stopped.
            None => return,
            Some(SubscriptionItem::Resync { latest_seq, reason }) => (latest_seq, reason),
            Some(SubscriptionItem::Event(event)) => {
                let seq = event.envelope.seq;
                let frame = Outbound::Event(event_frame(&event));
                let sent = tokio::select! {
                    _ = cancel.cancelled() => return,
                    sent = out.send_timeout(frame, SLOW_CLIENT_GRACE) => sent,
                };
                match sent {
                    Ok(()) => continue,
                    Err(SendTimeoutError::Closed(_)) => return,
                    Err(SendTimeoutError::Timeout(_)) => (seq, SLOW_CLIENT_REASON.to_string()),
                }
            }
        };
        drop(subscription);
        let (latest_seq, reason) = resync;
        let frame = ServerFrame::ResyncRequired {
            session_id,
            latest_seq,
            reason,
        };
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = out.send(Outbound::Frame(Box::new(frame))) => {}
        }
        return;
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
mod tests {
    use std::sync::Arc;

    use agent_runtime_core::log::EventLog;
    use agent_runtime_protocol::{SessionEvent, SessionInfo};
    use agent_runtime_store::{MemoryStore, SessionRecord, SessionStore};
    use pretty_assertions::assert_eq;

    use super::*;

    async fn log_with_events(count: usize) -> EventLog {
        let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
        let info = SessionInfo {
            session_id: "s1".into(),
            agent: "claude-code".into(),
            profile: None,
            name: None,
            created_at: "2026-01-01T00:00:00.000000Z".into(),
            updated_at: "2026-01-01T00:00:00.000000Z".into(),
            status: Default::default(),
        };
        store
            .create_session(&SessionRecord::new(info))
            .await
            .expect("create");
        let log = EventLog::load(store, "s1").await.expect("load");
        let events = (0..count)
            .map(|i| SessionEvent::FileDeleted {
                path: format!("f{i}"),
            })
            .collect();
        log.append(events).await.expect("append");
        log
    }

    fn seq_of(outbound: Option<Outbound>) -> u64 {
        match outbound {
            Some(Outbound::Event(text)) => match serde_json::from_str(text.as_str()) {
                Ok(ServerFrame::Event { envelope }) => envelope.seq,
                other => panic!("expected an event, got {other:?}"),
            },
            other => panic!("expected an event, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_event_frame_is_the_server_frame_and_is_serialized_once() {
        let log = log_with_events(1).await;
        let mut first = log.subscribe(0).await;
        let mut second = log.subscribe(0).await;
        let (Some(SubscriptionItem::Event(a)), Some(SubscriptionItem::Event(b))) =
            (first.next().await, second.next().await)
        else {
            panic!("expected events");
        };
        // Both subscribers hold the same event, and get the same bytes, not two copies.
        assert!(Arc::ptr_eq(&a, &b));
        let (text_a, text_b) = (event_frame(&a), event_frame(&b));
        assert_eq!(text_a.as_str().as_ptr(), text_b.as_str().as_ptr());
        let expected = serde_json::to_string(&ServerFrame::Event {
            envelope: a.envelope.clone(),
        })
        .expect("serialize");
        assert_eq!(text_a.as_str(), expected);
    }

    #[tokio::test(start_paused = true)]
    async fn a_channel_that_stays_full_ends_the_subscription_with_resync_required() {
        let log = log_with_events(10).await;
        let (out, mut rx) = mpsc::channel(3);
        let task = SubscriptionTask::start(
            "s1".into(),
            log.subscribe(0).await,
            out,
            CancellationToken::new(),
        );
        // Nobody reads: three events fit, the fourth waits out the grace period (the paused
        // clock jumps ahead once every task is idle).
        tokio::time::sleep(SLOW_CLIENT_GRACE * 2).await;
        let mut seqs = Vec::new();
        for _ in 0..3 {
            seqs.push(seq_of(rx.recv().await));
        }
        assert_eq!(seqs, vec![1, 2, 3]);
        let resync = rx.recv().await.map(|outbound| match outbound {
            Outbound::Frame(frame) => *frame,
            other => panic!("expected a frame, got {other:?}"),
        });
        match resync {
            Some(ServerFrame::ResyncRequired {
                session_id,
                latest_seq,
                reason,
            }) => {
                assert_eq!(session_id, "s1");
                assert!(latest_seq >= 4, "{latest_seq}");
                assert_eq!(reason, SLOW_CLIENT_REASON);
            }
            other => panic!("expected resync_required, got {other:?}"),
        }
        task.stop().await;
        assert!(rx.recv().await.is_none(), "nothing after the resync");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reading_client_gets_every_event_once() {
        let log = log_with_events(50).await;
        let (out, mut rx) = mpsc::channel(4);
        let cancel = CancellationToken::new();
        let task = SubscriptionTask::start("s1".into(), log.subscribe(10).await, out, cancel);
        let mut seqs = Vec::new();
        for _ in 0..40 {
            seqs.push(seq_of(rx.recv().await));
        }
        assert_eq!(seqs, (11..=50).collect::<Vec<_>>());
        task.stop().await;
    }
}
