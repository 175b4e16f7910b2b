import type { AgentInfo } from '@agent-runtime/react';
import type { KeyboardEvent } from 'react';

import { capabilityWords } from '../agents';

/** The agents a server runs, as a radio group: each with its name, pinned version, whether it is
 * installed yet and what it can do. Arrow keys move the choice, as in any radio group. */
export function AgentPicker(props: { agents: readonly AgentInfo[]; value: string | null; onChange: (id: string) => void }) {
  const { agents, value, onChange } = props;

  function onKeyDown(event: KeyboardEvent<HTMLDivElement>) {
    const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
    if (!step || agents.length === 0) return;
    event.preventDefault();
    const index = agents.findIndex((a) => a.id === value);
    const next = agents[(index + step + agents.length) % agents.length];
    if (!next) return;
    onChange(next.id);
    event.currentTarget.querySelector<HTMLElement>(`[data-agent="${CSS.escape(next.id)}"]`)?.focus();
  }

  return (
    <div className="agent-options" role="radiogroup" aria-label="Agent" data-testid="agent-options" onKeyDown={onKeyDown}>
      {agents.map((agent) => {
        const selected = agent.id === value;
        return (
          <button
            type="button"
            key={agent.id}
            role="radio"
            aria-checked={selected}
            tabIndex={selected || (value === null && agent === agents[0]) ? 0 : -1}
            className={`agent-option${selected ? ' selected' : ''}`}
            onClick={() => onChange(agent.id)}
            data-testid="agent-option"
            data-agent={agent.id}
            data-installed={agent.installed}
          >
            <span className="agent-option-head">
              <span className="agent-option-name">{agent.name}</span>
              {agent.version ? <span className="agent-option-version">{agent.version}</span> : null}
              {agent.protocol === 'acp' ? (
                <span className="agent-option-tag" title="Driven over the Agent Client Protocol">
                  ACP
                </span>
              ) : null}
            </span>
            <span className="agent-option-caps">{capabilityWords(agent.capabilities).join(' · ')}</span>
            {agent.installed ? null : (
              <span className="agent-option-install">Not installed yet: your first message installs it</span>
            )}
          </button>
        );
      })}
    </div>
  );
}
