import { useAgentClient, useAgents, type AgentRuntimeError, type PermissionMode } from '@agent-runtime/react';
import { useState, type FormEvent } from 'react';

import { PERMISSION_MODES } from '../format';
import { AgentPicker } from './AgentPicker';
import { Dialog } from './Dialog';

export function NewSessionDialog(props: { onClose: () => void; onCreated: (sessionId: string) => void }) {
  const client = useAgentClient();
  const [name, setName] = useState('');
  // null: the first agent the server lists.
  const [picked, setPicked] = useState<string | null>(null);
  const [profile, setProfile] = useState('');
  // null: the profile's mode (never ask, unless the profile says otherwise).
  const [mode, setMode] = useState<PermissionMode | null>(null);
  const agents = useAgents();
  const agent = picked ?? agents.agents[0]?.id ?? null;
  const modes = (agent ? agents.getAgent(agent)?.capabilities.permissionModes : undefined) ?? [];
  const chosenMode = mode && modes.includes(mode) ? mode : null;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AgentRuntimeError | null>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!agent) return;
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
          {agents.agents.length > 0 ? (
            <AgentPicker agents={agents.agents} value={agent} onChange={setPicked} />
          ) : agents.error ? (
            <div className="form-error agents-error" role="alert" data-testid="agents-error">
              <span>Could not load the agents: {agents.error.message}</span>
              <button type="button" className="button small" onClick={() => void agents.refresh()}>
                Retry
              </button>
            </div>
          ) : agents.isLoading ? (
            <div className="agents-note" role="status" data-testid="agents-loading">
              Loading agents…
            </div>
          ) : (
            <div className="agents-note">This server runs no agents.</div>
          )}
          {agents.sandboxProviders[0] ? (
            <div className="agents-note" data-testid="sandbox-placement">
              Runs in a sandbox on {agents.sandboxProviders[0].description}
              {agents.sandboxProviders.length > 1 ? ' unless its profile names another place' : ''}.
            </div>
          ) : null}
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
          <button type="submit" className="button primary" disabled={busy || !agent} data-testid="create-session">
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
