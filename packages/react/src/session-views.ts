// Reading and changing one session's view in the client's store, and merging a session's
// `SessionInfo` into both its view and the session list. Plain functions over the store; the
// client and its sync and answer parts all write through them.

import type { SessionInfo } from './generated/protocol.js';
import { emptySessionView, type ClientState, type OptimisticMessage, type SessionView } from './state.js';
import type { Store } from './store.js';

export function sessionView(store: Store<ClientState>, sessionId: string): SessionView | undefined {
  return store.getState().sessions[sessionId];
}

export function ensureView(store: Store<ClientState>, sessionId: string): void {
  if (sessionView(store, sessionId)) return;
  const listed = store.getState().sessionList.sessions.find((x) => x.sessionId === sessionId) ?? null;
  store.update((s) => ({
    ...s,
    sessions: { ...s.sessions, [sessionId]: { ...emptySessionView(sessionId), info: listed } },
  }));
}

export function updateView(store: Store<ClientState>, sessionId: string, change: (view: SessionView) => SessionView): void {
  store.update((s) => {
    const view = s.sessions[sessionId] ?? emptySessionView(sessionId);
    const next = change(view);
    if (next === view && s.sessions[sessionId]) return s;
    return { ...s, sessions: { ...s.sessions, [sessionId]: next } };
  });
}

export function updatePending(
  store: Store<ClientState>,
  sessionId: string,
  clientMessageId: string,
  change: (m: OptimisticMessage) => OptimisticMessage,
): void {
  updateView(store, sessionId, (view) => {
    if (!view.pending.some((m) => m.clientMessageId === clientMessageId)) return view;
    return {
      ...view,
      pending: view.pending.map((m) => (m.clientMessageId === clientMessageId ? change(m) : m)),
    };
  });
}

export function applyInfo(store: Store<ClientState>, info: SessionInfo): void {
  store.update((s) => {
    const view = s.sessions[info.sessionId];
    const listIndex = s.sessionList.sessions.findIndex((x) => x.sessionId === info.sessionId);
    const sameInView = !view || sameInfo(view.info, info);
    const sameInList = listIndex < 0 || sameInfo(s.sessionList.sessions[listIndex] ?? null, info);
    if (sameInView && sameInList) return s;
    const sessions = sameInView || !view ? s.sessions : { ...s.sessions, [info.sessionId]: { ...view, info } };
    let sessionList = s.sessionList;
    if (!sameInList) {
      const list = s.sessionList.sessions.slice();
      list[listIndex] = info;
      sessionList = { ...s.sessionList, sessions: list };
    }
    return { ...s, sessions, sessionList };
  });
}

function sameInfo(a: SessionInfo | null, b: SessionInfo): boolean {
  return (
    a !== null &&
    a.sessionId === b.sessionId &&
    a.name === b.name &&
    a.agent === b.agent &&
    a.profile === b.profile &&
    a.createdAt === b.createdAt &&
    a.updatedAt === b.updatedAt &&
    a.status === b.status
  );
}
