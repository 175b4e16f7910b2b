import { useAgentSelector, type ClientState, type UseAgentSessionResult } from '@agent-runtime/react';

export function StatusPill({ session }: { session: UseAgentSessionResult }) {
  const { status, isStopping, sandbox, isLive, isLoading, sessionId } = session;
  const budgetReached = useAgentSelector((s: ClientState) => Boolean(sessionId && s.sessions[sessionId]?.state?.budgetExceeded));
  let label: string;
  let tone: string;
  if (isLoading) {
    label = 'Loading';
    tone = 'muted';
  } else if (isStopping) {
    label = 'Stopping…';
    tone = 'warn';
  } else {
    switch (status) {
      case 'submitted':
        label = sandbox === 'none' || sandbox === 'stopped' ? 'Starting sandbox…' : 'Sending…';
        tone = 'busy';
        break;
      case 'running':
        label = sandbox === 'starting' ? 'Starting sandbox…' : 'Working…';
        tone = 'busy';
        break;
      case 'requires_action':
        label = budgetReached ? 'Budget reached' : 'Needs your answer';
        tone = 'warn';
        break;
      case 'error':
        label = 'Error';
        tone = 'error';
        break;
      default:
        label = 'Ready';
        tone = 'ok';
    }
  }
  return (
    <span className={`status-pill ${tone}`} data-testid="status" data-status={status} title={isLive ? 'Live' : 'Not live'}>
      <span className="status-dot" aria-hidden="true" />
      {label}
    </span>
  );
}
