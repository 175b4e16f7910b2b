// The hooks. Each selects only what it shows, so a streamed token re-renders the components that
// show that block (`useBlock`, `useMessages`) and nothing else: `useAgentSession`, the file tree,
// the session list and the connection indicator stay put while text streams.

import { useCallback, useEffect, useMemo, useState } from 'react';

import type { SendMessageOptions } from '../client.js';
import type { ConnectionInfo, ConnectionState } from '../connection.js';
import type { AgentRuntimeError } from '../errors.js';
import { MAIN_CONVERSATION } from '../fold.js';
import type {
  AgentInfo,
  Block,
  CreateSessionRequest,
  Envelope,
  FileInfo,
  Health,
  InterruptResponse,
  NetworkDenial,
  SandboxProviderInfo,
  SandboxProviderKind,
  SandboxState,
  SendMessageResponse,
  SessionInfo,
  SubagentStatus,
  SubagentThread,
  Usage,
} from '../generated/protocol.js';
import type { FileContent } from '../rest.js';
import {
  buildFileTree,
  fileKey,
  findBlock,
  sessionStatus,
  threadBlocks,
  withOptimistic,
  type ClientState,
  type FileContentView,
  type FileTreeNode,
  type OptimisticMessage,
  type SessionStatus,
  type SessionView,
  type TurnSummary,
} from '../state.js';
import { useAgentClient } from './provider.js';
import { shallowArrayEqual, shallowEqual, useStoreSelector } from './useStoreSelector.js';

/** Selects from the client's state; re-renders only when the selection changes. */
export function useAgentSelector<T>(selector: (state: ClientState) => T, isEqual?: (a: T, b: T) => boolean): T {
  const client = useAgentClient();
  return useStoreSelector(client.store, selector, isEqual);
}

/** Keeps a session loaded and subscribed while the calling component is mounted. */
export function useWatchSession(sessionId: string | null | undefined): void {
  const client = useAgentClient();
  useEffect(() => {
    if (!sessionId) return;
    return client.watchSession(sessionId);
  }, [client, sessionId]);
}

/** Selects from one session's view (undefined while there is none). */
export function useView<T>(sessionId: string | null | undefined, pick: (view: SessionView | undefined) => T, isEqual?: (a: T, b: T) => boolean): T {
  return useAgentSelector((state) => pick(sessionId ? state.sessions[sessionId] : undefined), isEqual);
}

// ---- connection -------------------------------------------------------------------------------

export interface UseConnectionResult extends ConnectionInfo {
  /** Connect now instead of waiting for the next retry. */
  reconnectNow: () => void;
  connect: () => void;
  /** Stop listening (running turns go on on the server; this is not `stop`). */
  disconnect: () => void;
}

/** The WebSocket's state, for a connection indicator. */
export function useConnection(): UseConnectionResult {
  const client = useAgentClient();
  const info = useAgentSelector((s) => s.connection);
  return useMemo(
    () => ({
      ...info,
      reconnectNow: () => client.reconnectNow(),
      connect: () => client.connect(),
      disconnect: () => client.disconnect(),
    }),
    [client, info],
  );
}

/** `GET /healthz`, fetched once per client: `demo` tells whether the server runs the demo model,
 * `sandbox` what confines a sandbox on this host (each protection, enforced or not, and by what). */
export function useHealth(): { health: Health | null; error: AgentRuntimeError | null; refresh: () => Promise<void> } {
  const client = useAgentClient();
  const health = useAgentSelector((s) => s.health);
  const error = useAgentSelector((s) => s.healthError);
  useEffect(() => {
    if (!client.store.getState().health) void client.loadHealth();
  }, [client]);
  return { health, error, refresh: useCallback(() => client.loadHealth(), [client]) };
}

export interface UseAgentsResult {
  /** The agents this server runs (`GET /api/agents`), with their `capabilities`; empty until
   * loaded. */
  agents: readonly AgentInfo[];
  /** Where sessions' sandboxes can run on this server, the default first; empty until loaded. */
  sandboxProviders: readonly SandboxProviderInfo[];
  isLoading: boolean;
  error: AgentRuntimeError | null;
  getAgent: (id: string) => AgentInfo | undefined;
  refresh: () => Promise<void>;
}

/** `GET /api/agents`, fetched once per client: each agent's version and what it can do
 * (`capabilities.approvals`, `questions`, `permissionModes`). */
export function useAgents(): UseAgentsResult {
  const client = useAgentClient();
  const agents = useAgentSelector((s) => s.agents);
  const sandboxProviders = useAgentSelector((s) => s.sandboxProviders);
  const error = useAgentSelector((s) => s.agentsError);
  useEffect(() => {
    if (!client.store.getState().agents) void client.loadAgents();
  }, [client]);
  return useMemo(
    () => ({
      agents: agents ?? NO_AGENTS,
      sandboxProviders: sandboxProviders ?? NO_PROVIDERS,
      isLoading: agents === null && error === null,
      error,
      getAgent: (id: string) => agents?.find((a) => a.id === id),
      refresh: () => client.loadAgents(),
    }),
    [client, agents, sandboxProviders, error],
  );
}

const NO_AGENTS: readonly AgentInfo[] = Object.freeze([]);
const NO_PROVIDERS: readonly SandboxProviderInfo[] = Object.freeze([]);

// ---- useAgentSession --------------------------------------------------------------------------

export interface UseAgentSessionResult {
  sessionId: string | null;
  /** Id, agent, profile, name, timestamps. */
  session: SessionInfo | null;
  status: SessionStatus;
  connectionState: ConnectionState;
  /** The first snapshot is loading. */
  isLoading: boolean;
  /** The session is subscribed and receiving live events. */
  isLive: boolean;
  error: AgentRuntimeError | null;
  /** How the last turn seen live ended (`interrupted` after a stop). */
  lastTurn: TurnSummary | null;
  /** A stop was requested and the turn has not ended yet. */
  isStopping: boolean;
  /** The running turn, if any. */
  activeTurnId: string | null;
  demo: boolean;
  model: string | null;
  sandbox: SandboxState;
  /** Where the session's sandbox runs (`local`, `modal`), once one has started. */
  sandboxProvider: SandboxProviderKind | null;
  usage: Usage | null;
  costUsd: number;
  /** Sends a message (with an optimistic copy). Resolves to undefined when it fails: the error is
   * then in `error` and the copy is marked failed. */
  sendMessage: (text: string, options?: SendMessageOptions) => Promise<SendMessageResponse | undefined>;
  /** Interrupts the running turn on the server. */
  stop: () => Promise<InterruptResponse | undefined>;
  /** Creates a session and makes it this hook's session (when no `sessionId` was given). The
   * seed's `(agentProfileRef, architecture)` arguments work too. */
  createSession: (request?: CreateSessionRequest | string, architecture?: string) => Promise<string>;
  /** Switches this hook to another session (when no `sessionId` was given). */
  loadSession: (sessionId: string) => Promise<void>;
  /** Deletes the session. */
  destroySession: () => Promise<void>;
  rename: (name: string) => Promise<void>;
  /** Fetches the snapshot again. */
  refresh: () => Promise<void>;
  clearError: () => void;
}

interface SessionSummary {
  session: SessionInfo | null;
  status: SessionStatus;
  isLoading: boolean;
  isLive: boolean;
  error: AgentRuntimeError | null;
  lastTurn: TurnSummary | null;
  isStopping: boolean;
  activeTurnId: string | null;
  demo: boolean;
  model: string | null;
  sandbox: SandboxState;
  sandboxProvider: SandboxProviderKind | null;
  usage: Usage | null;
  costUsd: number;
}

function summarize(view: SessionView | undefined): SessionSummary {
  const state = view?.state;
  return {
    session: view?.info ?? null,
    status: sessionStatus(view),
    isLoading: view ? view.loading || (!view.state && !view.error) : false,
    isLive: view?.live ?? false,
    error: view?.error ?? null,
    lastTurn: view?.lastTurn ?? null,
    isStopping: view?.stopping ?? false,
    activeTurnId: state?.runtime.activeTurnId ?? null,
    demo: state?.demo ?? false,
    model: state?.model ?? null,
    sandbox: state?.runtime.sandbox ?? 'none',
    sandboxProvider: state?.runtime.sandboxProvider ?? null,
    usage: state?.usage ?? null,
    costUsd: state?.costUsd ?? 0,
  };
}

/**
 * One session: its status and the actions on it. Watches the session (snapshot + live events)
 * while mounted. Does not re-render on streamed tokens; use {@link useMessages} or
 * {@link useBlock} where text is shown.
 *
 * @param sessionId the session; omit it to let `createSession` / `loadSession` choose one.
 */
export function useAgentSession(sessionId?: string | null): UseAgentSessionResult {
  const client = useAgentClient();
  const [chosen, setChosen] = useState<string | null>(null);
  const id = sessionId ?? chosen;
  useWatchSession(id);
  const summary = useView(id, summarize, shallowEqual);
  // Before the first effect runs there is no view yet: a given session is loading, not empty.
  const known = useView(id, (view) => view !== undefined);
  const connectionState = useAgentSelector((s) => s.connection.state);

  const sendMessage = useCallback(
    async (text: string, options?: SendMessageOptions) => {
      if (!id) throw new Error('useAgentSession: no session to send to');
      try {
        return await client.sendMessage(id, text, options);
      } catch {
        return undefined;
      }
    },
    [client, id],
  );
  const stop = useCallback(async () => {
    if (!id) return undefined;
    try {
      return await client.stop(id);
    } catch {
      return undefined;
    }
  }, [client, id]);
  const createSession = useCallback(
    async (request?: CreateSessionRequest | string, architecture?: string) => {
      const body: CreateSessionRequest =
        typeof request === 'string' ? { profile: request, agent: architecture } : { ...request };
      const info = await client.createSession(body);
      if (!sessionId) setChosen(info.sessionId);
      return info.sessionId;
    },
    [client, sessionId],
  );
  const loadSession = useCallback(
    async (next: string) => {
      if (!sessionId) setChosen(next);
      await client.refreshSession(next);
    },
    [client, sessionId],
  );
  const destroySession = useCallback(async () => {
    if (!id) return;
    await client.deleteSession(id);
    if (!sessionId) setChosen(null);
  }, [client, id, sessionId]);
  const rename = useCallback(async (name: string) => {
    if (id) await client.renameSession(id, name);
  }, [client, id]);
  const refresh = useCallback(async () => {
    if (id) await client.refreshSession(id);
  }, [client, id]);
  const clearError = useCallback(() => {
    if (id) client.clearError(id);
  }, [client, id]);

  return {
    sessionId: id,
    ...summary,
    isLoading: summary.isLoading || (Boolean(id) && !known),
    connectionState,
    sendMessage,
    stop,
    createSession,
    loadSession,
    destroySession,
    rename,
    refresh,
    clearError,
  };
}

// ---- messages ---------------------------------------------------------------------------------

export interface UseMessagesResult {
  /** The thread's blocks; in the main thread followed by optimistic copies of messages the
   * server has not echoed yet (their ids start with `optimistic:`). */
  blocks: readonly Block[];
  /** Alias of `blocks`, for `useChat` habits. */
  messages: readonly Block[];
  /** Messages not yet echoed, with their send status. */
  pending: readonly OptimisticMessage[];
  /** A turn is running. */
  isStreaming: boolean;
  status: SessionStatus;
  error: AgentRuntimeError | null;
  sendMessage: (text: string, options?: SendMessageOptions) => Promise<SendMessageResponse | undefined>;
  retryMessage: (clientMessageId: string) => Promise<SendMessageResponse | undefined>;
  discardMessage: (clientMessageId: string) => void;
  getBlock: (blockId: string) => Block | undefined;
  getBlocksByType: <K extends Block['type']>(type: K) => Extract<Block, { type: K }>[];
}

/**
 * A thread's blocks (main by default). Re-renders on every change of the thread, streamed tokens
 * included; for long conversations render {@link useBlockIds} and one {@link useBlock} per block.
 */
export function useMessages(sessionId: string | null | undefined, conversationId: string = MAIN_CONVERSATION): UseMessagesResult {
  const client = useAgentClient();
  useWatchSession(sessionId);
  const threadOnly = useView(sessionId, (view) => threadBlocks(view, conversationId));
  const pending = useView(sessionId, (view) => (conversationId === MAIN_CONVERSATION ? view?.pending ?? NO_PENDING : NO_PENDING));
  const meta = useView(
    sessionId,
    (view) => ({ status: sessionStatus(view), error: view?.error ?? null }),
    shallowEqual,
  );
  const blocks = useMemo(() => withOptimistic(threadOnly, pending), [threadOnly, pending]);
  const sendMessage = useCallback(
    async (text: string, options?: SendMessageOptions) => {
      if (!sessionId) throw new Error('useMessages: no session to send to');
      try {
        return await client.sendMessage(sessionId, text, options);
      } catch {
        return undefined;
      }
    },
    [client, sessionId],
  );
  const retryMessage = useCallback(
    async (clientMessageId: string) => {
      if (!sessionId) return undefined;
      try {
        return await client.retryMessage(sessionId, clientMessageId);
      } catch {
        return undefined;
      }
    },
    [client, sessionId],
  );
  const discardMessage = useCallback(
    (clientMessageId: string) => {
      if (sessionId) client.discardMessage(sessionId, clientMessageId);
    },
    [client, sessionId],
  );
  const getBlock = useCallback((blockId: string) => findBlock(blocks, blockId), [blocks]);
  const getBlocksByType = useCallback(
    <K extends Block['type']>(type: K) => blocks.filter((b) => b.type === type) as Extract<Block, { type: K }>[],
    [blocks],
  );
  return {
    blocks,
    messages: blocks,
    pending,
    isStreaming: meta.status === 'running',
    status: meta.status,
    error: meta.error,
    sendMessage,
    retryMessage,
    discardMessage,
    getBlock,
    getBlocksByType,
  };
}

const NO_PENDING: readonly OptimisticMessage[] = Object.freeze([]);

/** The ids of a thread's blocks (optimistic copies included in the main thread). Re-renders only
 * when a block is added or removed, never on streamed text. */
export function useBlockIds(sessionId: string | null | undefined, conversationId: string = MAIN_CONVERSATION): readonly string[] {
  useWatchSession(sessionId);
  return useView(
    sessionId,
    (view) => {
      const blocks = threadBlocks(view, conversationId);
      const pending = conversationId === MAIN_CONVERSATION ? view?.pending ?? NO_PENDING : NO_PENDING;
      return withOptimistic(blocks, pending).map((block) => block.id);
    },
    shallowArrayEqual,
  );
}

/** One block by id. Re-renders only when that block changes; a settled block never does. */
export function useBlock(sessionId: string | null | undefined, blockId: string, conversationId: string = MAIN_CONVERSATION): Block | undefined {
  return useView(sessionId, (view) => {
    const block = findBlock(threadBlocks(view, conversationId), blockId);
    if (block || conversationId !== MAIN_CONVERSATION) return block;
    return view?.pending.find((m) => m.block.id === blockId)?.block;
  });
}

/** The optimistic message behind an `optimistic:` block id, with its send status. */
export function useOptimisticMessage(sessionId: string | null | undefined, blockId: string): OptimisticMessage | undefined {
  return useView(sessionId, (view) => view?.pending.find((m) => m.block.id === blockId));
}

/** The result block of a tool call (`tool_result` whose `toolUseId` is `toolUseId`). */
export function useToolResult(
  sessionId: string | null | undefined,
  toolUseId: string,
  conversationId: string = MAIN_CONVERSATION,
): Extract<Block, { type: 'tool_result' }> | undefined {
  return useView(sessionId, (view) => {
    const blocks = threadBlocks(view, conversationId);
    for (let i = blocks.length - 1; i >= 0; i--) {
      const block = blocks[i] as Block;
      if (block.type === 'tool_result' && block.toolUseId === toolUseId) return block;
    }
    return undefined;
  });
}

// ---- subagents --------------------------------------------------------------------------------

export interface SubagentInfo extends SubagentThread {
  id: string;
}

export interface UseSubagentsResult {
  subagents: readonly SubagentInfo[];
  count: number;
  hasRunningSubagents: boolean;
  getSubagent: (subagentId: string) => SubagentInfo | undefined;
  getSubagentBlocks: (subagentId: string) => readonly Block[];
  getSubagentsByStatus: (status: SubagentStatus) => SubagentInfo[];
}

/** The session's subagent threads. */
export function useSubagents(sessionId: string | null | undefined): UseSubagentsResult {
  useWatchSession(sessionId);
  const record = useView(sessionId, (view) => view?.state?.subagents ?? NO_SUBAGENTS);
  return useMemo(() => {
    const subagents = Object.entries(record).map(([id, thread]) => ({ id, ...thread }));
    const byId = new Map(subagents.map((s) => [s.id, s]));
    return {
      subagents,
      count: subagents.length,
      hasRunningSubagents: subagents.some((s) => s.status === 'running'),
      getSubagent: (id: string) => byId.get(id),
      getSubagentBlocks: (id: string) => byId.get(id)?.blocks ?? [],
      getSubagentsByStatus: (status: SubagentStatus) => subagents.filter((s) => s.status === status),
    };
  }, [record]);
}

/** One subagent's thread. */
export function useSubagent(sessionId: string | null | undefined, subagentId: string): SubagentThread | undefined {
  return useView(sessionId, (view) => view?.state?.subagents[subagentId]);
}

const NO_SUBAGENTS: Readonly<Record<string, SubagentThread>> = Object.freeze({});

// ---- files ------------------------------------------------------------------------------------

export interface UseWorkspaceFilesResult {
  /** Workspace files, sorted by path. */
  files: readonly FileInfo[];
  /** The same files nested into folders. */
  tree: FileTreeNode[];
  count: number;
  isLoading: boolean;
  getFile: (path: string) => FileInfo | undefined;
  /** Reads a file's content (cached by content hash). */
  readFile: (path: string) => Promise<FileContent>;
}

/** The session's workspace files, live (created, modified, deleted by the agent). */
export function useWorkspaceFiles(sessionId: string | null | undefined): UseWorkspaceFilesResult {
  const client = useAgentClient();
  useWatchSession(sessionId);
  const files = useView(sessionId, (view) => view?.state?.files ?? NO_FILES);
  const isLoading = useView(sessionId, (view) => Boolean(view && !view.state && !view.error));
  const readFile = useCallback(
    (path: string) => {
      if (!sessionId) return Promise.reject(new Error('useWorkspaceFiles: no session'));
      return client.readFile(sessionId, path);
    },
    [client, sessionId],
  );
  return useMemo(() => {
    const byPath = new Map(files.map((f) => [f.path, f]));
    return {
      files,
      tree: buildFileTree(files),
      count: files.length,
      isLoading,
      getFile: (path: string) => byPath.get(path),
      readFile,
    };
  }, [files, isLoading, readFile]);
}

const NO_FILES: readonly FileInfo[] = Object.freeze([]);

export interface UseFileContentResult extends FileContentView {
  /** The file is not (or no longer) in the workspace. */
  missing: boolean;
}

/** A workspace file's content, fetched when shown and again whenever the agent changes it. */
export function useFileContent(sessionId: string | null | undefined, path: string | null | undefined): UseFileContentResult {
  const client = useAgentClient();
  useWatchSession(sessionId);
  const sha256 = useView(sessionId, (view) =>
    path ? view?.state?.files.find((f) => f.path === path)?.sha256 ?? null : null,
  );
  const cached = useAgentSelector((s) => (sessionId && path ? s.files[fileKey(sessionId, path)] : undefined));
  useEffect(() => {
    if (!sessionId || !path || !sha256) return;
    client.readFile(sessionId, path, sha256).catch(() => {});
  }, [client, sessionId, path, sha256]);
  return {
    sha256: cached?.sha256 ?? sha256,
    loading: cached?.loading ?? Boolean(sha256),
    content: cached?.content ?? null,
    error: cached?.error ?? null,
    missing: Boolean(sessionId && path) && sha256 === null,
  };
}

// ---- network denials --------------------------------------------------------------------------

export interface UseNetworkDenialsResult {
  /** Refused destinations, one per `(host, port, reason)`, the most recently refused last; at
   * most `MAX_NETWORK_DENIALS` (the oldest go first). */
  denials: readonly NetworkDenial[];
  /** Refused connections in all, repeats included. */
  total: number;
  /** The most recently refused destination. */
  latest: NetworkDenial | null;
}

/** Connections the sandbox's egress proxy refused (`network_denied` events, folded into the
 * session's `networkDenied`): live as they happen and after a reload, from the snapshot.
 * Re-renders only when a refusal arrives. */
export function useNetworkDenials(sessionId: string | null | undefined): UseNetworkDenialsResult {
  useWatchSession(sessionId);
  const denials = useView(sessionId, (view) => view?.state?.networkDenied ?? NO_DENIALS);
  return useMemo(
    () => ({
      denials,
      total: denials.reduce((sum, d) => sum + d.count, 0),
      latest: denials[denials.length - 1] ?? null,
    }),
    [denials],
  );
}

const NO_DENIALS: readonly NetworkDenial[] = Object.freeze([]);

// ---- session list -----------------------------------------------------------------------------

export interface UseSessionListResult {
  /** Sessions, newest first. */
  sessions: readonly SessionInfo[];
  isLoading: boolean;
  error: AgentRuntimeError | null;
  hasMore: boolean;
  refresh: () => Promise<void>;
  loadMore: () => Promise<void>;
  getSession: (sessionId: string) => SessionInfo | undefined;
  createSession: (request?: CreateSessionRequest) => Promise<SessionInfo>;
  deleteSession: (sessionId: string) => Promise<void>;
  renameSession: (sessionId: string, name: string) => Promise<SessionInfo>;
}

/** The session list (first page loaded on mount, again on every reconnect). */
export function useSessionList(): UseSessionListResult {
  const client = useAgentClient();
  const list = useAgentSelector((s) => s.sessionList);
  const connection = useAgentSelector((s) => s.connection.state);
  useEffect(() => {
    // Loads on mount, and refreshes after a reconnect (sessions may have changed meanwhile).
    if (connection === 'open' || !client.store.getState().sessionList.loaded) void client.refreshSessions();
  }, [client, connection]);
  return useMemo(
    () => ({
      sessions: list.sessions,
      isLoading: list.loading && !list.loaded,
      error: list.error,
      hasMore: list.nextCursor !== null,
      refresh: () => client.refreshSessions(),
      loadMore: () => client.loadMoreSessions(),
      getSession: (id: string) => list.sessions.find((s) => s.sessionId === id),
      createSession: (request?: CreateSessionRequest) => client.createSession(request),
      deleteSession: (id: string) => client.deleteSession(id),
      renameSession: (id: string, name: string) => client.renameSession(id, name),
    }),
    [client, list],
  );
}

// ---- events -----------------------------------------------------------------------------------

/**
 * The session's recent live events (oldest first, bounded by `eventBufferSize`), and an optional
 * callback for each new one. Re-renders on every event: meant for activity logs and debugging.
 */
export function useEvents(
  sessionId: string | null | undefined,
  onEvent?: (envelope: Envelope) => void,
): { events: readonly Envelope[] } {
  const client = useAgentClient();
  useWatchSession(sessionId);
  const events = useView(sessionId, (view) => view?.events ?? NO_EVENTS);
  useEffect(() => {
    if (!sessionId || !onEvent) return;
    return client.onEvent((envelope) => {
      if (envelope.sessionId === sessionId) onEvent(envelope);
    });
  }, [client, sessionId, onEvent]);
  return { events };
}

const NO_EVENTS: readonly Envelope[] = Object.freeze([]);
