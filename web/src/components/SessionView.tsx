import { useAgentSession, type UseAgentSessionResult } from '@agent-runtime/react';
import { useEffect, useState } from 'react';

import { useAgentLabel } from '../agents';
import { formatCost, formatTokens, sessionTitle } from '../format';
import { navigate } from '../router';
import { Composer } from './Composer';
import { BudgetBanner } from './approvals/BudgetBanner';
import { AlertIcon, PanelIcon, TrashIcon } from './icons';
import { NetworkNotice } from './NetworkNotice';
import { SidePanel } from './SidePanel';
import { StatusPill } from './StatusPill';
import { Transcript } from './Transcript';

export function SessionView({ sessionId }: { sessionId: string }) {
  const session = useAgentSession(sessionId);
  const [panelOpen, setPanelOpen] = useState(() => typeof window === 'undefined' || window.innerWidth > 1100);

  if (session.error?.code === 'session_not_found') {
    return (
      <div className="empty-state">
        <AlertIcon size={28} />
        <h2>Session not found</h2>
        <p>It may have been deleted.</p>
        <button type="button" className="button" onClick={() => navigate({ name: 'home' })}>
          Back
        </button>
      </div>
    );
  }

  return (
    <div className={`session${panelOpen ? ' with-panel' : ''}`} data-testid="session" data-status={session.status}>
      <div className="session-main">
        <SessionHeader session={session} panelOpen={panelOpen} onTogglePanel={() => setPanelOpen((open) => !open)} />
        <NetworkNotice sessionId={sessionId} />
        <BudgetBanner sessionId={sessionId} />
        <Transcript sessionId={sessionId} session={session} />
        <Composer session={session} />
      </div>
      {panelOpen ? <SidePanel sessionId={sessionId} session={session} /> : null}
    </div>
  );
}

function SessionHeader(props: { session: UseAgentSessionResult; panelOpen: boolean; onTogglePanel: () => void }) {
  const { session } = props;
  const info = session.session;
  const agentLabel = useAgentLabel();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(info?.name ?? '');
  useEffect(() => setName(info?.name ?? ''), [info?.name]);

  async function saveName() {
    setEditing(false);
    const trimmed = name.trim();
    if (trimmed && trimmed !== info?.name) await session.rename(trimmed).catch(() => setName(info?.name ?? ''));
  }

  async function remove() {
    if (!window.confirm('Delete this session, its files and its history?')) return;
    await session.destroySession().catch(() => {});
    navigate({ name: 'home' });
  }

  return (
    <header className="session-header">
      <div className="session-title">
        {editing ? (
          <input
            className="title-input"
            value={name}
            autoFocus
            onChange={(e) => setName(e.target.value)}
            onBlur={() => void saveName()}
            onKeyDown={(e) => {
              if (e.key === 'Enter') void saveName();
              if (e.key === 'Escape') {
                setName(info?.name ?? '');
                setEditing(false);
              }
            }}
            aria-label="Session name"
          />
        ) : (
          <h1 title="Rename" onClick={() => setEditing(true)} data-testid="session-title">
            {sessionTitle(info?.name)}
          </h1>
        )}
        <div className="session-subtitle">
          {info ? <span className="tag">{agentLabel(info.agent)}</span> : null}
          {info?.profile ? <span className="tag">profile: {info.profile}</span> : null}
          {session.model ? <span className="tag mono">{session.model}</span> : null}
          {session.demo ? <span className="tag demo">demo model</span> : null}
          <StatusPill session={session} />
        </div>
      </div>
      <div className="session-actions">
        <Usage session={session} />
        <button type="button" className="icon-button" onClick={() => void remove()} title="Delete session" aria-label="Delete session">
          <TrashIcon size={17} />
        </button>
        <button
          type="button"
          className={`icon-button${props.panelOpen ? ' active' : ''}`}
          onClick={props.onTogglePanel}
          title="Workspace panel"
          aria-label="Toggle workspace panel"
        >
          <PanelIcon size={17} />
        </button>
      </div>
    </header>
  );
}

function Usage({ session }: { session: UseAgentSessionResult }) {
  const usage = session.usage;
  if (!usage) return null;
  const input = usage.inputTokens + usage.cacheReadInputTokens + usage.cacheCreationInputTokens;
  return (
    <div
      className="usage"
      data-testid="usage"
      title={`Input ${usage.inputTokens} · cache read ${usage.cacheReadInputTokens} · cache write ${usage.cacheCreationInputTokens} · output ${usage.outputTokens}`}
    >
      <span>
        <strong>{formatTokens(input)}</strong> in
      </span>
      <span>
        <strong>{formatTokens(usage.outputTokens)}</strong> out
      </span>
      <span className="usage-cost">{formatCost(session.costUsd)}</span>
    </div>
  );
}
