// The one fold, in TypeScript: the mirror of `crates/protocol/src/state.rs`.
//
// Folding envelopes 1..N over `emptySessionState()` gives exactly the state the server's
// snapshot holds at `seq = N` (the golden tests in test/golden/ check this on every captured
// agent stream). Unlike the Rust fold this one never mutates: it returns a new state that shares
// every object the event did not touch, so a settled block keeps its identity while another one
// streams, and React can skip re-rendering it.

import { applyApprovalEvent, deriveStatus } from './fold-approvals.js';
import type {
  Block,
  BlockUpdates,
  Envelope,
  FileInfo,
  NetworkDenial,
  SessionEvent,
  SessionState,
  SubagentThread,
  Usage,
} from './generated/protocol.js';

/** The thread id of a session's main conversation. */
export const MAIN_CONVERSATION = 'main';

/** How many distinct refused destinations a session's state keeps (Rust's `MAX_NETWORK_DENIALS`). */
export const MAX_NETWORK_DENIALS = 50;

/** A session before any event (the Rust `SessionState::default()`). */
export function emptySessionState(): SessionState {
  return {
    seq: 0,
    runtime: { sandbox: 'none' },
    blocks: [],
    subagents: {},
    files: [],
    usage: emptyUsage(),
    costUsd: 0,
    demo: false,
    status: 'idle',
    turns: 0,
  };
}

function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 };
}

/** Folds one envelope into `state`. Pure and total: an event about something unknown changes
 * nothing but `seq`. */
export function fold(state: SessionState, envelope: Envelope): SessionState {
  const applied = apply(state, envelope.event, envelope.at);
  const status = deriveStatus(applied);
  if (applied.seq === envelope.seq && applied.status === status) return applied;
  return { ...applied, seq: envelope.seq, status };
}

/** Folds a whole log, in order, over an empty state. */
export function foldAll(envelopes: Iterable<Envelope>): SessionState {
  let state = emptySessionState();
  for (const envelope of envelopes) state = fold(state, envelope);
  return state;
}

function apply(state: SessionState, event: SessionEvent, at: string): SessionState {
  switch (event.type) {
    case 'block_start':
    case 'block_complete':
      return updateThread(state, event.conversationId, true, (blocks) => upsertBlock(blocks, event.block));
    case 'text_delta':
      return updateBlock(state, event.conversationId, event.blockId, (block) => appendText(block, event.delta));
    case 'block_update':
      return updateBlock(state, event.conversationId, event.blockId, (block) => applyUpdates(block, event.updates));
    case 'turn_started':
      return { ...state, runtime: { ...state.runtime, activeTurnId: event.turnId }, turns: state.turns + 1 };
    case 'turn_completed': {
      const runtime =
        state.runtime.activeTurnId === event.turnId ? withoutActiveTurn(state.runtime) : state.runtime;
      return {
        ...state,
        runtime,
        usage: addUsage(state.usage, event.usage),
        costUsd: state.costUsd + event.costUsd,
      };
    }
    case 'metadata_update': {
      const { model, agentSessionId, demo } = event.metadata;
      let next = state;
      if (model != null) next = { ...next, model };
      if (agentSessionId != null) next = { ...next, agentSessionId };
      if (demo != null) next = { ...next, demo };
      return next;
    }
    case 'subagent_discovered': {
      const existing = state.subagents[event.subagentId];
      const thread: SubagentThread = {
        ...(existing ?? newThread(event.parentConversationId)),
        parentConversationId: event.parentConversationId,
      };
      if (event.subagentType != null) thread.subagentType = event.subagentType;
      if (event.description != null) thread.description = event.description;
      return { ...state, subagents: { ...state.subagents, [event.subagentId]: thread } };
    }
    case 'subagent_completed': {
      const existing = state.subagents[event.subagentId];
      if (!existing) return state;
      return {
        ...state,
        subagents: { ...state.subagents, [event.subagentId]: { ...existing, status: event.status } },
      };
    }
    case 'file_created':
    case 'file_modified': {
      const { type: _type, ...info } = event;
      return { ...state, files: upsertFile(state.files, info) };
    }
    case 'file_deleted': {
      const index = findFile(state.files, event.path);
      if (index < 0) return state;
      const files = state.files.slice();
      files.splice(index, 1);
      return { ...state, files };
    }
    case 'status':
      return {
        ...state,
        runtime: {
          ...state.runtime,
          sandbox: event.sandbox,
          ...(event.provider ? { sandboxProvider: event.provider } : {}),
        },
      };
    case 'network_denied':
      return { ...state, networkDenied: noteDenial(state.networkDenied ?? [], event, at) };
    case 'permission_requested':
    case 'permission_resolved':
    case 'question_requested':
    case 'question_resolved':
    case 'budget_exceeded':
    case 'budget_approved':
    case 'settings_changed':
      return applyApprovalEvent(state, event);
    case 'warning':
      return state;
    default:
      // An event type this client does not know (a newer server): like Rust's fold would not
      // have compiled, we keep the state and move on.
      return state;
  }
}

/** Counts a refusal on its destination's entry, moved to the end; the oldest entry goes when
 * there are more than {@link MAX_NETWORK_DENIALS} (Rust's `note_denial`). */
function noteDenial(
  denials: readonly NetworkDenial[],
  refused: { host: string; port: number; reason: string },
  at: string,
): NetworkDenial[] {
  const { host, port, reason } = refused;
  const index = denials.findIndex((d) => d.host === host && d.port === port && d.reason === reason);
  const count = index < 0 ? 1 : (denials[index] as NetworkDenial).count + 1;
  const next = index < 0 ? denials.slice() : [...denials.slice(0, index), ...denials.slice(index + 1)];
  next.push({ host, port, reason, count, lastAt: at });
  if (next.length > MAX_NETWORK_DENIALS) next.shift();
  return next;
}

function withoutActiveTurn(runtime: SessionState['runtime']): SessionState['runtime'] {
  const { activeTurnId: _dropped, ...rest } = runtime;
  return rest;
}

function newThread(parentConversationId: string): SubagentThread {
  return { parentConversationId, status: 'running', blocks: [] };
}

/** Replaces the blocks of a thread; `create` makes a missing subagent thread (as Rust's
 * `thread_mut` does for block starts and completions, so a subagent's output that arrives before
 * its discovery is kept). */
function updateThread(
  state: SessionState,
  conversationId: string,
  create: boolean,
  change: (blocks: Block[]) => Block[],
): SessionState {
  if (conversationId === MAIN_CONVERSATION) {
    const blocks = change(state.blocks);
    return blocks === state.blocks ? state : { ...state, blocks };
  }
  const thread = state.subagents[conversationId] ?? (create ? newThread(MAIN_CONVERSATION) : undefined);
  if (!thread) return state;
  const blocks = change(thread.blocks);
  if (blocks === thread.blocks && state.subagents[conversationId]) return state;
  return { ...state, subagents: { ...state.subagents, [conversationId]: { ...thread, blocks } } };
}

/** Applies `change` to the last block with `blockId` in a thread that exists. */
function updateBlock(
  state: SessionState,
  conversationId: string,
  blockId: string,
  change: (block: Block) => Block,
): SessionState {
  return updateThread(state, conversationId, false, (blocks) => {
    const index = lastIndexOfId(blocks, blockId);
    if (index < 0) return blocks;
    const current = blocks[index] as Block;
    const next = change(current);
    if (next === current) return blocks;
    const copy = blocks.slice();
    copy[index] = next;
    return copy;
  });
}

function lastIndexOfId(blocks: readonly Block[], id: string): number {
  // Open blocks are near the end; search backwards.
  for (let i = blocks.length - 1; i >= 0; i--) {
    if ((blocks[i] as Block).id === id) return i;
  }
  return -1;
}

function upsertBlock(blocks: Block[], block: Block): Block[] {
  const index = lastIndexOfId(blocks, block.id);
  const copy = blocks.slice();
  if (index < 0) copy.push(block);
  else copy[index] = block;
  return copy;
}

function appendText(block: Block, delta: string): Block {
  switch (block.type) {
    case 'assistant_text':
    case 'thinking':
      return { ...block, text: block.text + delta };
    case 'tool_use':
      return { ...block, partialInput: (block.partialInput ?? '') + delta };
    default:
      return block;
  }
}

function applyUpdates(block: Block, updates: BlockUpdates): Block {
  switch (block.type) {
    case 'tool_use': {
      if (updates.status == null && updates.partialInput == null) return block;
      const next = { ...block };
      if (updates.status != null) next.status = updates.status;
      if (updates.partialInput != null) next.partialInput = updates.partialInput;
      return next;
    }
    case 'thinking':
      return updates.signature != null ? { ...block, signature: updates.signature } : block;
    case 'subagent':
      return updates.subagentStatus != null ? { ...block, status: updates.subagentStatus } : block;
    case 'plan':
      // A plan update carries the whole new plan, never a diff.
      return updates.entries != null ? { ...block, entries: updates.entries } : block;
    default:
      return block;
  }
}

function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadInputTokens: a.cacheReadInputTokens + b.cacheReadInputTokens,
    cacheCreationInputTokens: a.cacheCreationInputTokens + b.cacheCreationInputTokens,
  };
}

/** Index of `path` in the sorted file list, or -1. */
function findFile(files: readonly FileInfo[], path: string): number {
  const index = lowerBound(files, path);
  return index < files.length && (files[index] as FileInfo).path === path ? index : -1;
}

function upsertFile(files: readonly FileInfo[], info: FileInfo): FileInfo[] {
  const index = lowerBound(files, info.path);
  const copy = files.slice();
  if (index < files.length && (files[index] as FileInfo).path === info.path) copy[index] = info;
  else copy.splice(index, 0, info);
  return copy;
}

/** First index whose path is not less than `path`, in Rust's byte order (`String::cmp`). */
function lowerBound(files: readonly FileInfo[], path: string): number {
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareUtf8((files[mid] as FileInfo).path, path) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Compares strings by their UTF-8 bytes, as Rust orders `String`s. (JavaScript's `<` compares
 * UTF-16 code units, which orders some non-BMP characters differently.) */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++; // skip the low surrogate of a pair
  }
  return a.length - b.length;
}
