// Where requests show in the transcript: each at the tool call it is about (the main thread's
// `tool_use` block whose id is the request's `toolUseId`), and the others (no tool call named,
// or one not in the main thread) after the last block.

import {
  useAgentSelector,
  usePermissions,
  useQuestions,
  type ClientState,
} from '@agent-runtime/react';

import { PermissionCard } from './PermissionCard';
import { QuestionForm } from './QuestionForm';

/** The requests about the tool call `toolUseId`. */
export function RequestsAt({ sessionId, toolUseId }: { sessionId: string; toolUseId: string }) {
  const { permissions } = usePermissions(sessionId);
  const { questions } = useQuestions(sessionId);
  const here = permissions.filter((p) => p.toolUseId === toolUseId);
  const asked = questions.filter((q) => q.toolUseId === toolUseId);
  if (here.length === 0 && asked.length === 0) return null;
  return (
    <>
      {here.map((item) => (
        <PermissionCard key={item.requestId} sessionId={sessionId} item={item} />
      ))}
      {asked.map((item) => (
        <QuestionForm key={item.requestId} sessionId={sessionId} item={item} />
      ))}
    </>
  );
}

/** The requests no main-thread tool call shows, in the order asked. */
export function UnanchoredRequests({ sessionId }: { sessionId: string }) {
  const { permissions } = usePermissions(sessionId);
  const { questions } = useQuestions(sessionId);
  const toolUseIds = useAgentSelector((s: ClientState) => mainToolUseIds(s, sessionId), sameKey);
  const loose = (item: { toolUseId?: string }) => !item.toolUseId || !toolUseIds.split('\n').includes(item.toolUseId);
  const permissionItems = permissions.filter(loose);
  const questionItems = questions.filter(loose);
  return (
    <>
      {permissionItems.map((item) => (
        <PermissionCard key={item.requestId} sessionId={sessionId} item={item} />
      ))}
      {questionItems.map((item) => (
        <QuestionForm key={item.requestId} sessionId={sessionId} item={item} />
      ))}
    </>
  );
}

/** The ids of the main thread's tool calls, as one string (cheap to compare on every update). */
function mainToolUseIds(state: ClientState, sessionId: string): string {
  const blocks = state.sessions[sessionId]?.state?.blocks ?? [];
  return blocks
    .filter((b) => b.type === 'tool_use')
    .map((b) => b.id)
    .join('\n');
}

function sameKey(a: string, b: string): boolean {
  return a === b;
}
