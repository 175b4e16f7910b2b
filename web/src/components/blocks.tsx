// One component per block type. Each subscribes to its own block only (useBlock), so a streamed
// token re-renders the block it belongs to and nothing else.

import {
  MAIN_CONVERSATION,
  threadBlocks,
  useAgentClient,
  useAgentSelector,
  useBlock,
  useBlockIds,
  useOptimisticMessage,
  useToolResult,
  type Block,
  type ClientState,
  type JsonValue,
} from '@agent-runtime/react';
import { memo, useState } from 'react';

import { RequestsAt } from './approvals/Requests';
import { Markdown } from './Markdown';
import {
  AgentsIcon,
  AlertIcon,
  BrainIcon,
  CheckIcon,
  ChevronDownIcon,
  ChevronRightIcon,
  CircleCheckIcon,
  CircleDotIcon,
  CircleIcon,
  EyeIcon,
  GlobeIcon,
  InfoIcon,
  ListChecksIcon,
  PencilIcon,
  SearchIcon,
  StopIcon,
  TerminalIcon,
  WrenchIcon,
  XIcon,
} from './icons';

type BlockProps = { sessionId: string; blockId: string; conversationId: string };

export const BlockView = memo(function BlockView({ sessionId, blockId, conversationId }: BlockProps) {
  const block = useBlock(sessionId, blockId, conversationId);
  if (!block) return null;
  switch (block.type) {
    case 'user_message':
      if (conversationId !== MAIN_CONVERSATION) {
        // A subagent's thread opens with the task its parent gave it.
        return (
          <div className="row subagent-prompt" data-testid="subagent-prompt">
            <span className="subagent-prompt-label">Task</span>
            {block.text}
          </div>
        );
      }
      return <UserMessage sessionId={sessionId} block={block} />;
    case 'assistant_text':
      return <AssistantText sessionId={sessionId} block={block} conversationId={conversationId} />;
    case 'thinking':
      return <Thinking sessionId={sessionId} block={block} conversationId={conversationId} />;
    case 'tool_use':
      return <ToolCard sessionId={sessionId} block={block} conversationId={conversationId} />;
    case 'tool_result':
      return <OrphanToolResult sessionId={sessionId} block={block} conversationId={conversationId} />;
    case 'system':
      return <SystemNotice block={block} />;
    case 'subagent':
      return <SubagentCard sessionId={sessionId} block={block} />;
    case 'plan':
      return <PlanCard block={block} />;
  }
});

/** This block is the last of its thread while a turn runs: it is still being written. */
function useIsOpen(sessionId: string, conversationId: string, blockId: string): boolean {
  return useAgentSelector((s: ClientState) => {
    const view = s.sessions[sessionId];
    if (!view?.state?.runtime.activeTurnId) return false;
    return threadBlocks(view, conversationId).at(-1)?.id === blockId;
  });
}

function UserMessage({ sessionId, block }: { sessionId: string; block: Extract<Block, { type: 'user_message' }> }) {
  const client = useAgentClient();
  const optimistic = useOptimisticMessage(sessionId, block.id);
  const failed = optimistic?.status === 'failed';
  return (
    <div className="row user" data-testid="block-user_message" data-pending={optimistic ? optimistic.status : undefined}>
      <div className={`bubble${optimistic ? ' pending' : ''}${failed ? ' failed' : ''}`}>{block.text}</div>
      {optimistic && !failed ? (
        <div className="bubble-meta" data-testid="message-meta">
          {optimistic.status === 'sent' && optimistic.queued ? 'Queued: runs when the agent can go on' : 'Sending…'}
        </div>
      ) : null}
      {failed && optimistic ? (
        <div className="bubble-meta error">
          Not sent: {optimistic.error?.message ?? 'unknown error'} ·{' '}
          <button
            type="button"
            className="link-button"
            onClick={() => void client.retryMessage(sessionId, optimistic.clientMessageId, { ifBusy: 'queue' }).catch(() => {})}
          >
            Send again
          </button>{' '}
          ·{' '}
          <button type="button" className="link-button" onClick={() => client.discardMessage(sessionId, optimistic.clientMessageId)}>
            Discard
          </button>
        </div>
      ) : null}
    </div>
  );
}

function AssistantText(props: { sessionId: string; conversationId: string; block: Extract<Block, { type: 'assistant_text' }> }) {
  const open = useIsOpen(props.sessionId, props.conversationId, props.block.id);
  return (
    <div className="row assistant" data-testid="block-assistant_text" data-streaming={open ? 'true' : undefined}>
      <Markdown text={props.block.text} streaming={open} />
    </div>
  );
}

function Thinking(props: { sessionId: string; conversationId: string; block: Extract<Block, { type: 'thinking' }> }) {
  const open = useIsOpen(props.sessionId, props.conversationId, props.block.id);
  const [expanded, setExpanded] = useState(false);
  const { text, redacted } = props.block;
  const preview = text.trim().split('\n').at(-1) ?? '';
  return (
    <div className={`row thinking${expanded ? ' expanded' : ''}`} data-testid="block-thinking">
      <button type="button" className="thinking-header" onClick={() => setExpanded((e) => !e)} aria-expanded={expanded}>
        <BrainIcon size={15} />
        <span className={open ? 'shimmer' : ''}>{open ? 'Thinking' : 'Thought process'}</span>
        {!expanded && preview ? <span className="thinking-preview">{preview}</span> : null}
        {expanded ? <ChevronDownIcon size={14} /> : <ChevronRightIcon size={14} />}
      </button>
      {expanded ? (
        <div className="thinking-body">{redacted ? <em>The model's reasoning is encrypted.</em> : text}</div>
      ) : null}
    </div>
  );
}

// ---- tools ------------------------------------------------------------------------------------

type ToolUse = Extract<Block, { type: 'tool_use' }>;

function toolIcon(name: string) {
  const n = name.toLowerCase();
  if (n === 'bash' || n.includes('shell') || n.includes('command')) return TerminalIcon;
  if (n === 'write' || n === 'edit' || n === 'multiedit' || n.includes('write') || n.includes('replace')) return PencilIcon;
  if (n === 'read' || n.includes('read')) return EyeIcon;
  if (n === 'grep' || n === 'glob' || n.includes('search') || n === 'ls') return SearchIcon;
  if (n.includes('web') || n.includes('fetch')) return GlobeIcon;
  if (n === 'task' || n === 'agent') return AgentsIcon;
  return WrenchIcon;
}

function str(value: JsonValue | undefined): string | null {
  return typeof value === 'string' ? value : null;
}

/** A one-line summary of a call's input: the file, command or pattern it is about. */
export function toolSummary(block: ToolUse): string {
  const input = (block.input && typeof block.input === 'object' && !Array.isArray(block.input) ? block.input : {}) as Record<
    string,
    JsonValue
  >;
  const path = str(input.file_path) ?? str(input.path) ?? str(input.notebook_path);
  if (path) return path.replace(/^\/workspace\//, '');
  const command = str(input.command);
  if (command) return command;
  const pattern = str(input.pattern) ?? str(input.query);
  if (pattern) return pattern;
  const url = str(input.url);
  if (url) return url;
  const description = str(input.description) ?? str(input.prompt);
  if (description) return description;
  if (block.status === 'pending' && block.partialInput) return block.partialInput;
  return '';
}

const STATUS_LABEL: Record<ToolUse['status'], string> = {
  pending: 'Preparing',
  running: 'Running',
  success: 'Done',
  error: 'Failed',
};

function ToolCard(props: { sessionId: string; conversationId: string; block: ToolUse }) {
  const { block } = props;
  const result = useToolResult(props.sessionId, block.id, props.conversationId);
  // A call that spawned a subagent is shown by the subagent's card (with its whole thread).
  const hasSubagent = useAgentSelector((s: ClientState) => Boolean(s.sessions[props.sessionId]?.state?.subagents[block.id]));
  const [expanded, setExpanded] = useState(false);
  const Icon = toolIcon(block.name);
  const failed = block.status === 'error' || result?.isError;
  const status = failed ? 'error' : block.status;
  const summary = toolSummary(block);
  // The call waits for the user: a permission request or a question about it is open.
  const awaiting = useAgentSelector((s: ClientState) => {
    const view = s.sessions[props.sessionId];
    const open = (records: readonly { toolUseId?: string; requestId: string; resolution?: unknown }[] | undefined, answered: Readonly<Record<string, unknown>>) =>
      (records ?? []).some((r) => r.toolUseId === block.id && !r.resolution && !answered[r.requestId]);
    if (!view) return null;
    if (open(view.state?.permissions, view.permissionAnswers)) return 'Needs approval';
    if (open(view.state?.questions, view.questionAnswers)) return 'Needs your answer';
    return null;
  });
  // A permission request or question about this call shows right below it.
  const requests = props.conversationId === MAIN_CONVERSATION ? <RequestsAt sessionId={props.sessionId} toolUseId={block.id} /> : null;
  if (hasSubagent) return requests;
  return (
    <>
      <div className={`row tool-card status-${status}`} data-testid="tool-card" data-tool={block.name} data-status={status}>
        <button type="button" className="tool-header" onClick={() => setExpanded((e) => !e)} aria-expanded={expanded}>
          <span className="tool-icon">
            <Icon size={15} />
          </span>
          <span className="tool-name">{block.name}</span>
          <span className="tool-summary">{summary}</span>
          <span className={`tool-status ${status}`} data-testid="tool-status">
            {status === 'success' ? <CheckIcon size={13} /> : status === 'error' ? <XIcon size={13} /> : awaiting ? null : <span className="spinner" />}
            {awaiting && status !== 'success' && status !== 'error' ? awaiting : STATUS_LABEL[status]}
          </span>
          {expanded ? <ChevronDownIcon size={14} /> : <ChevronRightIcon size={14} />}
        </button>
        {expanded ? (
          <div className="tool-body">
            <div className="tool-section-label">Input</div>
            <pre className="tool-pre">
              {block.status === 'pending' && block.partialInput ? block.partialInput : JSON.stringify(block.input, null, 2)}
            </pre>
            {result ? (
              <>
                <div className="tool-section-label">{result.isError ? 'Error' : 'Result'}</div>
                <pre className={`tool-pre${result.isError ? ' error' : ''}`} data-testid="tool-result">
                  {result.output || '(no output)'}
                </pre>
              </>
            ) : null}
          </div>
        ) : result ? (
          <div className={`tool-result-preview${result.isError ? ' error' : ''}`} data-testid="tool-result">
            {firstLine(result.output)}
          </div>
        ) : null}
      </div>
      {requests}
    </>
  );
}

function firstLine(text: string): string {
  const line = text.split('\n').find((l) => l.trim()) ?? '';
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}

/** A tool result whose call is not in the thread (rare: shown on its own). */
function OrphanToolResult(props: { sessionId: string; conversationId: string; block: Extract<Block, { type: 'tool_result' }> }) {
  const hasCall = useAgentSelector((s: ClientState) =>
    threadBlocks(s.sessions[props.sessionId], props.conversationId).some(
      (b) => b.type === 'tool_use' && b.id === props.block.toolUseId,
    ),
  );
  if (hasCall) return null;
  return (
    <div className={`row tool-card status-${props.block.isError ? 'error' : 'success'}`}>
      <div className="tool-header static">
        <span className="tool-icon">
          <WrenchIcon size={15} />
        </span>
        <span className="tool-name">Tool result</span>
      </div>
      <pre className={`tool-pre${props.block.isError ? ' error' : ''}`}>{props.block.output}</pre>
    </div>
  );
}

function SystemNotice({ block }: { block: Extract<Block, { type: 'system' }> }) {
  if (block.subtype === 'interrupted') {
    return (
      <div className="turn-end interrupted" data-testid="turn-interrupted">
        <StopIcon size={12} /> Stopped · the turn was interrupted
      </div>
    );
  }
  const error = block.subtype === 'error';
  const Icon = error ? AlertIcon : InfoIcon;
  return (
    <div className={`row system ${error ? 'error' : ''} subtype-${block.subtype}`} data-testid="block-system">
      <Icon size={13} />
      <span>{block.message || block.subtype.replace(/_/g, ' ')}</span>
    </div>
  );
}

function SubagentCard({ sessionId, block }: { sessionId: string; block: Extract<Block, { type: 'subagent' }> }) {
  const thread = useAgentSelector((s: ClientState) => s.sessions[sessionId]?.state?.subagents[block.subagentId]);
  const status = thread?.status ?? block.status;
  const [expanded, setExpanded] = useState<boolean | null>(null);
  const open = expanded ?? status === 'running';
  return (
    <div className={`row subagent status-${status}`} data-testid="subagent">
      <button type="button" className="subagent-header" onClick={() => setExpanded(!open)} aria-expanded={open}>
        <AgentsIcon size={15} />
        <span className="subagent-type">{block.subagentType ?? thread?.subagentType ?? 'Subagent'}</span>
        <span className="subagent-description">{block.description ?? thread?.description ?? ''}</span>
        <span className={`tool-status ${status === 'completed' ? 'success' : status === 'error' ? 'error' : 'running'}`}>
          {status === 'running' ? <span className="spinner" /> : status === 'completed' ? <CheckIcon size={13} /> : <XIcon size={13} />}
          {status === 'running' ? 'Working' : status === 'completed' ? 'Done' : 'Failed'}
        </span>
        {open ? <ChevronDownIcon size={14} /> : <ChevronRightIcon size={14} />}
      </button>
      {open ? <SubagentThread sessionId={sessionId} subagentId={block.subagentId} /> : null}
    </div>
  );
}

// ---- plans ------------------------------------------------------------------------------------

type Plan = Extract<Block, { type: 'plan' }>;
type PlanStatus = Plan['entries'][number]['status'];

const PLAN_STATUS: Record<PlanStatus, { label: string; Icon: typeof CircleIcon }> = {
  pending: { label: 'Pending', Icon: CircleIcon },
  in_progress: { label: 'In progress', Icon: CircleDotIcon },
  completed: { label: 'Completed', Icon: CircleCheckIcon },
};

/** The agent's plan as a checklist. Each update replaces the whole plan, so this always shows
 * the latest version; open until the user folds it. */
function PlanCard({ block }: { block: Plan }) {
  const [expanded, setExpanded] = useState(true);
  const done = block.entries.filter((e) => e.status === 'completed').length;
  const total = block.entries.length;
  const finished = total > 0 && done === total;
  return (
    <div className={`row plan${finished ? ' finished' : ''}`} data-testid="block-plan">
      <button type="button" className="plan-header" onClick={() => setExpanded((e) => !e)} aria-expanded={expanded}>
        <span className="tool-icon">
          <ListChecksIcon size={15} />
        </span>
        <span className="tool-name">Plan</span>
        <span className="plan-progress" data-testid="plan-progress">
          {total === 0 ? 'No steps' : `${done} of ${total} done`}
        </span>
        {finished ? (
          <span className="tool-status success">
            <CheckIcon size={13} />
            Done
          </span>
        ) : null}
        {expanded ? <ChevronDownIcon size={14} /> : <ChevronRightIcon size={14} />}
      </button>
      {expanded && total > 0 ? (
        <ol className="plan-entries">
          {block.entries.map((entry, i) => {
            const { label, Icon } = PLAN_STATUS[entry.status];
            return (
              // Entries have no ids and a new version may reorder them; the index is their key.
              <li key={i} className={`plan-entry ${entry.status}`} data-testid="plan-entry" data-status={entry.status}>
                <span className="plan-marker" title={label} aria-label={label} role="img">
                  <Icon size={15} />
                </span>
                <span className="plan-content">{entry.content}</span>
                <span className={`plan-priority ${entry.priority}`} title={`Priority: ${entry.priority}`}>
                  {entry.priority}
                </span>
              </li>
            );
          })}
        </ol>
      ) : null}
    </div>
  );
}

function SubagentThread({ sessionId, subagentId }: { sessionId: string; subagentId: string }) {
  const ids = useBlockIds(sessionId, subagentId);
  return (
    <div className="subagent-thread">
      {ids.length === 0 ? <div className="muted small">No output yet.</div> : null}
      {ids.map((id) => (
        <BlockView key={id} sessionId={sessionId} blockId={id} conversationId={subagentId} />
      ))}
    </div>
  );
}

