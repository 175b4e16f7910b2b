import { useAgentSelector, type AgentCapabilities, type AgentInfo, type ClientState } from '@agent-runtime/react';
import { useCallback } from 'react';

/** An agent's name as the server gives it (`GET /api/agents`), else its id. */
export function agentLabel(id: string, agents: readonly AgentInfo[] | null | undefined): string {
  return agents?.find((a) => a.id === id)?.name ?? id;
}

/** `agentLabel` over the agents the client has loaded. It does not load them: `useAgents()`
 * (called once by the app shell) does, so a list of sessions does not fetch once per row. */
export function useAgentLabel(): (id: string) => string {
  const agents = useAgentSelector((s: ClientState) => s.agents);
  return useCallback((id: string) => agentLabel(id, agents), [agents]);
}

/** What an agent can do, in a few words for a compact line ("resumes · asks for approval").
 * Whether it resumes is always said; the rest only when it can. */
export function capabilityWords(capabilities: AgentCapabilities): string[] {
  const words = [capabilities.resume ? 'resumes' : 'does not resume'];
  if (capabilities.approvals) words.push('asks for approval');
  if (capabilities.questions) words.push('asks questions');
  if (capabilities.thinking) words.push('thinking');
  if (capabilities.plan) words.push('plan');
  if (capabilities.images) words.push('images');
  return words;
}
