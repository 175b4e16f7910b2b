// `AgentClient`: the REST client, the WebSocket and the store, tied together. Framework-free; the
// React hooks are thin selectors over it. The class is the public face; its parts live beside it:
// - session-sync.ts   how a watched session stays in sync (snapshot, subscribe, gaps, resync)
// - answers.ts        answering permission requests and questions, approving and setting budgets
// - session-views.ts  reading and changing one session's view in the store
//
// Commands that change things (send, stop, create, ...) go over REST: each gets a definite answer
// even while the socket reconnects, and the events they cause arrive over the socket.

import type { PermissionAnswer, QuestionAnswers } from './approvals.js';
import {
  answerPermission,
  answerQuestion,
  approveBudget,
  setBudget,
  type AnswerContext,
  type AnswerOptions,
} from './answers.js';
import {
  Connection,
  type ConnectionOptions,
  type EnvironmentHooks,
  type HeartbeatOptions,
  type ReconnectOptions,
  type WebSocketFactory,
} from './connection.js';
import { AgentRuntimeError, type ActionResult } from './errors.js';
import type {
  Budget,
  BudgetApproval,
  CreateSessionRequest,
  IfBusy,
  InterruptResponse,
  PermissionResolution,
  QuestionResolution,
  SendMessageResponse,
  SessionInfo,
} from './generated/protocol.js';
import { RestClient, type FileContent, type TokenGetter } from './rest.js';
import {
  dropSync,
  handleClose,
  handleFrame,
  handleOpen,
  loadSnapshot,
  releaseWatch,
  subscribe,
  syncOf,
  type EventListener,
  type SessionSync,
  type SyncContext,
  type SyncStats,
} from './session-sync.js';
import { applyInfo, ensureView, sessionView, updatePending, updateView } from './session-views.js';
import { emptySessionView, fileKey, initialClientState, type ClientState, type OptimisticMessage } from './state.js';
import { Store } from './store.js';

export interface AgentClientOptions {
  /** Server origin, e.g. `http://localhost:8080`. Default: the page's own origin. */
  baseUrl?: string;
  /** The WebSocket URL, or just the server's origin (`ws://localhost:3000`, to which `/api/ws` is
   * added). Default: `baseUrl` (or the page's origin) with `ws(s)://` and `/api/ws`. */
  wsUrl?: string;
  /** Returns the API key to use; asked before every request and every connect. */
  getToken?: TokenGetter;
  /** A fixed API key (shorthand for `getToken: () => apiKey`). */
  apiKey?: string;
  /** How the WebSocket carries the token: an `auth` first frame (default) or `?token=`. */
  tokenVia?: 'frame' | 'query';
  fetch?: typeof fetch;
  createSocket?: WebSocketFactory;
  reconnect?: ReconnectOptions;
  heartbeat?: HeartbeatOptions;
  /** Page-life hooks (`online`, visibility); `null` disables them. Default: the window's. */
  environment?: EnvironmentHooks | null;
  /** Live events kept per session for `useEvents`. Default 500. */
  eventBufferSize?: number;
  /** How long a session stays subscribed after its last watcher leaves. Default 2 s. */
  unwatchDelayMs?: number;
  /** Sessions per `GET /api/sessions` page. Default 50. */
  pageSize?: number;
  /** Called with every error the client surfaces (for logging). */
  onError?: (error: AgentRuntimeError, context: { sessionId?: string; operation: string }) => void;
  random?: () => number;
}

export interface SendMessageOptions {
  /** What the server does when a turn already runs. Default `reject` (the send fails with
   * `session_busy`); `queue` runs it next; `interrupt` stops the running turn first. */
  ifBusy?: IfBusy;
  /** Your own id for the optimistic copy; generated when absent. */
  clientMessageId?: string;
}

export class AgentClient {
  readonly rest: RestClient;
  readonly store: Store<ClientState>;
  readonly stats: SyncStats = { duplicates: 0, gaps: 0, resyncs: 0, subscribes: 0 };
  private readonly options: AgentClientOptions;
  private readonly connection: Connection;
  private readonly syncs = new Map<string, SessionSync>();
  private readonly eventListeners = new Set<EventListener>();
  private readonly fileRequests = new Map<string, Promise<FileContent>>();
  private started = false;
  private listRefresh: Promise<void> | null = null;
  /** What the sync and answer functions work on: this client's parts and sync state. */
  private readonly parts: SyncContext & AnswerContext;

  constructor(options: AgentClientOptions = {}) {
    this.options = options;
    const getToken: TokenGetter | undefined =
      options.getToken ?? (options.apiKey ? () => options.apiKey : undefined);
    this.rest = new RestClient({ baseUrl: options.baseUrl, getToken, fetch: options.fetch });
    this.store = new Store(initialClientState());
    const connectionOptions: ConnectionOptions = {
      url: () => this.webSocketUrl(),
      getToken,
      tokenVia: options.tokenVia,
      createSocket: options.createSocket,
      reconnect: options.reconnect,
      heartbeat: options.heartbeat,
      environment: options.environment,
      random: options.random,
      onFrame: (frame) => handleFrame(this.parts, frame),
      onOpen: () => handleOpen(this.parts),
      onClose: () => handleClose(this.parts),
      onInfo: (info) => this.store.update((s) => ({ ...s, connection: info })),
    };
    this.connection = new Connection(connectionOptions);
    this.parts = {
      store: this.store,
      rest: this.rest,
      connection: this.connection,
      report: (error, context) => this.report(error, context),
      syncs: this.syncs,
      stats: this.stats,
      eventListeners: this.eventListeners,
      options,
    };
  }

  // ---- connection ---------------------------------------------------------------------------

  /** Opens the WebSocket (idempotent). Watching a session connects too. */
  connect(): void {
    this.started = true;
    this.connection.start();
  }

  /** Closes the WebSocket for good (until `connect`). Running turns go on on the server. */
  disconnect(): void {
    this.started = false;
    this.connection.stop();
  }

  /** Connects now instead of waiting for the next backoff step. */
  reconnectNow(): void {
    this.connection.reconnectNow();
  }

  /** Listens to every live event of every watched session. */
  onEvent(listener: EventListener): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  // ---- sessions -----------------------------------------------------------------------------

  /** Keeps a session loaded and live while the returned function has not been called. */
  watchSession(sessionId: string): () => void {
    const sync = syncOf(this.parts, sessionId);
    sync.watchers++;
    if (sync.unwatchTimer !== null) {
      clearTimeout(sync.unwatchTimer);
      sync.unwatchTimer = null;
    }
    if (!this.started) this.connect();
    ensureView(this.store, sessionId);
    const view = sessionView(this.store, sessionId);
    if (!view?.state) void loadSnapshot(this.parts, sessionId);
    else subscribe(this.parts, sessionId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      releaseWatch(this.parts, sessionId);
    };
  }

  /** Fetches a session's snapshot (again). Never moves the state backwards. */
  refreshSession(sessionId: string): Promise<void> {
    ensureView(this.store, sessionId);
    return loadSnapshot(this.parts, sessionId);
  }

  async createSession(request: CreateSessionRequest = {}): Promise<SessionInfo> {
    try {
      const info = await this.rest.createSession(request);
      this.store.update((s) => ({
        ...s,
        sessions: { ...s.sessions, [info.sessionId]: { ...(s.sessions[info.sessionId] ?? emptySessionView(info.sessionId)), info } },
        sessionList: {
          ...s.sessionList,
          sessions: [info, ...s.sessionList.sessions.filter((x) => x.sessionId !== info.sessionId)],
        },
      }));
      return info;
    } catch (error) {
      throw this.report(error, { operation: 'createSession' });
    }
  }

  async renameSession(sessionId: string, name: string): Promise<SessionInfo> {
    try {
      const info = await this.rest.patchSession(sessionId, { name });
      applyInfo(this.store, info);
      return info;
    } catch (error) {
      throw this.report(error, { sessionId, operation: 'renameSession' });
    }
  }

  async deleteSession(sessionId: string): Promise<void> {
    try {
      await this.rest.deleteSession(sessionId);
    } catch (error) {
      throw this.report(error, { sessionId, operation: 'deleteSession' });
    }
    const sync = this.syncs.get(sessionId);
    if (sync) dropSync(this.parts, sessionId, sync);
    this.store.update((s) => {
      const { [sessionId]: _gone, ...sessions } = s.sessions;
      return {
        ...s,
        sessions,
        sessionList: { ...s.sessionList, sessions: s.sessionList.sessions.filter((x) => x.sessionId !== sessionId) },
      };
    });
  }

  /** Loads the first page of sessions (again). Concurrent calls share one request. */
  refreshSessions(): Promise<void> {
    if (!this.listRefresh) {
      this.listRefresh = this.loadSessionPage(null).finally(() => {
        this.listRefresh = null;
      });
    }
    return this.listRefresh;
  }

  /** Appends the next page of sessions, if there is one. */
  async loadMoreSessions(): Promise<void> {
    const cursor = this.store.getState().sessionList.nextCursor;
    if (cursor) await this.loadSessionPage(cursor);
  }

  /** Loads `GET /api/agents` into the store (`agents`), for pickers that show what each agent can
   * do (`capabilities`). */
  async loadAgents(): Promise<void> {
    try {
      const { agents, sandboxes } = await this.rest.listAgents();
      this.store.update((s) => ({ ...s, agents, sandboxProviders: sandboxes, agentsError: null }));
    } catch (error) {
      const err = this.report(error, { operation: 'listAgents' });
      this.store.update((s) => ({ ...s, agentsError: err }));
    }
  }

  async loadHealth(): Promise<void> {
    try {
      const health = await this.rest.health();
      this.store.update((s) => ({ ...s, health, healthError: null }));
    } catch (error) {
      const err = this.report(error, { operation: 'health' });
      this.store.update((s) => ({ ...s, healthError: err }));
    }
  }

  // ---- turns --------------------------------------------------------------------------------

  /** Sends a message. An optimistic copy shows at once and is replaced by the server's
   * `user_message` block carrying the same `clientMessageId`. Rejects when the server refuses
   * (the error is also on the session, and the copy is marked failed). */
  async sendMessage(sessionId: string, text: string, options: SendMessageOptions = {}): Promise<SendMessageResponse> {
    const clientMessageId = options.clientMessageId ?? newClientMessageId();
    const message: OptimisticMessage = {
      clientMessageId,
      text,
      status: 'sending',
      block: {
        type: 'user_message',
        id: `optimistic:${clientMessageId}`,
        at: new Date().toISOString(),
        text,
        clientMessageId,
      },
    };
    updateView(this.store, sessionId, (view) => ({
      ...view,
      pending: [...view.pending.filter((m) => m.clientMessageId !== clientMessageId), message],
      error: null,
    }));
    try {
      const response = await this.rest.sendMessage(sessionId, {
        text,
        ifBusy: options.ifBusy,
        clientMessageId,
      });
      updatePending(this.store, sessionId, clientMessageId, (m) => ({
        ...m,
        status: 'sent',
        turnId: response.turnId,
        queued: response.queued,
      }));
      return response;
    } catch (error) {
      const err = this.report(error, { sessionId, operation: 'sendMessage' });
      updatePending(this.store, sessionId, clientMessageId, (m) => ({ ...m, status: 'failed', error: err }));
      updateView(this.store, sessionId, (view) => ({ ...view, error: err }));
      throw err;
    }
  }

  /** Sends a failed message again (same text, a fresh client id). */
  retryMessage(sessionId: string, clientMessageId: string, options: SendMessageOptions = {}): Promise<SendMessageResponse> {
    const message = sessionView(this.store, sessionId)?.pending.find((m) => m.clientMessageId === clientMessageId);
    if (!message) return Promise.reject(new AgentRuntimeError('protocol', 'No such message', { code: 'not_found' }));
    this.discardMessage(sessionId, clientMessageId);
    return this.sendMessage(sessionId, message.text, options);
  }

  /** Forgets an optimistic message (a failed one the user dismissed). */
  discardMessage(sessionId: string, clientMessageId: string): void {
    updateView(this.store, sessionId, (view) => ({
      ...view,
      pending: view.pending.filter((m) => m.clientMessageId !== clientMessageId),
    }));
  }

  /** Asks the server to interrupt the running turn (the agent stops; the turn ends as
   * `interrupted`). Not the same as `disconnect`, which only stops listening. */
  async stop(sessionId: string): Promise<InterruptResponse> {
    updateView(this.store, sessionId, (view) => ({ ...view, stopping: Boolean(view.state?.runtime.activeTurnId) }));
    try {
      const response = await this.rest.interrupt(sessionId);
      if (!response.turnId) updateView(this.store, sessionId, (view) => ({ ...view, stopping: false }));
      return response;
    } catch (error) {
      const err = this.report(error, { sessionId, operation: 'stop' });
      updateView(this.store, sessionId, (view) => ({ ...view, stopping: false, error: err }));
      throw err;
    }
  }

  clearError(sessionId: string): void {
    updateView(this.store, sessionId, (view) => ({
      ...view,
      error: null,
      pending: view.pending.filter((m) => m.status !== 'failed'),
    }));
  }

  // ---- human in the loop (answers.ts) -------------------------------------------------------

  /** Answers a permission request. The request shows as resolved at once (optimistic); the
   * server's resolution replaces that guess, or it is rolled back when the server refuses.
   * Never rejects: `{ok: false}` carries the error, and for `already_resolved` the `winner`. */
  answerPermission(
    sessionId: string,
    requestId: string,
    answer: PermissionAnswer,
    options: AnswerOptions = {},
  ): Promise<ActionResult<PermissionResolution>> {
    return answerPermission(this.parts, sessionId, requestId, answer, options);
  }

  /** Answers a question request (every question, by its text), optimistically like
   * {@link answerPermission}. Never rejects. */
  answerQuestion(
    sessionId: string,
    requestId: string,
    answers: QuestionAnswers,
    options: AnswerOptions = {},
  ): Promise<ActionResult<QuestionResolution>> {
    return answerQuestion(this.parts, sessionId, requestId, answers, options);
  }

  /** Lets a session that reached its budget go on, once (`budget_approved` follows). Never
   * rejects; `budget_not_exceeded` when there was nothing to approve. */
  approveBudget(sessionId: string): Promise<ActionResult<BudgetApproval>> {
    return approveBudget(this.parts, sessionId);
  }

  /** Replaces the session's own budget (`settings_changed` follows; a budget above what was
   * spent lets held messages run). Never rejects. */
  setBudget(sessionId: string, budget: Budget): Promise<ActionResult<SessionInfo>> {
    return setBudget(this.parts, sessionId, budget);
  }

  // ---- files --------------------------------------------------------------------------------

  /** A workspace file's content, cached by its sha256: asking again for an unchanged file costs
   * nothing, a changed one is fetched once. */
  readFile(sessionId: string, path: string, sha256?: string | null): Promise<FileContent> {
    const key = fileKey(sessionId, path);
    const wanted = sha256 ?? sessionView(this.store, sessionId)?.state?.files.find((f) => f.path === path)?.sha256 ?? null;
    const cached = this.store.getState().files[key];
    if (cached?.content && wanted && cached.sha256 === wanted) return Promise.resolve(cached.content);
    const inflight = this.fileRequests.get(`${key}\n${wanted}`);
    if (inflight) return inflight;
    this.store.update((s) => ({
      ...s,
      files: { ...s.files, [key]: { sha256: wanted, loading: true, content: cached?.content ?? null, error: null } },
    }));
    const request = this.rest
      .readFile(sessionId, path)
      .then((content) => {
        this.store.update((s) => ({
          ...s,
          files: { ...s.files, [key]: { sha256: content.sha256 ?? wanted, loading: false, content, error: null } },
        }));
        return content;
      })
      .catch((error: unknown) => {
        const err = this.report(error, { sessionId, operation: 'readFile' });
        this.store.update((s) => ({
          ...s,
          files: { ...s.files, [key]: { sha256: wanted, loading: false, content: null, error: err } },
        }));
        throw err;
      })
      .finally(() => this.fileRequests.delete(`${key}\n${wanted}`));
    this.fileRequests.set(`${key}\n${wanted}`, request);
    return request;
  }

  /** Stops everything: the socket, timers, listeners. */
  dispose(): void {
    this.disconnect();
    for (const [sessionId, sync] of this.syncs) dropSync(this.parts, sessionId, sync);
    this.eventListeners.clear();
  }

  // ---- sync internals (the rest are in session-sync.ts) -------------------------------------

  private isWatched(sessionId: string): boolean {
    return this.syncs.has(sessionId);
  }

  private async loadSessionPage(cursor: string | null): Promise<void> {
    this.store.update((s) => ({ ...s, sessionList: { ...s.sessionList, loading: true } }));
    try {
      const page = await this.rest.listSessions({ cursor: cursor ?? undefined, limit: this.options.pageSize ?? 50 });
      this.store.update((s) => {
        const sessions = cursor ? [...s.sessionList.sessions, ...page.sessions] : page.sessions;
        const seen = new Set<string>();
        return {
          ...s,
          sessionList: {
            sessions: sessions.filter((x) => (seen.has(x.sessionId) ? false : (seen.add(x.sessionId), true))),
            nextCursor: page.nextCursor ?? null,
            loading: false,
            loaded: true,
            error: null,
          },
        };
      });
    } catch (error) {
      const err = this.report(error, { operation: 'listSessions' });
      this.store.update((s) => ({ ...s, sessionList: { ...s.sessionList, loading: false, error: err } }));
    }
  }

  // ---- helpers ------------------------------------------------------------------------------

  private report(error: unknown, context: { sessionId?: string; operation: string }): AgentRuntimeError {
    const err = AgentRuntimeError.from(error);
    this.options.onError?.(err, context);
    return err;
  }

  private webSocketUrl(): string {
    if (this.options.wsUrl) return webSocketEndpoint(this.options.wsUrl);
    const base = this.rest.baseUrl || pageOrigin();
    return `${base.replace(/^http/, 'ws')}/api/ws`;
  }
}

/** A WebSocket URL from what was configured: a full URL stays as it is; a bare origin (the seed's
 * `wsUrl: 'ws://localhost:3000'`) gets `/api/ws`; `http(s)` becomes `ws(s)`. */
export function webSocketEndpoint(configured: string): string {
  const url = configured.replace(/^http/, 'ws');
  const match = /^(wss?:\/\/[^/?#]+)\/?([?#].*)?$/.exec(url);
  return match ? `${match[1]}/api/ws${match[2] ?? ''}` : url;
}

function pageOrigin(): string {
  const location = (globalThis as { location?: { origin?: string } }).location;
  return location?.origin && location.origin !== 'null' ? location.origin : 'http://localhost';
}

/** A random id for an optimistic message. */
export function newClientMessageId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (crypto?.randomUUID) return crypto.randomUUID();
  return `m-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}