// What the client knows, as one immutable value in the store, and the pure functions that derive
// what hooks show from it (status, messages with optimistic copies, file trees).

import { awaitsUser, NO_LOCAL_ANSWERS, type LocalAnswers } from './approvals.js';
import type { ConnectionInfo } from './connection.js';
import type { AgentRuntimeError } from './errors.js';
import { MAIN_CONVERSATION } from './fold.js';
import type {
  AgentInfo,
  Block,
  Envelope,
  FileInfo,
  Health,
  PermissionResolution,
  QuestionResolution,
  SandboxProviderInfo,
  SessionInfo,
  SessionState,
  TurnEndReason,
  TurnError,
  Usage,
  UserMessageBlock,
} from './generated/protocol.js';
import type { FileContent } from './rest.js';

/** A session's status, in the terms of Vercel AI SDK's `useChat`. */
export type SessionStatus =
  /** Nothing runs; ready for a message. */
  | 'idle'
  /** A message was sent and the turn has not started yet. */
  | 'submitted'
  /** A turn runs (the agent is thinking, streaming or using tools). */
  | 'running'
  /** The agent waits for the user: a permission request or question this client has not
   * answered, or a budget limit was reached (the state's own `status`). */
  | 'requires_action'
  /** The last message could not be sent or the last turn ended with an error. */
  | 'error';

/** A message the user sent that the server has not echoed yet. */
export interface OptimisticMessage {
  clientMessageId: string;
  text: string;
  /** `sending`: the request is in flight; `sent`: accepted (maybe queued), waiting for its
   * `user_message` block; `failed`: refused or never arrived (see `error`). */
  status: 'sending' | 'sent' | 'failed';
  /** The block shown until the server's own replaces it (stable identity). */
  block: { type: 'user_message' } & UserMessageBlock;
  turnId?: string;
  queued?: boolean;
  error?: AgentRuntimeError;
}

/** How the last turn this client saw end ended. */
export interface TurnSummary {
  turnId: string;
  reason: TurnEndReason;
  usage: Usage;
  costUsd: number;
  durationMs: number;
  error?: TurnError;
}

/** Everything the client holds about one session. */
export interface SessionView {
  sessionId: string;
  info: SessionInfo | null;
  /** The folded state; null until the first snapshot arrives. */
  state: SessionState | null;
  /** The first snapshot is being fetched. */
  loading: boolean;
  /** The subscription is live (caught up and receiving events). */
  live: boolean;
  pending: readonly OptimisticMessage[];
  lastTurn: TurnSummary | null;
  /** The error to show; cleared by the next message or `clearError`. */
  error: AgentRuntimeError | null;
  /** A stop was requested and the turn has not ended yet. */
  stopping: boolean;
  /** The most recent live events, oldest first (bounded). */
  events: readonly Envelope[];
  /** This client's answers to permission requests (and the server's replies to them), shown
   * until the fold has them. */
  permissionAnswers: LocalAnswers<PermissionResolution>;
  /** This client's answers to questions, shown until the fold confirms them. */
  questionAnswers: LocalAnswers<QuestionResolution>;
}

export interface SessionListView {
  sessions: readonly SessionInfo[];
  nextCursor: string | null;
  loading: boolean;
  loaded: boolean;
  error: AgentRuntimeError | null;
}

/** A workspace file's content, cached by content hash. */
export interface FileContentView {
  sha256: string | null;
  loading: boolean;
  content: FileContent | null;
  error: AgentRuntimeError | null;
}

export interface ClientState {
  connection: ConnectionInfo;
  sessions: Readonly<Record<string, SessionView>>;
  sessionList: SessionListView;
  health: Health | null;
  healthError: AgentRuntimeError | null;
  /** By `fileKey(sessionId, path)`. */
  files: Readonly<Record<string, FileContentView>>;
  /** `GET /api/agents`, once loaded. */
  agents: readonly AgentInfo[] | null;
  /** Where sessions' sandboxes can run (`GET /api/agents`), the default first; once loaded. */
  sandboxProviders: readonly SandboxProviderInfo[] | null;
  agentsError: AgentRuntimeError | null;
}

export function initialClientState(): ClientState {
  return {
    connection: { state: 'closed', attempt: 0, nextRetryAt: null, lastError: null },
    sessions: {},
    sessionList: { sessions: [], nextCursor: null, loading: false, loaded: false, error: null },
    health: null,
    healthError: null,
    files: {},
    agents: null,
    sandboxProviders: null,
    agentsError: null,
  };
}

export function emptySessionView(sessionId: string): SessionView {
  return {
    sessionId,
    info: null,
    state: null,
    loading: false,
    live: false,
    pending: [],
    lastTurn: null,
    error: null,
    stopping: false,
    events: [],
    permissionAnswers: NO_LOCAL_ANSWERS,
    questionAnswers: NO_LOCAL_ANSWERS,
  };
}

export function fileKey(sessionId: string, path: string): string {
  return `${sessionId}\n${path}`;
}

/** The status a session shows. */
export function sessionStatus(view: SessionView | undefined): SessionStatus {
  if (!view) return 'idle';
  if (awaitsUser(view)) return 'requires_action';
  if (view.state?.runtime.activeTurnId) return 'running';
  if (view.pending.some((message) => message.status !== 'failed')) return 'submitted';
  if (view.error) return 'error';
  return 'idle';
}

const EMPTY_BLOCKS: readonly Block[] = Object.freeze([]);

/** The blocks of a thread (`"main"` or a subagent id). */
export function threadBlocks(view: SessionView | undefined, conversationId: string = MAIN_CONVERSATION): readonly Block[] {
  const state = view?.state;
  if (!state) return EMPTY_BLOCKS;
  if (conversationId === MAIN_CONVERSATION) return state.blocks;
  return state.subagents[conversationId]?.blocks ?? EMPTY_BLOCKS;
}

/** The main thread's blocks followed by the optimistic copies of messages not yet echoed. */
export function withOptimistic(blocks: readonly Block[], pending: readonly OptimisticMessage[]): readonly Block[] {
  if (pending.length === 0) return blocks;
  return [...blocks, ...pending.map((message) => message.block)];
}

const blockIndexCache = new WeakMap<readonly Block[], Map<string, Block>>();

/** The block with `id` in `blocks` (the last one, if repeated), via a per-array index shared by
 * every caller, so a thousand mounted blocks cost one index per update, not a thousand scans. */
export function findBlock(blocks: readonly Block[], id: string): Block | undefined {
  let index = blockIndexCache.get(blocks);
  if (!index) {
    index = new Map(blocks.map((block) => [block.id, block]));
    blockIndexCache.set(blocks, index);
  }
  return index.get(id);
}

/** A folder or file of a workspace tree. */
export interface FileTreeNode {
  name: string;
  /** Full path from the workspace root. */
  path: string;
  kind: 'directory' | 'file';
  /** Present for files. */
  file?: FileInfo;
  /** Present for directories: folders first, then files, each by name. */
  children?: FileTreeNode[];
}

/** Nests a flat, sorted file list into folders. */
export function buildFileTree(files: readonly FileInfo[]): FileTreeNode[] {
  const root: FileTreeNode = { name: '', path: '', kind: 'directory', children: [] };
  for (const file of files) {
    const parts = file.path.split('/').filter(Boolean);
    let node = root;
    parts.forEach((name, index) => {
      const path = parts.slice(0, index + 1).join('/');
      const isFile = index === parts.length - 1;
      const children = node.children as FileTreeNode[];
      let child = children.find((c) => c.name === name && c.kind === (isFile ? 'file' : 'directory'));
      if (!child) {
        child = isFile ? { name, path, kind: 'file', file } : { name, path, kind: 'directory', children: [] };
        children.push(child);
      }
      node = child;
    });
  }
  sortTree(root);
  return root.children as FileTreeNode[];
}

function sortTree(node: FileTreeNode): void {
  if (!node.children) return;
  node.children.sort((a, b) =>
    a.kind !== b.kind ? (a.kind === 'directory' ? -1 : 1) : a.name.localeCompare(b.name),
  );
  node.children.forEach(sortTree);
}
