import { useConnection } from '@agent-runtime/react';

import { useNow } from './Sidebar';

/** A dot and a word for the WebSocket, with the countdown and a retry while it is down. */
export function ConnectionIndicator() {
  const connection = useConnection();
  const now = useNow(1000);
  const { state, nextRetryAt, attempt } = connection;
  let label: string;
  switch (state) {
    case 'open':
      label = 'Connected';
      break;
    case 'connecting':
      label = attempt > 0 ? 'Cannot reach the server' : 'Connecting…';
      break;
    case 'reconnecting':
      label = 'Reconnecting';
      break;
    case 'closed':
      label = 'Offline';
      break;
  }
  const seconds = nextRetryAt ? Math.max(0, Math.ceil((nextRetryAt - now) / 1000)) : null;
  const waiting = state !== 'open' && seconds !== null && seconds > 0;
  return (
    <div className={`connection connection-${state}`} data-testid="connection" data-state={state} role="status">
      <span className="connection-dot" aria-hidden="true" />
      <span className="connection-label">
        {label}
        {waiting ? <span className="connection-retry"> · retry in {seconds}s</span> : null}
      </span>
      {state !== 'open' && state !== 'closed' ? (
        <button type="button" className="link-button" onClick={connection.reconnectNow}>
          Retry now
        </button>
      ) : null}
      {state === 'closed' ? (
        <button type="button" className="link-button" onClick={connection.connect}>
          Connect
        </button>
      ) : null}
    </div>
  );
}
