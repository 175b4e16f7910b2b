//! A session's event log: durable append, folded state, in-memory ring, and fan-out.
//!
//! Order of an append (the invariant "durable before visible"): the store assigns `seq` and
//! persists the events, then they are folded into the in-memory state, pushed onto the ring and
//! broadcast. A subscriber therefore never sees an event the store does not have.
//!
//! Group commit: text deltas go through [`EventLog::append_grouped`]. The first delta after a
//! quiet spell is written at once; deltas that follow within [`GROUP_COMMIT_WINDOW`] of the last
//! write wait (invisible, not yet numbered) and go to the store together in one transaction when
//! the window ends ([`EventLog::flush_deadline`], [`EventLog::flush`]) or with the next ordinary
//! append, which writes them first. A stream of 10,000 deltas is a few hundred transactions, a
//! lone delta is not delayed, and nothing is visible before it is durable.
//!
//! A subscription replays `since+1..=latest` (from the ring when it still holds them, else from
//! the store) and then follows the live channel. If it falls so far behind that the channel drops
//! events for it, it receives [`SubscriptionItem::Resync`] and ends: never a silent skip.
//!
//! On several nodes (`crate::cluster`) one node owns a session at a time and writes with its
//! fencing token ([`EventLog::own`]); every other node's log follows the store
//! ([`EventLog::catch_up`], woken by the owner's notifications), folding and fanning out the
//! events it reads exactly as if it had written them. A write the store fences off disowns the
//! log and wakes [`EventLog::ownership_lost`], so the actor stops its sandbox and turn.
//!
//! Events are fanned out as [`SharedEvent`]s: one allocation per event, shared by the ring, the
//! live channel and every subscriber, carrying each transport's encoding of it, made once by the
//! first subscriber that needs it. A thousand WebSocket subscribers cost one serialization.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

use agent_runtime_protocol::{fold, Envelope, SessionEvent, SessionState};
use agent_runtime_store::{ClusterStore, Fence, SessionStore, StoreError};
use std::sync::atomic::Ordering;

use tokio::sync::{broadcast, Mutex, Notify};
use tokio::time::Instant;

use crate::error::Result;
use crate::time::now_rfc3339;

/// Capacity of a session's live channel. A subscriber this many events behind the newest one is
/// told to resync; large enough to absorb a burst of text deltas while a socket is briefly slow.
pub const LIVE_CHANNEL_CAPACITY: usize = 4096;

/// Recent events kept in memory per loaded session, so most reconnects replay without the store.
pub const RING_CAPACITY: usize = 2048;

/// How many events one store read fetches during a replay.
const REPLAY_PAGE: usize = 1000;

/// How long text deltas may wait for company before they are written together.
pub const GROUP_COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(5);

/// Most events one grouped write holds; more are written at once.
pub const GROUP_COMMIT_MAX_EVENTS: usize = 1024;

/// One session's log. Appends must come from one writer at a time (the session's actor).
pub struct EventLog {
    session_id: String,
    store: Arc<dyn SessionStore>,
    /// Set on a node of several: writes then need a fence, and the log can follow the store.
    cluster: Option<Arc<dyn ClusterStore>>,
    inner: Mutex<Inner>,
    live: broadcast::Sender<Arc<SharedEvent>>,
    /// Woken when a write was fenced off or the node lost its registration.
    lost: Notify,
}

struct Inner {
    state: SessionState,
    ring: VecDeque<Arc<SharedEvent>>,
    /// Deltas waiting for the group write, stamped with their arrival time.
    pending: Vec<(String, SessionEvent)>,
    /// When the last write to the store began.
    last_write: Option<Instant>,
    /// Store transactions this log has made.
    writes: u64,
    /// This node's ownership of the session, on a node of several.
    fence: Option<Fence>,
}

/// How a transport encodes an event for the wire; each has one cached encoding per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// A WebSocket `event` frame.
    WebSocket,
    /// A server-sent event (`id:`, `event:`, `data:` lines).
    ServerSentEvents,
}

/// One appended event as subscribers receive it: the envelope, and its encodings, each made at
/// most once however many subscribers and transports deliver it.
pub struct SharedEvent {
    pub envelope: Envelope,
    encodings: [OnceLock<Box<dyn Any + Send + Sync>>; 2],
}

impl std::fmt::Debug for SharedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedEvent")
            .field("envelope", &self.envelope)
            .finish_non_exhaustive()
    }
}

impl PartialEq for SharedEvent {
    fn eq(&self, other: &Self) -> bool {
        self.envelope == other.envelope
    }
}

impl SharedEvent {
    pub fn new(envelope: Envelope) -> Arc<Self> {
        Arc::new(SharedEvent {
            envelope,
            encodings: Default::default(),
        })
    }

    /// The event encoded for `encoding`: `encode` runs for the first caller only (two callers
    /// racing on the very first delivery may both run it; one result is kept), every later caller
    /// gets a clone of the kept result (make `T` cheap to clone: `Bytes`, `Utf8Bytes`).
    pub fn encoded<T>(&self, encoding: Encoding, encode: impl FnOnce(&Envelope) -> T) -> T
    where
        T: Clone + Send + Sync + 'static,
    {
        let slot = &self.encodings[encoding as usize];
        if let Some(cached) = slot.get() {
            return match cached.downcast_ref::<T>() {
                Some(value) => value.clone(),
                // A transport asked for one encoding as two types; correct, just not shared.
                None => encode(&self.envelope),
            };
        }
        let value = encode(&self.envelope);
        let _ = slot.set(Box::new(value.clone()));
        value
    }
}

impl EventLog {
    /// Loads a session's log by folding every stored event.
    pub async fn load(store: Arc<dyn SessionStore>, session_id: &str) -> Result<Self> {
        EventLog::load_in(store, None, session_id).await
    }

    /// Loads a session's log on a node of several (`cluster` is `Some`): it writes only while
    /// owned ([`EventLog::own`]) and otherwise follows the store.
    pub async fn load_in(
        store: Arc<dyn SessionStore>,
        cluster: Option<Arc<dyn ClusterStore>>,
        session_id: &str,
    ) -> Result<Self> {
        let mut state = SessionState::default();
        let mut ring = VecDeque::with_capacity(RING_CAPACITY);
        let mut after = 0;
        loop {
            let page = store.read_events(session_id, after, REPLAY_PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for envelope in page {
                fold(&mut state, &envelope);
                push_ring(&mut ring, SharedEvent::new(envelope));
            }
        }
        let (live, _) = broadcast::channel(LIVE_CHANNEL_CAPACITY);
        Ok(EventLog {
            session_id: session_id.to_string(),
            store,
            cluster,
            inner: Mutex::new(Inner {
                state,
                ring,
                pending: Vec::new(),
                last_write: None,
                writes: 0,
                fence: None,
            }),
            live,
            lost: Notify::new(),
        })
    }

    /// The session this log belongs to.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// Persists `events` (after any deltas waiting for a group write, in the same transaction),
    /// folds them and fans them out. Returns them numbered.
    pub async fn append(&self, events: Vec<SessionEvent>) -> Result<Vec<Envelope>> {
        let mut inner = self.inner.lock().await;
        if events.is_empty() && inner.pending.is_empty() {
            return Ok(Vec::new());
        }
        let at = now_rfc3339();
        let count = events.len();
        let mut batch = std::mem::take(&mut inner.pending);
        batch.extend(events.into_iter().map(|e| (at.clone(), e)));
        let mut envelopes = self.write(&mut inner, batch).await?;
        Ok(envelopes.split_off(envelopes.len().saturating_sub(count)))
    }

    /// Appends text deltas with group commit (see the module docs): written now if the last
    /// write is older than [`GROUP_COMMIT_WINDOW`], else held until [`EventLog::flush`] or the
    /// next append. Held deltas are invisible to everyone until written.
    pub async fn append_grouped(&self, events: Vec<SessionEvent>) -> Result<()> {
        let mut inner = self.inner.lock().await;
        let at = now_rfc3339();
        inner
            .pending
            .extend(events.into_iter().map(|e| (at.clone(), e)));
        let window_open = inner
            .last_write
            .is_some_and(|last| Instant::now() < last + GROUP_COMMIT_WINDOW);
        if inner.pending.is_empty()
            || (window_open && inner.pending.len() < GROUP_COMMIT_MAX_EVENTS)
        {
            return Ok(());
        }
        let batch = std::mem::take(&mut inner.pending);
        self.write(&mut inner, batch).await.map(|_| ())
    }

    /// When held deltas are due to be written; `None` when none wait.
    pub async fn flush_deadline(&self) -> Option<Instant> {
        let inner = self.inner.lock().await;
        if inner.pending.is_empty() {
            return None;
        }
        Some(
            inner
                .last_write
                .map_or_else(Instant::now, |last| last + GROUP_COMMIT_WINDOW),
        )
    }

    /// Writes the held deltas now.
    pub async fn flush(&self) -> Result<()> {
        self.append(Vec::new()).await.map(|_| ())
    }

    /// How many store transactions this log has written since it was loaded.
    pub async fn writes(&self) -> u64 {
        self.inner.lock().await.writes
    }

    /// One store transaction: numbered by the store, then folded, kept and broadcast. The lock
    /// is held across the store write so that appends and subscriptions see one order. On a
    /// failure nothing is visible and the batch is lost to this log, as the store has none of it.
    async fn write(
        &self,
        inner: &mut Inner,
        batch: Vec<(String, SessionEvent)>,
    ) -> Result<Vec<Envelope>> {
        inner.last_write = Some(Instant::now());
        inner.writes += 1;
        let writing = std::time::Instant::now();
        let envelopes = match (&self.cluster, &inner.fence) {
            (None, _) => self.store.append_events(&self.session_id, &batch).await,
            (Some(cluster), Some(fence)) => {
                cluster.append_fenced(&self.session_id, fence, &batch).await
            }
            (Some(_), None) => Err(StoreError::Fenced(format!(
                "this node does not own session {}",
                self.session_id
            ))),
        };
        let envelopes = match envelopes {
            Err(StoreError::Fenced(why)) => {
                if inner.fence.take().is_some() {
                    self.lost.notify_one();
                }
                return Err(StoreError::Fenced(why).into());
            }
            other => other?,
        };
        let metrics = crate::metrics::global();
        metrics.append_seconds.observe(writing.elapsed());
        metrics
            .events_appended
            .fetch_add(envelopes.len() as u64, Ordering::Relaxed);
        self.apply(inner, &envelopes);
        Ok(envelopes)
    }

    /// Folds, keeps and broadcasts events that are in the store.
    fn apply(&self, inner: &mut Inner, envelopes: &[Envelope]) {
        for envelope in envelopes {
            fold(&mut inner.state, envelope);
            let shared = SharedEvent::new(envelope.clone());
            push_ring(&mut inner.ring, shared.clone());
            // No receivers is fine: nobody is watching.
            let _ = self.live.send(shared);
        }
    }

    /// Reads what other nodes appended since this log last looked, and folds and fans it out;
    /// nothing when this node owns the session (it is the only writer) or is the only node.
    pub async fn catch_up(&self) -> Result<()> {
        self.catch_up_to(u64::MAX).await
    }

    /// [`EventLog::catch_up`], skipped when the log already has `seq` (a notification of an
    /// append it has seen).
    pub async fn catch_up_to(&self, seq: u64) -> Result<()> {
        if self.cluster.is_none() {
            return Ok(());
        }
        let mut inner = self.inner.lock().await;
        if inner.fence.is_some() || inner.state.seq >= seq {
            return Ok(());
        }
        self.read_ahead(&mut inner).await
    }

    async fn read_ahead(&self, inner: &mut Inner) -> Result<()> {
        loop {
            let page = self
                .store
                .read_events(&self.session_id, inner.state.seq, REPLAY_PAGE)
                .await?;
            if page.is_empty() {
                return Ok(());
            }
            self.apply(inner, &page);
        }
    }

    /// Makes this log the session's writer with `fence`, after reading everything appended
    /// before it (nobody else can append now).
    pub async fn own(&self, fence: Fence) -> Result<()> {
        let mut inner = self.inner.lock().await;
        inner.fence = None;
        self.read_ahead(&mut inner).await?;
        inner.fence = Some(fence);
        Ok(())
    }

    /// Gives up writing (released, or taken away): returns the fence it held. Deltas waiting
    /// for their group write are dropped; nobody ever saw them.
    pub async fn disown(&self) -> Option<Fence> {
        let mut inner = self.inner.lock().await;
        inner.pending.clear();
        inner.fence.take()
    }

    /// The node lost its registration: stop writing, and wake [`EventLog::ownership_lost`] if
    /// this log was the writer.
    pub async fn lose_ownership(&self) {
        if self.disown().await.is_some() {
            self.lost.notify_one();
        }
    }

    /// Whether this node writes the log: always on a single node, while owned on one of several.
    pub async fn is_writer(&self) -> bool {
        self.cluster.is_none() || self.inner.lock().await.fence.is_some()
    }

    /// Resolves once a write was fenced off or [`EventLog::lose_ownership`] was called while
    /// this log was the writer (a wake-up that came while nobody waited is kept for the next).
    pub async fn ownership_lost(&self) {
        self.lost.notified().await
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
            let ring_first = inner
                .ring
                .front()
                .map(|e| e.envelope.seq)
                .unwrap_or(latest + 1);
            if since + 1 >= ring_first {
                backlog.extend(
                    inner
                        .ring
                        .iter()
                        .filter(|e| e.envelope.seq > since)
                        .cloned(),
                );
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

fn push_ring(ring: &mut VecDeque<Arc<SharedEvent>>, event: Arc<SharedEvent>) {
    if ring.len() == RING_CAPACITY {
        ring.pop_front();
    }
    ring.push_back(event);
}

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq)]
pub enum SubscriptionItem {
    Event(Arc<SharedEvent>),
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
    backlog: VecDeque<Arc<SharedEvent>>,
    fetch_from: Option<u64>,
    rx: broadcast::Receiver<Arc<SharedEvent>>,
    resync: Option<String>,
    done: bool,
}

/// An event handed to a subscriber, counted.
fn delivered(event: Arc<SharedEvent>) -> SubscriptionItem {
    crate::metrics::global()
        .deliveries
        .fetch_add(1, Ordering::Relaxed);
    SubscriptionItem::Event(event)
}

impl Subscription {
    /// The next item; `None` when the session's log is gone or after a resync.
    pub async fn next(&mut self) -> Option<SubscriptionItem> {
        loop {
            if let Some(ready) = self.ready() {
                return ready;
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
                        self.backlog.extend(
                            page.into_iter()
                                .filter(|e| e.seq <= self.latest_seq)
                                .map(SharedEvent::new),
                        );
                        continue;
                    }
                    Err(e) => return Some(self.end_with_resync(format!("replay failed: {e}"))),
                }
            }
            let received = self.rx.recv().await;
            if let Some(item) = self.take_live(received) {
                return item;
            }
        }
    }

    /// The next item if one is ready without waiting (none while a replay page must be read
    /// from the store): lets a transport write everything that is ready in one go.
    pub fn try_next(&mut self) -> Option<SubscriptionItem> {
        loop {
            if let Some(ready) = self.ready() {
                return ready;
            }
            if self.fetch_from.is_some() {
                return None;
            }
            let received = match self.rx.try_recv() {
                Ok(event) => Ok(event),
                Err(broadcast::error::TryRecvError::Empty) => return None,
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    Err(broadcast::error::RecvError::Lagged(n))
                }
                Err(broadcast::error::TryRecvError::Closed) => {
                    Err(broadcast::error::RecvError::Closed)
                }
            };
            if let Some(item) = self.take_live(received) {
                return item;
            }
        }
    }

    /// What can be answered without reading anything: the end, a pending resync, or the
    /// backlog's next event. `None` means: look further.
    fn ready(&mut self) -> Option<Option<SubscriptionItem>> {
        if self.done {
            return Some(None);
        }
        if let Some(reason) = self.resync.take() {
            return Some(Some(self.end_with_resync(reason)));
        }
        while let Some(event) = self.backlog.pop_front() {
            if event.envelope.seq > self.delivered {
                self.delivered = event.envelope.seq;
                return Some(Some(delivered(event)));
            }
        }
        None
    }

    /// Takes an event off the live channel: `None` for one already delivered (look further),
    /// else the item to return.
    fn take_live(
        &mut self,
        received: std::result::Result<Arc<SharedEvent>, broadcast::error::RecvError>,
    ) -> Option<Option<SubscriptionItem>> {
        match received {
            Ok(event) if event.envelope.seq <= self.delivered => None,
            Ok(event) if event.envelope.seq == self.delivered + 1 => {
                self.delivered = event.envelope.seq;
                Some(Some(delivered(event)))
            }
            Ok(event) => Some(Some(self.end_with_resync(format!(
                "gap: expected seq {}, got {}",
                self.delivered + 1,
                event.envelope.seq
            )))),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(Some(
                self.end_with_resync(format!("subscriber fell {n} events behind")),
            )),
            Err(broadcast::error::RecvError::Closed) => {
                self.done = true;
                Some(None)
            }
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

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "log_cluster_tests.rs"]
mod cluster_tests;
