import { useAgentClient, type AgentRuntimeError } from '@agent-runtime/react';
import { useState, type FormEvent } from 'react';

import { AGENTS } from '../format';
import { Dialog } from './Dialog';

export function NewSessionDialog(props: { onClose: () => void; onCreated: (sessionId: string) => void }) {
  const client = useAgentClient();
  const [name, setName] = useState('');
  const [agent, setAgent] = useState(AGENTS[0]?.id ?? 'claude-code');
  const [profile, setProfile] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AgentRuntimeError | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const info = await client.createSession({
        agent,
        ...(name.trim() ? { name: name.trim() } : {}),
        ...(profile.trim() ? { profile: profile.trim() } : {}),
      });
      props.onCreated(info.sessionId);
    } catch (e) {
      setError(e as AgentRuntimeError);
      setBusy(false);
    }
  }

  return (
    <Dialog title="New session" onClose={props.onClose} testId="new-session-dialog">
      <form className="form" onSubmit={submit}>
        <label className="field">
          <span className="field-label">Name</span>
          <input
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="Named after your first message if left empty"
            maxLength={200}
            data-testid="session-name"
          />
        </label>
        <div className="field">
          <span className="field-label">Agent</span>
          <div className="segmented" role="radiogroup" aria-label="Agent">
            {AGENTS.map((option) => (
              <button
                type="button"
                key={option.id}
                role="radio"
                aria-checked={agent === option.id}
                className={agent === option.id ? 'selected' : ''}
                onClick={() => setAgent(option.id)}
              >
                {option.label}
              </button>
            ))}
          </div>
        </div>
        <label className="field">
          <span className="field-label">
            Profile <span className="field-optional">optional</span>
          </span>
          <input
            value={profile}
            onChange={(e) => setProfile(e.target.value)}
            placeholder="Agent profile id (system prompt, skills, tools)"
            data-testid="session-profile"
          />
        </label>
        {error ? (
          <div className="form-error" role="alert">
            {error.code === 'profile_not_found'
              ? `There is no profile named "${profile.trim()}".`
              : error.message}
          </div>
        ) : null}
        <footer className="dialog-actions">
          <button type="button" className="button ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={busy} data-testid="create-session">
            {busy ? 'Creating…' : 'Create session'}
          </button>
        </footer>
      </form>
    </Dialog>
  );
}
