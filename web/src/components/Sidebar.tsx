import { useSessionList } from '@agent-runtime/react';
import { useEffect, useState } from 'react';

import { agentLabel, relativeTime, sessionTitle } from '../format';
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
          <button
            type="button"
            key={session.sessionId}
            className={`session-item${session.sessionId === props.activeSessionId ? ' active' : ''}`}
            onClick={() => props.onOpen(session.sessionId)}
            aria-current={session.sessionId === props.activeSessionId ? 'page' : undefined}
            data-testid="session-item"
          >
            <span className="session-item-title">{sessionTitle(session.name)}</span>
            <span className="session-item-meta">
              {agentLabel(session.agent)}
              {session.profile ? ` · ${session.profile}` : ''} · {relativeTime(session.updatedAt, now)}
            </span>
          </button>
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

/** The current time, refreshed every `intervalMs` (for relative times). */
export function useNow(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}
