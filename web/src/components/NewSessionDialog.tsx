import { useAgentClient, useAgents, type AgentRuntimeError, type PermissionMode } from '@agent-runtime/react';
import { useState, type FormEvent } from 'react';

import { AGENTS, PERMISSION_MODES } from '../format';
import { Dialog } from './Dialog';

export function NewSessionDialog(props: { onClose: () => void; onCreated: (sessionId: string) => void }) {
  const client = useAgentClient();
  const [name, setName] = useState('');
  const [agent, setAgent] = useState(AGENTS[0]?.id ?? 'claude-code');
  const [profile, setProfile] = useState('');
  // null: the profile's mode (never ask, unless the profile says otherwise).
  const [mode, setMode] = useState<PermissionMode | null>(null);
  const { getAgent } = useAgents();
  const modes = getAgent(agent)?.capabilities.permissionModes ?? [];
  const chosenMode = mode && modes.includes(mode) ? mode : null;
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
        ...(chosenMode ? { permissionMode: chosenMode } : {}),
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
        {modes.length > 0 ? (
          <div className="field">
            <span className="field-label">Permissions</span>
            <div className="mode-options" role="radiogroup" aria-label="Permission mode" data-testid="permission-modes">
              <ModeOption selected={chosenMode === null} onSelect={() => setMode(null)} label="Profile's" hint="As the profile says (never ask if it says nothing)" value="profile" />
              {PERMISSION_MODES.filter((m) => modes.includes(m.id)).map((m) => (
                <ModeOption key={m.id} selected={chosenMode === m.id} onSelect={() => setMode(m.id)} label={m.label} hint={m.hint} value={m.id} />
              ))}
            </div>
          </div>
        ) : null}
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

function ModeOption(props: { selected: boolean; onSelect: () => void; label: string; hint: string; value: string }) {
  return (
    <button
      type="button"
      role="radio"
      aria-checked={props.selected}
      className={`mode-option${props.selected ? ' selected' : ''}`}
      onClick={props.onSelect}
      data-testid="permission-mode"
      data-mode={props.value}
    >
      <span className="mode-option-label">{props.label}</span>
      <span className="mode-option-hint">{props.hint}</span>
    </button>
  );
}
