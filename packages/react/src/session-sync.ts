// Keeping watched sessions in sync: the per-session bookkeeping, the snapshot and the
// subscription, and what arrives over the socket. Plain functions over a `SyncContext` that
// `AgentClient` builds once and owns.
//
// How a session stays in sync (and why nothing is lost or doubled):
// 1. The first time a session is watched, its snapshot is fetched over REST: state at seq N.
// 2. Then `subscribe {since: N}` on the WebSocket: the server replays N+1.. and goes live.
// 3. Every event is folded only if its seq is exactly the state's seq + 1. A lower seq is a
//    duplicate (dropped); a higher one is a gap: the client resubscribes from its seq.
// 4. After a reconnect every watched session resubscribes from its own seq, so a drop in the
//    middle of a stream costs nothing but the wait.
// 5. `resync_required` (the client fell too far behind): fetch the snapshot again, then
//    subscribe from its seq. The new state reuses every unchanged block object.

import { reconcileLocalAnswers } from './approvals.js';
import type { Connection } from './connection.js';
import { AgentRuntimeError } from './errors.js';
import { fold } from './fold.js';
import type { Envelope, ServerFrame, SessionSnapshot, SessionState } from './generated/protocol.js';
import { reconcileState } from './reconcile.js';
import type { RestClient } from './rest.js';
import { applyInfo, sessionView, updateView } from './session-views.js';
import type { ClientState, SessionView } from './state.js';
import type { Store } from './store.js';

/** Counters for tests and diagnostics. */
export interface SyncStats {
  /** Events dropped because their seq was already folded. */
  duplicates: number;
  /** Times a gap in seq made the client resubscribe. */
  gaps: number;
  /** Snapshots fetched after `resync_required`. */
  resyncs: number;
  /** Subscribe commands sent. */
  subscribes: number;
}

export interface SessionSync {
  watchers: number;
  unwatchTimer: ReturnType<typeof setTimeout> | null;
  /** The socket subscription exists (a subscribe was sent on the current connection). */
  subscribed: boolean;
  /** A subscribe is in flight: gaps wait for its replay instead of resubscribing again. */
  subscribing: boolean;
  /** A snapshot is being fetched. */
  loading: Promise<void> | null;
  retryTimer: ReturnType<typeof setTimeout> | null;
  retries: number;
}

export type EventListener = (envelope: Envelope) => void;

/** What the sync functions need of the client: its parts, and the sync state it owns. */
export interface SyncContext {
  readonly store: Store<ClientState>;
  readonly rest: RestClient;
  readonly connection: Connection;
  /** Hands an error to the client's `onError` and returns it as an `AgentRuntimeError`. */
  report(error: unknown, context: { sessionId?: string; operation: string }): AgentRuntimeError;
  /** The watched sessions, by id. */
  readonly syncs: Map<string, SessionSync>;
  readonly stats: SyncStats;
  readonly eventListeners: ReadonlySet<EventListener>;
  /** The client's options, read where they are used. */
  readonly options: { readonly eventBufferSize?: number; readonly unwatchDelayMs?: number };
}

/** The session's sync state, created (unwatched, unsubscribed) the first time it is asked for. */
export function syncOf(client: SyncContext, sessionId: string): SessionSync {
  let sync = client.syncs.get(sessionId);
  if (!sync) {
    sync = {
      watchers: 0,
      unwatchTimer: null,
      subscribed: false,
      subscribing: false,
      loading: null,
      retryTimer: null,
      retries: 0,
    };
    client.syncs.set(sessionId, sync);
  }
  return sync;
}

export function releaseWatch(client: SyncContext, sessionId: string): void {
  const sync = client.syncs.get(sessionId);
  if (!sync) return;
  sync.watchers = Math.max(0, sync.watchers - 1);
  if (sync.watchers > 0) return;
  // Linger a little: a component that remounts (StrictMode, route change) keeps the stream.
  sync.unwatchTimer = setTimeout(() => {
    sync.unwatchTimer = null;
    if (sync.watchers === 0) dropSync(client, sessionId, sync);
  }, client.options.unwatchDelayMs ?? 2000);
}

export function dropSync(client: SyncContext, sessionId: string, sync: SessionSync): void {
  if (sync.unwatchTimer !== null) clearTimeout(sync.unwatchTimer);
  if (sync.retryTimer !== null) clearTimeout(sync.retryTimer);
  if (sync.subscribed) client.connection.send({ type: 'unsubscribe', sessionId });
  client.syncs.delete(sessionId);
  updateView(client.store, sessionId, (view) => (view.live ? { ...view, live: false } : view));
}

/** Fetches the snapshot and folds it in (if newer), then subscribes from its seq. */
export function loadSnapshot(client: SyncContext, sessionId: string): Promise<void> {
  const sync = client.syncs.get(sessionId);
  if (sync?.loading) return sync.loading;
  updateView(client.store, sessionId, (view) => (view.state ? view : { ...view, loading: true }));
  const loading = client.rest
    .getSession(sessionId)
    .then((snapshot) => {
      applySnapshot(client, sessionId, snapshot);
      if (sync) sync.retries = 0;
    })
    .catch((error: unknown) => {
      const err = client.report(error, { sessionId, operation: 'loadSession' });
      updateView(client.store, sessionId, (view) => ({ ...view, loading: false, error: err }));
      if (sync && client.syncs.get(sessionId) === sync && err.code !== 'session_not_found') {
        retryLater(client, sessionId, sync, () => void loadSnapshot(client, sessionId));
      }
    })
    .finally(() => {
      if (sync) sync.loading = null;
    });
  if (sync) sync.loading = loading;
  return loading.then(() => {
    if (sync && client.syncs.get(sessionId) === sync && sessionView(client.store, sessionId)?.state) subscribe(client, sessionId);
  });
}

function applySnapshot(client: SyncContext, sessionId: string, snapshot: SessionSnapshot): void {
  const { session: info, ...state } = snapshot;
  updateView(client.store, sessionId, (view) => {
    const current = view.state;
    // A snapshot older than what the socket already delivered must not move us back.
    const next: SessionState = current && current.seq > state.seq ? current : reconcileState(current, state);
    const echoed = echoedIds(next);
    return {
      ...reconcileLocalAnswers(view, next),
      info,
      state: next,
      loading: false,
      error: view.error?.code === 'session_not_found' ? null : view.error,
      pending: view.pending.filter((m) => !echoed.has(m.clientMessageId)),
    };
  });
  applyInfo(client.store, info);
}

/** Subscribes from the state's seq, if the socket is open and no subscribe is in flight. */
export function subscribe(client: SyncContext, sessionId: string): void {
  const sync = client.syncs.get(sessionId);
  const since = sessionView(client.store, sessionId)?.state?.seq;
  if (!sync || since === undefined || sync.subscribing || !client.connection.isOpen) return;
  sync.subscribing = true;
  sync.subscribed = true;
  client.stats.subscribes++;
  client.connection
    .command({ type: 'subscribe', sessionId, since })
    .then((result) => {
      if (client.syncs.get(sessionId) !== sync) return;
      sync.subscribing = false;
      if (result.ok) {
        sync.retries = 0;
        updateView(client.store, sessionId, (view) => (view.live ? view : { ...view, live: true }));
        return;
      }
      sync.subscribed = false;
      const err = result.error
        ? AgentRuntimeError.fromProblem(result.error)
        : new AgentRuntimeError('protocol', 'subscribe failed', { code: 'protocol_error' });
      client.report(err, { sessionId, operation: 'subscribe' });
      updateView(client.store, sessionId, (view) => ({ ...view, live: false, error: err }));
      if (err.code !== 'session_not_found') retryLater(client, sessionId, sync, () => subscribe(client, sessionId));
    })
    .catch(() => {
      // The connection closed under the command; `handleOpen` subscribes again.
      if (client.syncs.get(sessionId) === sync) {
        sync.subscribing = false;
        sync.subscribed = false;
      }
    });
}

function retryLater(client: SyncContext, sessionId: string, sync: SessionSync, action: () => void): void {
  if (sync.retryTimer !== null) return;
  sync.retries++;
  const delay = Math.min(30_000, 1000 * 2 ** Math.min(sync.retries - 1, 5));
  sync.retryTimer = setTimeout(() => {
    sync.retryTimer = null;
    if (client.syncs.get(sessionId) === sync) action();
  }, delay);
}

export function handleOpen(client: SyncContext): void {
  for (const [sessionId, sync] of client.syncs) {
    sync.subscribed = false;
    sync.subscribing = false;
    if (sessionView(client.store, sessionId)?.state) subscribe(client, sessionId);
    else if (!sync.loading) void loadSnapshot(client, sessionId);
  }
}

export function handleClose(client: SyncContext): void {
  for (const sync of client.syncs.values()) {
    sync.subscribed = false;
    sync.subscribing = false;
  }
  client.store.update((s) => {
    let changed = false;
    const sessions: Record<string, SessionView> = {};
    for (const [id, view] of Object.entries(s.sessions)) {
      sessions[id] = view.live ? ((changed = true), { ...view, live: false }) : view;
    }
    return changed ? { ...s, sessions } : s;
  });
}

export function handleFrame(client: SyncContext, frame: ServerFrame): void {
  switch (frame.type) {
    case 'event':
      handleEnvelope(client, frame.envelope);
      break;
    case 'resync_required':
      handleResync(client, frame.sessionId);
      break;
    case 'result':
      // A result nobody waits for (its command timed out): nothing to do.
      break;
  }
}

function handleEnvelope(client: SyncContext, envelope: Envelope): void {
  const { sessionId, seq } = envelope;
  const sync = client.syncs.get(sessionId);
  const view = sessionView(client.store, sessionId);
  if (!sync || !view?.state) return;
  const current = view.state.seq;
  if (seq <= current) {
    client.stats.duplicates++;
    return;
  }
  if (seq > current + 1) {
    // Something between was missed: ask again from what we have. Until that subscription's
    // replay arrives, later events are dropped (they will be replayed).
    client.stats.gaps++;
    if (!sync.subscribing) {
      sync.subscribed = false;
      subscribe(client, sessionId);
    }
    return;
  }
  updateView(client.store, sessionId, (v) => applyEnvelope(v, envelope, client.options.eventBufferSize ?? 500));
  const after = sessionView(client.store, sessionId);
  if (envelope.event.type === 'turn_completed' && envelope.event.reason === 'error' && after?.error) {
    client.report(after.error, { sessionId, operation: 'turn' });
  }
  for (const listener of Array.from(client.eventListeners)) {
    try {
      listener(envelope);
    } catch {
      // A listener's failure is its own.
    }
  }
}

function handleResync(client: SyncContext, sessionId: string): void {
  const sync = client.syncs.get(sessionId);
  if (!sync) return;
  client.stats.resyncs++;
  sync.subscribed = false;
  sync.subscribing = false;
  updateView(client.store, sessionId, (view) => ({ ...view, live: false }));
  void loadSnapshot(client, sessionId);
}

/** Folds one envelope into a session view and updates what follows from it. */
export function applyEnvelope(view: SessionView, envelope: Envelope, eventBufferSize: number): SessionView {
  const state = fold(view.state as SessionState, envelope);
  const event = envelope.event;
  let { pending, lastTurn, error, stopping } = view;
  if ((event.type === 'block_start' || event.type === 'block_complete') && event.block.type === 'user_message') {
    const id = event.block.clientMessageId;
    if (id && pending.some((m) => m.clientMessageId === id)) pending = pending.filter((m) => m.clientMessageId !== id);
  } else if (event.type === 'turn_started') {
    if (error?.kind === 'turn') error = null;
  } else if (event.type === 'turn_completed') {
    lastTurn = {
      turnId: event.turnId,
      reason: event.reason,
      usage: event.usage,
      costUsd: event.costUsd,
      durationMs: event.durationMs,
      ...(event.error ? { error: event.error } : {}),
    };
    if (event.reason === 'error') error = AgentRuntimeError.fromTurn(event.turnId, event.error);
    if (!state.runtime.activeTurnId) stopping = false;
  }
  const events =
    eventBufferSize <= 0
      ? view.events
      : view.events.length >= eventBufferSize
        ? [...view.events.slice(view.events.length - eventBufferSize + 1), envelope]
        : [...view.events, envelope];
  return { ...reconcileLocalAnswers(view, state), state, pending, lastTurn, error, stopping, events };
}

function echoedIds(state: SessionState): Set<string> {
  const ids = new Set<string>();
  for (const block of state.blocks) {
    if (block.type === 'user_message' && block.clientMessageId) ids.add(block.clientMessageId);
  }
  return ids;
}
