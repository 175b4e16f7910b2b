// `AgentClient`: the REST client, the WebSocket and the store, tied together. Framework-free; the
// React hooks are thin selectors over it.
//
// How a session stays in sync (and why nothing is lost or doubled):
// 1. The first time a session is watched, its snapshot is fetched over REST: state at seq N.
// 2. Then `subscribe {since: N}` on the WebSocket: the server replays N+1.. and goes live.
// 3. Every event is folded only if its seq is exactly the state's seq + 1. A lower seq is a
//    duplicate (dropped); a higher one is a gap: the client resubscribes from its seq.
// 4. After a reconnect every watched session resubscribes from its own seq, so a drop in the
//    middle of a stream costs nothing but the wait.
// 5. `resync_required` (the client fell too far behind): fetch the snapshot again, then
//    subscribe from its seq. The new state reuses every unchanged block object.
//
// Commands that change things (send, stop, create, ...) go over REST: each gets a definite answer
// even while the socket reconnects, and the events they cause arrive over the socket.

import {
  latestRecord,
  optimisticPermission,
  optimisticQuestion,
  reconcileLocalAnswers,
  withLocalAnswer,
  type LocalAnswer,
  type LocalAnswers,
  type PermissionAnswer,
  type QuestionAnswers,
} from './approvals.js';
import {
  Connection,
  type CommandFrame,
  type ConnectionOptions,
  type EnvironmentHooks,
  type HeartbeatOptions,
  type ReconnectOptions,
  type WebSocketFactory,
} from './connection.js';
import { AgentRuntimeError, toActionResult, type ActionResult } from './errors.js';
import { fold } from './fold.js';
import type {
  AnswerPermissionRequest,
  Budget,
  BudgetApproval,
  CreateSessionRequest,
  Envelope,
  IfBusy,
  InterruptResponse,
  PermissionResolution,
  QuestionResolution,
  SendMessageResponse,
  ServerFrame,
  SessionInfo,
  SessionSnapshot,
  SessionState,
} from './generated/protocol.js';
import { reconcileState } from './reconcile.js';
import { RestClient, type FileContent, type TokenGetter } from './rest.js';
import {
  emptySessionView,
  fileKey,
  initialClientState,
  type ClientState,
  type OptimisticMessage,
  type SessionView,
} from './state.js';
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

/** How an answer travels: over REST (default; answered even while the socket reconnects) or as a
 * WebSocket command. */
export interface AnswerOptions {
  via?: 'rest' | 'socket';
}

export interface SendMessageOptions {
  /** What the server does when a turn already runs. Default `reject` (the send fails with
   * `session_busy`); `queue` runs it next; `interrupt` stops the running turn first. */
  ifBusy?: IfBusy;
  /** Your own id for the optimistic copy; generated when absent. */
  clientMessageId?: string;
}

/** Counters for tests and diagnostics. */
export interface SyncStats {
  /** Events dropped because their seq was already folded. */
  duplicates: number;
  /** Times a gap in seq made the client resubscribe. */
  gaps: number;
  /** Snapshots fetched after `resync_required`. */
  resyncs: number;
  /** Subscribe commands sent. */
  subscribes: number;
}

interface SessionSync {
  watchers: number;
  unwatchTimer: ReturnType<typeof setTimeout> | null;
  /** The socket subscription exists (a subscribe was sent on the current connection). */
  subscribed: boolean;
  /** A subscribe is in flight: gaps wait for its replay instead of resubscribing again. */
  subscribing: boolean;
  /** A snapshot is being fetched. */
  loading: Promise<void> | null;
  retryTimer: ReturnType<typeof setTimeout> | null;
  retries: number;
}

type EventListener = (envelope: Envelope) => void;

/** The resolution type of a view's local answers. */
type ResolutionOf<K extends 'permissionAnswers' | 'questionAnswers'> = K extends 'permissionAnswers'
  ? PermissionResolution
  : QuestionResolution;

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
      onFrame: (frame) => this.handleFrame(frame),
      onOpen: () => this.handleOpen(),
      onClose: () => this.handleClose(),
      onInfo: (info) => this.store.update((s) => ({ ...s, connection: info })),
    };
    this.connection = new Connection(connectionOptions);
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
    const sync = this.sync(sessionId);
    sync.watchers++;
    if (sync.unwatchTimer !== null) {
      clearTimeout(sync.unwatchTimer);
      sync.unwatchTimer = null;
    }
    if (!this.started) this.connect();
    this.ensureView(sessionId);
    const view = this.view(sessionId);
    if (!view?.state) void this.loadSnapshot(sessionId);
    else this.subscribe(sessionId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.releaseWatch(sessionId);
    };
  }

  /** Fetches a session's snapshot (again). Never moves the state backwards. */
  refreshSession(sessionId: string): Promise<void> {
    this.ensureView(sessionId);
    return this.loadSnapshot(sessionId);
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
      this.applyInfo(info);
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
    if (sync) this.dropSync(sessionId, sync);
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
      const { agents } = await this.rest.listAgents();
      this.store.update((s) => ({ ...s, agents, agentsError: null }));
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
    this.updateView(sessionId, (view) => ({
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
      this.updatePending(sessionId, clientMessageId, (m) => ({
        ...m,
        status: 'sent',
        turnId: response.turnId,
        queued: response.queued,
      }));
      return response;
    } catch (error) {
      const err = this.report(error, { sessionId, operation: 'sendMessage' });
      this.updatePending(sessionId, clientMessageId, (m) => ({ ...m, status: 'failed', error: err }));
      this.updateView(sessionId, (view) => ({ ...view, error: err }));
      throw err;
    }
  }

  /** Sends a failed message again (same text, a fresh client id). */
  retryMessage(sessionId: string, clientMessageId: string, options: SendMessageOptions = {}): Promise<SendMessageResponse> {
    const message = this.view(sessionId)?.pending.find((m) => m.clientMessageId === clientMessageId);
    if (!message) return Promise.reject(new AgentRuntimeError('protocol', 'No such message', { code: 'not_found' }));
    this.discardMessage(sessionId, clientMessageId);
    return this.sendMessage(sessionId, message.text, options);
  }

  /** Forgets an optimistic message (a failed one the user dismissed). */
  discardMessage(sessionId: string, clientMessageId: string): void {
    this.updateView(sessionId, (view) => ({
      ...view,
      pending: view.pending.filter((m) => m.clientMessageId !== clientMessageId),
    }));
  }

  /** Asks the server to interrupt the running turn (the agent stops; the turn ends as
   * `interrupted`). Not the same as `disconnect`, which only stops listening. */
  async stop(sessionId: string): Promise<InterruptResponse> {
    this.updateView(sessionId, (view) => ({ ...view, stopping: Boolean(view.state?.runtime.activeTurnId) }));
    try {
      const response = await this.rest.interrupt(sessionId);
      if (!response.turnId) this.updateView(sessionId, (view) => ({ ...view, stopping: false }));
      return response;
    } catch (error) {
      const err = this.report(error, { sessionId, operation: 'stop' });
      this.updateView(sessionId, (view) => ({ ...view, stopping: false, error: err }));
      throw err;
    }
  }

  clearError(sessionId: string): void {
    this.updateView(sessionId, (view) => ({
      ...view,
      error: null,
      pending: view.pending.filter((m) => m.status !== 'failed'),
    }));
  }

  // ---- human in the loop --------------------------------------------------------------------

  /** Answers a permission request. The request shows as resolved at once (optimistic); the
   * server's resolution replaces that guess, or it is rolled back when the server refuses.
   * Never rejects: `{ok: false}` carries the error, and for `already_resolved` the `winner`. */
  async answerPermission(
    sessionId: string,
    requestId: string,
    answer: PermissionAnswer,
    options: AnswerOptions = {},
  ): Promise<ActionResult<PermissionResolution>> {
    const record = latestRecord(this.view(sessionId)?.state?.permissions, requestId);
    const guess = optimisticPermission(record, requestId, answer, new Date().toISOString());
    this.setLocalAnswer(sessionId, 'permissionAnswers', requestId, { resolution: guess, confirmed: false });
    const body: AnswerPermissionRequest = {
      decision: answer.decision,
      remember: Boolean(answer.remember),
      saveToProfile: Boolean(answer.saveToProfile),
      ...(answer.message ? { message: answer.message } : {}),
      ...(answer.optionId ? { optionId: answer.optionId } : {}),
    };
    const result = await toActionResult(() =>
      options.via === 'socket'
        ? this.socketCommand<PermissionResolution>({ type: 'answer_permission', sessionId, requestId, ...body })
        : this.rest.answerPermission(sessionId, requestId, body),
    );
    this.settleLocalAnswer(sessionId, 'permissionAnswers', requestId, result, 'answerPermission');
    return result;
  }

  /** Answers a question request (every question, by its text), optimistically like
   * {@link answerPermission}. Never rejects. */
  async answerQuestion(
    sessionId: string,
    requestId: string,
    answers: QuestionAnswers,
    options: AnswerOptions = {},
  ): Promise<ActionResult<QuestionResolution>> {
    const guess = optimisticQuestion(requestId, answers, new Date().toISOString());
    this.setLocalAnswer(sessionId, 'questionAnswers', requestId, { resolution: guess, confirmed: false });
    const result = await toActionResult(() =>
      options.via === 'socket'
        ? this.socketCommand<QuestionResolution>({ type: 'answer_question', sessionId, requestId, answers })
        : this.rest.answerQuestion(sessionId, requestId, { answers }),
    );
    this.settleLocalAnswer(sessionId, 'questionAnswers', requestId, result, 'answerQuestion');
    return result;
  }

  /** Lets a session that reached its budget go on, once (`budget_approved` follows). Never
   * rejects; `budget_not_exceeded` when there was nothing to approve. */
  async approveBudget(sessionId: string): Promise<ActionResult<BudgetApproval>> {
    const result = await toActionResult(() => this.rest.approveBudget(sessionId));
    if (!result.ok) this.report(result.error, { sessionId, operation: 'approveBudget' });
    return result;
  }

  /** Replaces the session's own budget (`settings_changed` follows; a budget above what was
   * spent lets held messages run). Never rejects. */
  async setBudget(sessionId: string, budget: Budget): Promise<ActionResult<SessionInfo>> {
    const result = await toActionResult(() => this.rest.patchSession(sessionId, { budget }));
    if (result.ok) this.applyInfo(result.data);
    else this.report(result.error, { sessionId, operation: 'setBudget' });
    return result;
  }

  // ---- files --------------------------------------------------------------------------------

  /** A workspace file's content, cached by its sha256: asking again for an unchanged file costs
   * nothing, a changed one is fetched once. */
  readFile(sessionId: string, path: string, sha256?: string | null): Promise<FileContent> {
    const key = fileKey(sessionId, path);
    const wanted = sha256 ?? this.view(sessionId)?.state?.files.find((f) => f.path === path)?.sha256 ?? null;
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
    for (const [sessionId, sync] of this.syncs) this.dropSync(sessionId, sync);
    this.eventListeners.clear();
  }

  // ---- sync internals -----------------------------------------------------------------------

  private sync(sessionId: string): SessionSync {
    let sync = this.syncs.get(sessionId);
    if (!sync) {
      sync = {
        watchers: 0,
        unwatchTimer: null,
        subscribed: false,
        subscribing: false,
        loading: null,
        retryTimer: null,
        retries: 0,
      };
      this.syncs.set(sessionId, sync);
    }
    return sync;
  }

  private releaseWatch(sessionId: string): void {
    const sync = this.syncs.get(sessionId);
    if (!sync) return;
    sync.watchers = Math.max(0, sync.watchers - 1);
    if (sync.watchers > 0) return;
    // Linger a little: a component that remounts (StrictMode, route change) keeps the stream.
    sync.unwatchTimer = setTimeout(() => {
      sync.unwatchTimer = null;
      if (sync.watchers === 0) this.dropSync(sessionId, sync);
    }, this.options.unwatchDelayMs ?? 2000);
  }

  private dropSync(sessionId: string, sync: SessionSync): void {
    if (sync.unwatchTimer !== null) clearTimeout(sync.unwatchTimer);
    if (sync.retryTimer !== null) clearTimeout(sync.retryTimer);
    if (sync.subscribed) this.connection.send({ type: 'unsubscribe', sessionId });
    this.syncs.delete(sessionId);
    this.updateView(sessionId, (view) => (view.live ? { ...view, live: false } : view));
  }

  private isWatched(sessionId: string): boolean {
    return this.syncs.has(sessionId);
  }

  /** Fetches the snapshot and folds it in (if newer), then subscribes from its seq. */
  private loadSnapshot(sessionId: string): Promise<void> {
    const sync = this.syncs.get(sessionId);
    if (sync?.loading) return sync.loading;
    this.updateView(sessionId, (view) => (view.state ? view : { ...view, loading: true }));
    const loading = this.rest
      .getSession(sessionId)
      .then((snapshot) => {
        this.applySnapshot(sessionId, snapshot);
        if (sync) sync.retries = 0;
      })
      .catch((error: unknown) => {
        const err = this.report(error, { sessionId, operation: 'loadSession' });
        this.updateView(sessionId, (view) => ({ ...view, loading: false, error: err }));
        if (sync && this.syncs.get(sessionId) === sync && err.code !== 'session_not_found') {
          this.retryLater(sessionId, sync, () => void this.loadSnapshot(sessionId));
        }
      })
      .finally(() => {
        if (sync) sync.loading = null;
      });
    if (sync) sync.loading = loading;
    return loading.then(() => {
      if (sync && this.syncs.get(sessionId) === sync && this.view(sessionId)?.state) this.subscribe(sessionId);
    });
  }

  private applySnapshot(sessionId: string, snapshot: SessionSnapshot): void {
    const { session: info, ...state } = snapshot;
    this.updateView(sessionId, (view) => {
      const current = view.state;
      // A snapshot older than what the socket already delivered must not move us back.
      const next: SessionState = current && current.seq > state.seq ? current : reconcileState(current, state);
      const echoed = echoedIds(next);
      return {
        ...reconcileLocalAnswers(view, next),
        info,
        state: next,
        loading: false,
        error: view.error?.code === 'session_not_found' ? null : view.error,
        pending: view.pending.filter((m) => !echoed.has(m.clientMessageId)),
      };
    });
    this.applyInfo(info);
  }

  /** Subscribes from the state's seq, if the socket is open and no subscribe is in flight. */
  private subscribe(sessionId: string): void {
    const sync = this.syncs.get(sessionId);
    const since = this.view(sessionId)?.state?.seq;
    if (!sync || since === undefined || sync.subscribing || !this.connection.isOpen) return;
    sync.subscribing = true;
    sync.subscribed = true;
    this.stats.subscribes++;
    this.connection
      .command({ type: 'subscribe', sessionId, since })
      .then((result) => {
        if (this.syncs.get(sessionId) !== sync) return;
        sync.subscribing = false;
        if (result.ok) {
          sync.retries = 0;
          this.updateView(sessionId, (view) => (view.live ? view : { ...view, live: true }));
          return;
        }
        sync.subscribed = false;
        const err = result.error
          ? AgentRuntimeError.fromProblem(result.error)
          : new AgentRuntimeError('protocol', 'subscribe failed', { code: 'protocol_error' });
        this.report(err, { sessionId, operation: 'subscribe' });
        this.updateView(sessionId, (view) => ({ ...view, live: false, error: err }));
        if (err.code !== 'session_not_found') this.retryLater(sessionId, sync, () => this.subscribe(sessionId));
      })
      .catch(() => {
        // The connection closed under the command; `handleOpen` subscribes again.
        if (this.syncs.get(sessionId) === sync) {
          sync.subscribing = false;
          sync.subscribed = false;
        }
      });
  }

  private retryLater(sessionId: string, sync: SessionSync, action: () => void): void {
    if (sync.retryTimer !== null) return;
    sync.retries++;
    const delay = Math.min(30_000, 1000 * 2 ** Math.min(sync.retries - 1, 5));
    sync.retryTimer = setTimeout(() => {
      sync.retryTimer = null;
      if (this.syncs.get(sessionId) === sync) action();
    }, delay);
  }

  private handleOpen(): void {
    for (const [sessionId, sync] of this.syncs) {
      sync.subscribed = false;
      sync.subscribing = false;
      if (this.view(sessionId)?.state) this.subscribe(sessionId);
      else if (!sync.loading) void this.loadSnapshot(sessionId);
    }
  }

  private handleClose(): void {
    for (const sync of this.syncs.values()) {
      sync.subscribed = false;
      sync.subscribing = false;
    }
    this.store.update((s) => {
      let changed = false;
      const sessions: Record<string, SessionView> = {};
      for (const [id, view] of Object.entries(s.sessions)) {
        sessions[id] = view.live ? ((changed = true), { ...view, live: false }) : view;
      }
      return changed ? { ...s, sessions } : s;
    });
  }

  private handleFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'event':
        this.handleEnvelope(frame.envelope);
        break;
      case 'resync_required':
        this.handleResync(frame.sessionId);
        break;
      case 'result':
        // A result nobody waits for (its command timed out): nothing to do.
        break;
    }
  }

  private handleEnvelope(envelope: Envelope): void {
    const { sessionId, seq } = envelope;
    const sync = this.syncs.get(sessionId);
    const view = this.view(sessionId);
    if (!sync || !view?.state) return;
    const current = view.state.seq;
    if (seq <= current) {
      this.stats.duplicates++;
      return;
    }
    if (seq > current + 1) {
      // Something between was missed: ask again from what we have. Until that subscription's
      // replay arrives, later events are dropped (they will be replayed).
      this.stats.gaps++;
      if (!sync.subscribing) {
        sync.subscribed = false;
        this.subscribe(sessionId);
      }
      return;
    }
    this.updateView(sessionId, (v) => applyEnvelope(v, envelope, this.options.eventBufferSize ?? 500));
    const after = this.view(sessionId);
    if (envelope.event.type === 'turn_completed' && envelope.event.reason === 'error' && after?.error) {
      this.report(after.error, { sessionId, operation: 'turn' });
    }
    for (const listener of Array.from(this.eventListeners)) {
      try {
        listener(envelope);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  private handleResync(sessionId: string): void {
    const sync = this.syncs.get(sessionId);
    if (!sync) return;
    this.stats.resyncs++;
    sync.subscribed = false;
    sync.subscribing = false;
    this.updateView(sessionId, (view) => ({ ...view, live: false }));
    void this.loadSnapshot(sessionId);
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

  // ---- store helpers ------------------------------------------------------------------------

  private view(sessionId: string): SessionView | undefined {
    return this.store.getState().sessions[sessionId];
  }

  private ensureView(sessionId: string): void {
    if (this.view(sessionId)) return;
    const listed = this.store.getState().sessionList.sessions.find((x) => x.sessionId === sessionId) ?? null;
    this.store.update((s) => ({
      ...s,
      sessions: { ...s.sessions, [sessionId]: { ...emptySessionView(sessionId), info: listed } },
    }));
  }

  private updateView(sessionId: string, change: (view: SessionView) => SessionView): void {
    this.store.update((s) => {
      const view = s.sessions[sessionId] ?? emptySessionView(sessionId);
      const next = change(view);
      if (next === view && s.sessions[sessionId]) return s;
      return { ...s, sessions: { ...s.sessions, [sessionId]: next } };
    });
  }

  private updatePending(sessionId: string, clientMessageId: string, change: (m: OptimisticMessage) => OptimisticMessage): void {
    this.updateView(sessionId, (view) => {
      if (!view.pending.some((m) => m.clientMessageId === clientMessageId)) return view;
      return {
        ...view,
        pending: view.pending.map((m) => (m.clientMessageId === clientMessageId ? change(m) : m)),
      };
    });
  }

  /** Sets (or, with null, drops) this client's answer to a request; an answer to a request the
   * state has already resolved is dropped, since the state's word wins. */
  private setLocalAnswer<K extends 'permissionAnswers' | 'questionAnswers'>(
    sessionId: string,
    key: K,
    requestId: string,
    answer: SessionView[K][string] | null,
  ): void {
    this.updateView(sessionId, (view) => {
      const records: readonly { requestId: string; resolution?: unknown }[] | undefined =
        key === 'permissionAnswers' ? view.state?.permissions : view.state?.questions;
      const keep = answer !== null && !latestRecord(records, requestId)?.resolution;
      const answers = view[key] as LocalAnswers<ResolutionOf<K>>;
      const next = withLocalAnswer(answers, requestId, keep ? (answer as LocalAnswer<ResolutionOf<K>>) : null);
      return next === answers ? view : { ...view, [key]: next };
    });
  }

  /** After the server answered: its resolution (or, when another answer won, the winner) stands
   * in until the event arrives; any other failure rolls the optimistic answer back. */
  private settleLocalAnswer<K extends 'permissionAnswers' | 'questionAnswers'>(
    sessionId: string,
    key: K,
    requestId: string,
    result: ActionResult<ResolutionOf<K>>,
    operation: string,
  ): void {
    type Answer = SessionView[K][string];
    if (result.ok) {
      this.setLocalAnswer(sessionId, key, requestId, { resolution: result.data, confirmed: true } as Answer);
      return;
    }
    this.setLocalAnswer(sessionId, key, requestId, result.winner ? ({ resolution: result.winner, confirmed: true } as Answer) : null);
    this.report(result.error, { sessionId, operation });
  }

  /** Sends a WebSocket command and resolves with its result's data; rejects with its problem. */
  private async socketCommand<T>(frame: CommandFrame): Promise<T> {
    const result = await this.connection.command(frame);
    if (result.ok) return result.data as T;
    throw result.error
      ? AgentRuntimeError.fromProblem(result.error)
      : new AgentRuntimeError('protocol', `${frame.type} failed`, { code: 'protocol_error' });
  }

  private applyInfo(info: SessionInfo): void {
    this.store.update((s) => {
      const view = s.sessions[info.sessionId];
      const listIndex = s.sessionList.sessions.findIndex((x) => x.sessionId === info.sessionId);
      const sameInView = !view || sameInfo(view.info, info);
      const sameInList = listIndex < 0 || sameInfo(s.sessionList.sessions[listIndex] ?? null, info);
      if (sameInView && sameInList) return s;
      const sessions = sameInView || !view ? s.sessions : { ...s.sessions, [info.sessionId]: { ...view, info } };
      let sessionList = s.sessionList;
      if (!sameInList) {
        const list = s.sessionList.sessions.slice();
        list[listIndex] = info;
        sessionList = { ...s.sessionList, sessions: list };
      }
      return { ...s, sessions, sessionList };
    });
  }

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

/** Folds one envelope into a session view and updates what follows from it. */
export function applyEnvelope(view: SessionView, envelope: Envelope, eventBufferSize: number): SessionView {
  const state = fold(view.state as SessionState, envelope);
  const event = envelope.event;
  let { pending, lastTurn, error, stopping } = view;
  if ((event.type === 'block_start' || event.type === 'block_complete') && event.block.type === 'user_message') {
    const id = event.block.clientMessageId;
    if (id && pending.some((m) => m.clientMessageId === id)) pending = pending.filter((m) => m.clientMessageId !== id);
  } else if (event.type === 'turn_started') {
    if (error?.kind === 'turn') error = null;
  } else if (event.type === 'turn_completed') {
    lastTurn = {
      turnId: event.turnId,
      reason: event.reason,
      usage: event.usage,
      costUsd: event.costUsd,
      durationMs: event.durationMs,
      ...(event.error ? { error: event.error } : {}),
    };
    if (event.reason === 'error') error = AgentRuntimeError.fromTurn(event.turnId, event.error);
    if (!state.runtime.activeTurnId) stopping = false;
  }
  const events =
    eventBufferSize <= 0
      ? view.events
      : view.events.length >= eventBufferSize
        ? [...view.events.slice(view.events.length - eventBufferSize + 1), envelope]
        : [...view.events, envelope];
  return { ...reconcileLocalAnswers(view, state), state, pending, lastTurn, error, stopping, events };
}

function echoedIds(state: SessionState): Set<string> {
  const ids = new Set<string>();
  for (const block of state.blocks) {
    if (block.type === 'user_message' && block.clientMessageId) ids.add(block.clientMessageId);
  }
  return ids;
}

function sameInfo(a: SessionInfo | null, b: SessionInfo): boolean {
  return (
    a !== null &&
    a.sessionId === b.sessionId &&
    a.name === b.name &&
    a.agent === b.agent &&
    a.profile === b.profile &&
    a.createdAt === b.createdAt &&
    a.updatedAt === b.updatedAt &&
    a.status === b.status
  );
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
