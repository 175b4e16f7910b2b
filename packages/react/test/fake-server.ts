// An in-memory agent-runtime for the client tests: the REST routes the client uses (as a `fetch`)
// and the WebSocket protocol (as a `createSocket`), over one event log per session folded with the
// package's own fold. Tests drive the "agent" by appending events, and inject faults: dropped
// connections, duplicated replays, skipped events, `resync_required`, refused connections.

import { foldAll } from '../src/fold.js';
import type { WebSocketLike } from '../src/connection.js';
import type {
  AgentList,
  Block,
  ClientFrame,
  Envelope,
  FileInfo,
  Health,
  PermissionRequest,
  PermissionResolution,
  Problem,
  QuestionAnswer,
  QuestionRequest,
  QuestionResolution,
  ServerFrame,
  SessionEvent,
  SessionInfo,
  SessionSnapshot,
} from '../src/generated/protocol.js';

const AT = '2026-01-01T00:00:00.000Z';

interface FakeSession {
  info: SessionInfo;
  log: Envelope[];
  files: Map<string, string>;
  activeTurn: string | null;
}

export interface Faults {
  /** Replays start this many events before `since` (the client must drop them). */
  replayOverlap: number;
  /** Live events with these seqs are not sent (the client must notice the gap). */
  skipLive: Set<number>;
  /** Refuse this many connection attempts (the socket closes before opening). */
  refuseConnections: number;
  /** Hold every frame to the client until `release()` (a slow network). */
  hold: boolean;
}

export class FakeServer {
  readonly sessions = new Map<string, FakeSession>();
  readonly sockets = new Set<FakeSocket>();
  /** Every frame clients sent, in order. */
  readonly received: ClientFrame[] = [];
  /** Every REST request, as `METHOD path`. */
  readonly requests: string[] = [];
  /** The JSON body of every REST request that had one, as `METHOD path`, body. */
  readonly bodies: { request: string; body: unknown }[] = [];
  /** Every URL a socket was opened with. */
  readonly socketUrls: string[] = [];
  faults: Faults = { replayOverlap: 0, skipLive: new Set(), refuseConnections: 0, hold: false };
  /** When set, REST and WebSocket require this key. */
  apiKey: string | null = null;
  /** Requests whose answers the server refuses as expired (410). */
  readonly expired = new Set<string>();
  /** While set, answers to permission requests and questions wait for it (a slow server). */
  answerGate: Promise<void> | null = null;
  private nextId = 1;

  /** What `GET /healthz` answers. */
  static readonly health: Health = {
    status: 'ok',
    version: 'test',
    demo: true,
    sandbox: [
      { name: 'network', enforced: true, by: ['network namespace', 'egress proxy'], default: 'allowlist' },
      { name: 'memory', enforced: false, by: [], note: 'no memory cgroup controller' },
    ],
    store: { backend: 'memory', ok: true, latencyMs: 0.1 },
  };

  // ---- driving the agent -------------------------------------------------------------------

  createSession(name?: string): string {
    const sessionId = `s${this.nextId++}`;
    const info: SessionInfo = { sessionId, agent: 'claude-code', createdAt: AT, updatedAt: AT, status: 'idle', ...(name ? { name } : {}) };
    this.sessions.set(sessionId, { info, log: [], files: new Map(), activeTurn: null });
    this.append(sessionId, [{ type: 'metadata_update', metadata: { agentSessionId: 'agent-1', demo: true } }]);
    return sessionId;
  }

  /** Appends events to a session's log and sends them to its live subscribers. */
  append(sessionId: string, events: SessionEvent[]): Envelope[] {
    const session = this.session(sessionId);
    const envelopes = events.map((event) => {
      const envelope: Envelope = { sessionId, seq: session.log.length + 1, at: AT, event };
      session.log.push(envelope);
      if (event.type === 'turn_started') session.activeTurn = event.turnId;
      if (event.type === 'turn_completed' && session.activeTurn === event.turnId) session.activeTurn = null;
      return envelope;
    });
    for (const envelope of envelopes) {
      if (this.faults.skipLive.has(envelope.seq)) continue;
      for (const socket of this.sockets) {
        if (socket.subscriptions.has(sessionId)) socket.deliver({ type: 'event', envelope });
      }
    }
    return envelopes;
  }

  /** Starts a turn as the runtime does when a message arrives. */
  startTurn(sessionId: string, text: string, clientMessageId?: string): string {
    const turnId = `turn-${this.nextId++}`;
    const user: Block = {
      type: 'user_message',
      id: `user-${this.nextId++}`,
      at: AT,
      text,
      ...(clientMessageId ? { clientMessageId } : {}),
    };
    this.append(sessionId, [
      { type: 'turn_started', turnId, userBlockId: user.id },
      { type: 'block_start', conversationId: 'main', block: user },
      { type: 'block_complete', conversationId: 'main', blockId: user.id, block: user },
    ]);
    return turnId;
  }

  /** The events of an assistant text block streamed in `chunks`. */
  static textBlock(id: string, text: string, chunks: number): SessionEvent[] {
    const size = Math.ceil(text.length / chunks);
    const deltas: SessionEvent[] = [];
    for (let i = 0; i < text.length; i += size) {
      deltas.push({ type: 'text_delta', conversationId: 'main', blockId: id, delta: text.slice(i, i + size) });
    }
    const block: Block = { type: 'assistant_text', id, at: AT, text };
    return [
      { type: 'block_start', conversationId: 'main', block: { ...block, text: '' } },
      ...deltas,
      { type: 'block_complete', conversationId: 'main', blockId: id, block },
    ];
  }

  completeTurn(sessionId: string, reason: 'completed' | 'interrupted' | 'error' = 'completed', error?: { message: string; code?: string }): void {
    const session = this.session(sessionId);
    const turnId = session.activeTurn;
    if (!turnId) throw new Error('no active turn');
    this.append(sessionId, [
      {
        type: 'turn_completed',
        turnId,
        reason,
        usage: { inputTokens: 10, outputTokens: 5, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
        costUsd: 0.01,
        durationMs: 1200,
        ...(error ? { error } : {}),
      },
    ]);
  }

  /** The agent asks for permission to run `tool`; returns the request id. */
  requestPermission(sessionId: string, tool = 'Bash', input: PermissionRequest['input'] = { command: 'touch a' }, extra: Partial<PermissionRequest> = {}): string {
    const requestId = `perm-${this.nextId++}`;
    const rule = `${tool}(${typeof input === 'object' && input && 'command' in input ? String(input.command) : '*'})`;
    this.append(sessionId, [
      {
        type: 'permission_requested',
        requestId,
        tool,
        input,
        options: [
          { id: 'allow_once', kind: 'allow_once', label: 'Allow once' },
          { id: 'allow_always', kind: 'allow_always', label: 'Allow always', rule },
          { id: 'deny', kind: 'deny', label: 'Deny' },
        ],
        expiresAt: '2026-01-01T00:30:00Z',
        ...extra,
      },
    ]);
    return requestId;
  }

  /** The agent asks questions; returns the request id. */
  askQuestions(sessionId: string, questions: QuestionRequest['questions']): string {
    const requestId = `q-${this.nextId++}`;
    this.append(sessionId, [{ type: 'question_requested', requestId, questions, expiresAt: '2026-01-01T00:30:00Z' }]);
    return requestId;
  }

  /** Closes a permission request as the runtime would (a timeout, say). */
  resolvePermission(sessionId: string, resolution: PermissionResolution): void {
    this.append(sessionId, [{ type: 'permission_resolved', ...resolution }]);
  }

  writeFile(sessionId: string, path: string, content: string): void {
    const session = this.session(sessionId);
    const existed = session.files.has(path);
    session.files.set(path, content);
    const info: FileInfo = { path, size: content.length, sha256: fakeHash(content) };
    this.append(sessionId, [{ type: existed ? 'file_modified' : 'file_created', ...info }]);
  }

  snapshot(sessionId: string): SessionSnapshot {
    const session = this.session(sessionId);
    const state = foldAll(session.log);
    return { session: { ...session.info, status: state.status }, ...state };
  }

  /** What the agents list answers. */
  static readonly agents: AgentList = {
    agents: [
      {
        id: 'claude-code',
        name: 'Claude Code',
        protocol: 'native',
        npmPackage: '@anthropic-ai/claude-code',
        version: '2.1.328',
        installed: true,
        capabilities: {
          approvals: true,
          questions: true,
          permissionModes: ['bypass', 'default', 'acceptEdits', 'plan'],
          resume: true,
          thinking: true,
          images: false,
          plan: false,
        },
      },
      {
        id: 'gemini-cli',
        name: 'Gemini CLI',
        protocol: 'native',
        npmPackage: '@google/gemini-cli',
        version: '0.1.0',
        installed: false,
        capabilities: {
          approvals: false,
          questions: false,
          permissionModes: ['bypass', 'plan'],
          resume: true,
          thinking: false,
          images: false,
          plan: false,
        },
      },
    ],
    sandboxes: [
      { kind: 'modal', default: true, description: 'Modal app agent-runtime' },
      { kind: 'local', default: false, description: 'bubblewrap on this host' },
    ],
  };

  // ---- answers (shared by REST and WebSocket) ---------------------------------------------------

  private async answerPermission(sessionId: string, requestId: string, body: Record<string, unknown>): Promise<Answer<PermissionResolution>> {
    if (this.answerGate) await this.answerGate;
    const record = foldAll(this.session(sessionId).log).permissions?.filter((r) => r.requestId === requestId).at(-1);
    if (!record) return { ok: false, status: 404, code: 'request_not_found' };
    if (record.resolution) return { ok: false, status: 409, code: 'already_resolved', resolution: record.resolution };
    if (this.expired.has(requestId)) return { ok: false, status: 410, code: 'request_expired' };
    if (body.decision !== 'allow' && body.decision !== 'deny') return { ok: false, status: 400, code: 'invalid_request' };
    const remember = body.remember === true && body.decision === 'allow';
    const rule = remember ? record.options.find((o) => o.kind === 'allow_always')?.rule : undefined;
    const resolution: PermissionResolution = {
      requestId,
      decision: body.decision,
      remember,
      by: 'user',
      at: AT,
      ...(typeof body.optionId === 'string' ? { optionId: body.optionId } : {}),
      ...(rule ? { rule } : {}),
      ...(typeof body.message === 'string' ? { message: body.message } : {}),
    };
    this.append(sessionId, [{ type: 'permission_resolved', ...resolution }]);
    return { ok: true, data: resolution };
  }

  private async answerQuestion(sessionId: string, requestId: string, body: Record<string, unknown>): Promise<Answer<QuestionResolution>> {
    if (this.answerGate) await this.answerGate;
    const record = foldAll(this.session(sessionId).log).questions?.filter((r) => r.requestId === requestId).at(-1);
    if (!record) return { ok: false, status: 404, code: 'request_not_found' };
    if (record.resolution) return { ok: false, status: 409, code: 'already_resolved', resolution: record.resolution };
    if (this.expired.has(requestId)) return { ok: false, status: 410, code: 'request_expired' };
    const answers = (body.answers ?? {}) as Record<string, QuestionAnswer>;
    if (!record.questions.every((q) => q.question in answers)) return { ok: false, status: 400, code: 'invalid_request' };
    const resolution: QuestionResolution = { requestId, answers, by: 'user', at: AT };
    this.append(sessionId, [{ type: 'question_resolved', ...resolution }]);
    return { ok: true, data: resolution };
  }

  // ---- faults ------------------------------------------------------------------------------

  /** Every socket drops as a network failure would (close code 1006). */
  dropConnections(): void {
    for (const socket of Array.from(this.sockets)) socket.serverClose(1006, '');
  }

  /** Tells subscribers of a session they fell behind, and ends their subscriptions. */
  requireResync(sessionId: string, reason = 'the client is not reading fast enough'): void {
    const latestSeq = this.session(sessionId).log.length;
    for (const socket of this.sockets) {
      if (socket.subscriptions.delete(sessionId)) {
        socket.deliver({ type: 'resync_required', sessionId, latestSeq, reason });
      }
    }
  }

  /** Delivers frames held while `faults.hold` was set. */
  release(): void {
    this.faults.hold = false;
    for (const socket of this.sockets) socket.flush();
  }

  // ---- transport -----------------------------------------------------------------------------

  createSocket = (url: string): WebSocketLike => {
    this.socketUrls.push(url);
    const socket = new FakeSocket(this);
    if (this.faults.refuseConnections > 0) {
      this.faults.refuseConnections--;
      queueMicrotask(() => socket.serverClose(1006, ''));
      return socket;
    }
    const query = new URL(url).searchParams.get('token');
    if (this.apiKey && query !== null && query !== this.apiKey) {
      queueMicrotask(() => socket.serverClose(1006, ''));
      return socket;
    }
    socket.authenticated = !this.apiKey || query === this.apiKey;
    this.sockets.add(socket);
    queueMicrotask(() => socket.serverOpen());
    return socket;
  };

  receive(socket: FakeSocket, frame: ClientFrame): void {
    this.received.push(frame);
    if (!socket.authenticated) {
      if (frame.type === 'auth' && frame.token === this.apiKey) {
        socket.authenticated = true;
        socket.deliver(ok(frame.id));
      } else {
        socket.deliver(fail(frame.id, 401, 'unauthorized', 'Unauthorized'));
        socket.serverClose(1008, 'unauthorized');
      }
      return;
    }
    switch (frame.type) {
      case 'auth':
      case 'ping':
        socket.deliver(ok(frame.id));
        return;
      case 'subscribe': {
        const session = this.sessions.get(frame.sessionId);
        if (!session) {
          socket.deliver(fail(frame.id, 404, 'session_not_found', 'Session not found'));
          return;
        }
        const since = frame.since ?? 0;
        const latestSeq = session.log.length;
        socket.subscriptions.add(frame.sessionId);
        socket.deliver(ok(frame.id, { sessionId: frame.sessionId, latestSeq }));
        const from = Math.max(0, since - this.faults.replayOverlap);
        for (const envelope of session.log.slice(from, latestSeq)) socket.deliver({ type: 'event', envelope });
        return;
      }
      case 'unsubscribe':
        socket.subscriptions.delete(frame.sessionId);
        socket.deliver(ok(frame.id));
        return;
      case 'answer_permission':
      case 'answer_question': {
        const { id, sessionId, requestId } = frame;
        if (!this.sessions.has(sessionId)) {
          socket.deliver(fail(id, 404, 'session_not_found', 'Session not found'));
          return;
        }
        const answer =
          frame.type === 'answer_permission'
            ? this.answerPermission(sessionId, requestId, frame)
            : this.answerQuestion(sessionId, requestId, frame);
        void answer.then((a: Answer<unknown>) =>
          socket.deliver(a.ok ? ok(id, a.data) : fail(id, a.status, a.code, a.code, a.resolution)),
        );
        return;
      }
      default:
        socket.deliver(fail(frame.id, 400, 'invalid_frame', 'Not supported by the fake server'));
    }
  }

  fetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input), 'http://fake');
    const method = (init.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    this.requests.push(`${method} ${path}`);
    const headers = new Headers(init.headers);
    if (this.apiKey && path.startsWith('/api/') && headers.get('authorization') !== `Bearer ${this.apiKey}`) {
      return problem(401, 'unauthorized', 'Unauthorized');
    }
    const body = typeof init.body === 'string' && init.body ? JSON.parse(init.body) : {};
    if (typeof init.body === 'string') this.bodies.push({ request: `${method} ${path}`, body });
    if (path === '/healthz') return json(200, FakeServer.health);
    if (path === '/api/agents') return json(200, FakeServer.agents);
    if (path === '/api/sessions' && method === 'GET') {
      const sessions = Array.from(this.sessions.values()).map((s) => s.info).reverse();
      return json(200, { sessions });
    }
    if (path === '/api/sessions' && method === 'POST') {
      const id = this.createSession(body.name);
      return json(201, this.session(id).info);
    }
    const match = /^\/api\/sessions\/([^/]+)(?:\/(messages|interrupt|files|permissions|questions|budget)(?:\/(.*))?)?$/.exec(path);
    if (!match) return problem(404, 'not_found', 'Not found');
    const sessionId = decodeURIComponent(match[1] as string);
    const session = this.sessions.get(sessionId);
    if (!session) return problem(404, 'session_not_found', 'Session not found');
    const sub = match[2];
    if (!sub && method === 'GET') return json(200, this.snapshot(sessionId));
    if ((sub === 'permissions' || sub === 'questions') && method === 'POST' && match[3]) {
      const requestId = decodeURIComponent(match[3]);
      const answer: Answer<unknown> =
        sub === 'permissions' ? await this.answerPermission(sessionId, requestId, body) : await this.answerQuestion(sessionId, requestId, body);
      return answer.ok ? json(200, answer.data) : problem(answer.status, answer.code, answer.code, answer.resolution);
    }
    if (sub === 'budget' && match[3] === 'approve' && method === 'POST') {
      const exceeded = foldAll(session.log).budgetExceeded;
      if (!exceeded) return problem(409, 'budget_not_exceeded', 'No budget limit was reached');
      const approval = { kind: exceeded.kind, at: AT };
      this.append(sessionId, [{ type: 'budget_approved', ...approval }]);
      return json(200, approval);
    }
    if (!sub && method === 'DELETE') {
      this.sessions.delete(sessionId);
      return new Response(null, { status: 204 });
    }
    if (!sub && method === 'PATCH') {
      if (body.name !== undefined) session.info = { ...session.info, name: body.name };
      if (body.budget !== undefined) {
        const settings = foldAll(session.log).settings ?? {};
        this.append(sessionId, [{ type: 'settings_changed', ...settings, budget: body.budget }]);
      }
      return json(200, this.snapshot(sessionId).session);
    }
    if (sub === 'messages') {
      if (session.activeTurn && (body.ifBusy ?? 'reject') === 'reject') {
        return problem(409, 'session_busy', 'A turn is already running');
      }
      const turnId = this.startTurn(sessionId, body.text, body.clientMessageId);
      return json(202, { turnId, queued: false });
    }
    if (sub === 'interrupt') {
      const turnId = session.activeTurn;
      if (turnId) this.completeTurn(sessionId, 'interrupted');
      return json(200, turnId ? { turnId } : {});
    }
    if (sub === 'files' && match[3]) {
      const filePath = match[3].split('/').map(decodeURIComponent).join('/');
      const content = session.files.get(filePath);
      if (content === undefined) return problem(404, 'file_not_found', 'File not found');
      return new Response(content, {
        status: 200,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'x-sha256': fakeHash(content) },
      });
    }
    return problem(404, 'not_found', 'Not found');
  };

  private session(sessionId: string): FakeSession {
    const session = this.sessions.get(sessionId);
    if (!session) throw new Error(`no session ${sessionId}`);
    return session;
  }
}

export class FakeSocket implements WebSocketLike {
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  authenticated = false;
  readonly subscriptions = new Set<string>();
  private held: ServerFrame[] = [];

  constructor(private readonly server: FakeServer) {}

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('socket not open');
    const frame = JSON.parse(data) as ClientFrame;
    queueMicrotask(() => {
      if (this.readyState === 1) this.server.receive(this, frame);
    });
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.server.sockets.delete(this);
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }

  serverOpen(): void {
    if (this.readyState !== 0) return;
    this.readyState = 1;
    this.onopen?.({});
  }

  serverClose(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.subscriptions.clear();
    this.server.sockets.delete(this);
    this.held = [];
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }

  deliver(frame: ServerFrame): void {
    if (this.readyState !== 1) return;
    if (this.server.faults.hold) {
      this.held.push(frame);
      return;
    }
    const text = JSON.stringify(frame);
    queueMicrotask(() => {
      if (this.readyState === 1) this.onmessage?.({ data: text });
    });
  }

  flush(): void {
    const held = this.held;
    this.held = [];
    for (const frame of held) this.deliver(frame);
  }
}

function ok(id: string, data?: unknown): ServerFrame {
  return { type: 'result', id, ok: true, ...(data === undefined ? {} : { data: data as never }) };
}

/** A server's answer to an answer: the resolution, or a problem (with the winner on 409). */
type Answer<T> = { ok: true; data: T } | { ok: false; status: number; code: string; resolution?: unknown };

function fail(id: string, status: number, code: string, title: string, resolution?: unknown): ServerFrame {
  const error: Problem = { type: `urn:agent-runtime:error:${code}`, title, status, code, ...(resolution ? { resolution: resolution as never } : {}) };
  return { type: 'result', id, ok: false, error };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function problem(status: number, code: string, title: string, resolution?: unknown): Response {
  const body: Problem = { type: `urn:agent-runtime:error:${code}`, title, status, code, ...(resolution ? { resolution: resolution as never } : {}) };
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/problem+json' } });
}

function fakeHash(content: string): string {
  let h = 0;
  for (let i = 0; i < content.length; i++) h = (h * 31 + content.charCodeAt(i)) >>> 0;
  return h.toString(16).padStart(64, '0');
}
