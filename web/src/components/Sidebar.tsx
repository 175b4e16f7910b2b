import { useAgentSelector, useSessionList, type ClientState, type SessionInfo } from '@agent-runtime/react';
import { useEffect, useState } from 'react';

import { useAgentLabel } from '../agents';
import { relativeTime, sessionTitle } from '../format';
import { ConnectionIndicator } from './ConnectionIndicator';
import { PlusIcon } from './icons';

export function Sidebar(props: {
  activeSessionId: string | null;
  onNewSession: () => void;
  onOpen: (sessionId: string) => void;
}) {
  const { sessions, isLoading, error, hasMore, loadMore } = useSessionList();
  const now = useNow(30_000);
  return (
    <aside className="sidebar">
      <div className="brand">
        <span className="brand-mark" aria-hidden="true">
          A
        </span>
        <span className="brand-name">agent-runtime</span>
      </div>
      <button type="button" className="button primary new-session" onClick={props.onNewSession} data-testid="new-session">
        <PlusIcon size={16} /> New session
      </button>
      <nav className="session-list" aria-label="Sessions" data-testid="session-list">
        <div className="session-list-title">Sessions</div>
        {isLoading ? <div className="session-list-empty">Loading…</div> : null}
        {error && error.code !== 'unauthorized' ? (
          <div className="session-list-empty error">Could not load sessions: {error.message}</div>
        ) : null}
        {!isLoading && !error && sessions.length === 0 ? (
          <div className="session-list-empty">No sessions yet. Start one to talk to an agent.</div>
        ) : null}
        {sessions.map((session) => (
          <SessionItem
            key={session.sessionId}
            session={session}
            active={session.sessionId === props.activeSessionId}
            now={now}
            onOpen={props.onOpen}
          />
        ))}
        {hasMore ? (
          <button type="button" className="button ghost small load-more" onClick={() => void loadMore()}>
            Show older sessions
          </button>
        ) : null}
      </nav>
      <ConnectionIndicator />
    </aside>
  );
}

function SessionItem(props: { session: SessionInfo; active: boolean; now: number; onOpen: (sessionId: string) => void }) {
  const { session } = props;
  // The live state when this client follows the session, else what the list said.
  const status = useAgentSelector((s: ClientState) => s.sessions[session.sessionId]?.state?.status ?? session.status);
  const agentLabel = useAgentLabel();
  return (
    <button
      type="button"
      className={`session-item${props.active ? ' active' : ''}`}
      onClick={() => props.onOpen(session.sessionId)}
      aria-current={props.active ? 'page' : undefined}
      data-testid="session-item"
      data-status={status}
    >
      <span className="session-item-head">
        <span className="session-item-title">{sessionTitle(session.name)}</span>
        {status === 'requires_action' ? (
          <span className="session-item-badge" title="Waiting for your answer">
            needs you
          </span>
        ) : null}
      </span>
      <span className="session-item-meta">
        {agentLabel(session.agent)}
        {session.profile ? ` · ${session.profile}` : ''} · {relativeTime(session.updatedAt, props.now)}
      </span>
    </button>
  );
}

/** The current time, refreshed every `intervalMs` (for relative times). */
export function useNow(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
