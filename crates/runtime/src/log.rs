//! A session's event log: durable append, folded state, in-memory ring, and fan-out.
//!
//! Order of an append (the invariant "durable before visible"): the store assigns `seq` and
//! persists the events, then they are folded into the in-memory state, pushed onto the ring and
//! broadcast. A subscriber therefore never sees an event the store does not have.
//!
//! A subscription replays `since+1..=latest` (from the ring when it still holds them, else from
//! the store) and then follows the live channel. If it falls so far behind that the channel drops
//! events for it, it receives [`SubscriptionItem::Resync`] and ends: never a silent skip.

use std::collections::VecDeque;
use std::sync::Arc;

use agent_runtime_protocol::{fold, Envelope, SessionEvent, SessionState};
use agent_runtime_store::SessionStore;
use std::sync::atomic::Ordering;

use tokio::sync::{broadcast, Mutex};

use crate::error::Result;
use crate::time::now_rfc3339;

/// Capacity of a session's live channel. A subscriber this many events behind the newest one is
/// told to resync; large enough to absorb a burst of text deltas while a socket is briefly slow.
pub const LIVE_CHANNEL_CAPACITY: usize = 4096;

/// Recent events kept in memory per loaded session, so most reconnects replay without the store.
pub const RING_CAPACITY: usize = 2048;

/// How many events one store read fetches during a replay.
const REPLAY_PAGE: usize = 1000;

/// One session's log. Appends must come from one writer at a time (the session's actor).
pub struct EventLog {
    session_id: String,
    store: Arc<dyn SessionStore>,
    inner: Mutex<Inner>,
    live: broadcast::Sender<Envelope>,
}

struct Inner {
    state: SessionState,
    ring: VecDeque<Envelope>,
}

impl EventLog {
    /// Loads a session's log by folding every stored event.
    pub async fn load(store: Arc<dyn SessionStore>, session_id: &str) -> Result<Self> {
        let mut state = SessionState::default();
        let mut ring = VecDeque::with_capacity(RING_CAPACITY);
        let mut after = 0;
        loop {
            let page = store.read_events(session_id, after, REPLAY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for envelope in page {
                fold(&mut state, &envelope);
                push_ring(&mut ring, envelope);
            }
        }
        let (live, _) = broadcast::channel(LIVE_CHANNEL_CAPACITY);
        Ok(EventLog {
            session_id: session_id.to_string(),
            store,
            inner: Mutex::new(Inner { state, ring }),
            live,
        })
    }

    /// The session this log belongs to.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Persists `events`, folds them and fans them out. Returns them numbered.
    pub async fn append(&self, events: Vec<SessionEvent>) -> Result<Vec<Envelope>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let at = now_rfc3339();
        let batch: Vec<(String, SessionEvent)> =
            events.into_iter().map(|e| (at.clone(), e)).collect();
        // The lock is held across the store write so that appends and subscriptions see one order.
        let mut inner = self.inner.lock().await;
        let writing = std::time::Instant::now();
        let envelopes = self.store.append_events(&self.session_id, &batch).await?;
        let metrics = crate::metrics::global();
        metrics.append_seconds.observe(writing.elapsed());
        metrics
            .events_appended
            .fetch_add(envelopes.len() as u64, Ordering::Relaxed);
        for envelope in &envelopes {
            fold(&mut inner.state, envelope);
            push_ring(&mut inner.ring, envelope.clone());
            // No receivers is fine: nobody is watching.
            let _ = self.live.send(envelope.clone());
        }
        Ok(envelopes)
    }

    /// Appends one event.
    pub async fn push(&self, event: SessionEvent) -> Result<Envelope> {
        let mut envelopes = self.append(vec![event]).await?;
        envelopes
            .pop()
            .ok_or_else(|| crate::RuntimeError::Internal("append returned nothing".into()))
    }

    /// The folded state as of the last append.
    pub async fn state(&self) -> SessionState {
        self.inner.lock().await.state.clone()
    }

    /// Reads part of the folded state without copying all of it.
    pub async fn read<T>(&self, f: impl FnOnce(&SessionState) -> T) -> T {
        f(&self.inner.lock().await.state)
    }

    /// Whether anyone follows the log's live events (a subscription holds its receiver).
    pub fn has_subscribers(&self) -> bool {
        self.live.receiver_count() > 0
    }

    /// Subscribes to events after `since`.
    pub async fn subscribe(&self, since: u64) -> Subscription {
        let inner = self.inner.lock().await;
        let rx = self.live.subscribe();
        let latest = inner.state.seq;
        let mut backlog = VecDeque::new();
        let mut fetch_from = None;
        if since < latest {
            let ring_first = inner.ring.front().map(|e| e.seq).unwrap_or(latest + 1);
            if since + 1 >= ring_first {
                backlog.extend(inner.ring.iter().filter(|e| e.seq > since).cloned());
            } else {
                fetch_from = Some(since);
            }
        }
        let resync = (since > latest).then(|| "cursor is ahead of the log".to_string());
        Subscription {
            session_id: self.session_id.clone(),
            store: self.store.clone(),
            latest_seq: latest,
            delivered: since.min(latest),
            backlog,
            fetch_from,
            rx,
            resync,
            done: false,
        }
    }
}

fn push_ring(ring: &mut VecDeque<Envelope>, envelope: Envelope) {
    if ring.len() == RING_CAPACITY {
        ring.pop_front();
    }
    ring.push_back(envelope);
}

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // events are the common case; boxing them buys nothing
pub enum SubscriptionItem {
    Event(Envelope),
    /// The subscriber must fetch a snapshot and subscribe again; nothing more follows.
    Resync {
        latest_seq: u64,
        reason: String,
    },
}

/// A replay-then-live stream of one session's events, each exactly once and in order.
pub struct Subscription {
    session_id: String,
    store: Arc<dyn SessionStore>,
    /// The newest event when the subscription started.
    pub latest_seq: u64,
    delivered: u64,
    backlog: VecDeque<Envelope>,
    fetch_from: Option<u64>,
    rx: broadcast::Receiver<Envelope>,
    resync: Option<String>,
    done: bool,
}

/// An event handed to a subscriber, counted.
fn delivered(envelope: Envelope) -> SubscriptionItem {
    crate::metrics::global()
        .deliveries
        .fetch_add(1, Ordering::Relaxed);
    SubscriptionItem::Event(envelope)
}

impl Subscription {
    /// The next item; `None` when the session's log is gone or after a resync.
    pub async fn next(&mut self) -> Option<SubscriptionItem> {
        if self.done {
            return None;
        }
        if let Some(reason) = self.resync.take() {
            return Some(self.end_with_resync(reason));
        }
        loop {
            if let Some(envelope) = self.backlog.pop_front() {
                if envelope.seq <= self.delivered {
                    continue;
                }
                self.delivered = envelope.seq;
                return Some(delivered(envelope));
            }
            if let Some(after) = self.fetch_from {
                match self
                    .store
                    .read_events(&self.session_id, after, REPLAY_PAGE)
                    .await
                {
                    Ok(page) => {
                        let last = page.last().map(|e| e.seq).unwrap_or(self.latest_seq);
                        self.fetch_from =
                            (last < self.latest_seq && !page.is_empty()).then_some(last);
                        self.backlog
                            .extend(page.into_iter().filter(|e| e.seq <= self.latest_seq));
                        continue;
                    }
                    Err(e) => return Some(self.end_with_resync(format!("replay failed: {e}"))),
                }
            }
            return match self.rx.recv().await {
                Ok(envelope) if envelope.seq <= self.delivered => continue,
                Ok(envelope) if envelope.seq == self.delivered + 1 => {
                    self.delivered = envelope.seq;
                    Some(delivered(envelope))
                }
                Ok(envelope) => Some(self.end_with_resync(format!(
                    "gap: expected seq {}, got {}",
                    self.delivered + 1,
                    envelope.seq
                ))),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    Some(self.end_with_resync(format!("subscriber fell {n} events behind")))
                }
                Err(broadcast::error::RecvError::Closed) => {
                    self.done = true;
                    None
                }
            };
        }
    }

    fn end_with_resync(&mut self, reason: String) -> SubscriptionItem {
        self.done = true;
        crate::metrics::global()
            .resyncs
            .fetch_add(1, Ordering::Relaxed);
        SubscriptionItem::Resync {
            latest_seq: self.latest_seq.max(self.delivered),
            reason,
        }
    }
}
