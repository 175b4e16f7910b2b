import { useAgentClient } from '@agent-runtime/react';
import { useState, type FormEvent } from 'react';

import { getApiKey, setApiKey } from '../auth';
import { Dialog } from './Dialog';
import { KeyIcon } from './icons';

/** Asks for the server's API key when it refuses us. */
export function ApiKeyDialog() {
  const client = useAgentClient();
  const [value, setValue] = useState('');
  const hadKey = Boolean(getApiKey());

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!value.trim()) return;
    setApiKey(value.trim());
    client.reconnectNow();
    void client.refreshSessions();
    void client.loadHealth();
  }

  return (
    <Dialog title="API key needed">
      <form className="form" onSubmit={submit}>
        <p className="dialog-text">
          <KeyIcon size={16} /> This server requires an API key (<code>--api-key</code>).{' '}
          {hadKey ? 'The saved key was refused. ' : ''}It is kept in this browser only.
        </p>
        <label className="field">
          <span className="field-label">API key</span>
          <input type="password" value={value} onChange={(e) => setValue(e.target.value)} autoComplete="off" />
        </label>
        <footer className="dialog-actions">
          <button type="submit" className="button primary">
            Save and connect
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
