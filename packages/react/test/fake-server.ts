// An in-memory agent-runtime for the client tests: the REST routes the client uses (as a `fetch`)
// and the WebSocket protocol (as a `createSocket`), over one event log per session folded with the
// package's own fold. Tests drive the "agent" by appending events, and inject faults: dropped
// connections, duplicated replays, skipped events, `resync_required`, refused connections.

import { foldAll } from '../src/fold.js';
import type { WebSocketLike } from '../src/connection.js';
import type {
  Block,
  ClientFrame,
  Envelope,
  FileInfo,
  Health,
  Problem,
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
  /** Every URL a socket was opened with. */
  readonly socketUrls: string[] = [];
  faults: Faults = { replayOverlap: 0, skipLive: new Set(), refuseConnections: 0, hold: false };
  /** When set, REST and WebSocket require this key. */
  apiKey: string | null = null;
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
  };

  // ---- driving the agent -------------------------------------------------------------------

  createSession(name?: string): string {
    const sessionId = `s${this.nextId++}`;
    const info: SessionInfo = { sessionId, agent: 'claude-code', createdAt: AT, updatedAt: AT, ...(name ? { name } : {}) };
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

  writeFile(sessionId: string, path: string, content: string): void {
    const session = this.session(sessionId);
    const existed = session.files.has(path);
    session.files.set(path, content);
    const info: FileInfo = { path, size: content.length, sha256: fakeHash(content) };
    this.append(sessionId, [{ type: existed ? 'file_modified' : 'file_created', ...info }]);
  }

  snapshot(sessionId: string): SessionSnapshot {
    const session = this.session(sessionId);
    return { session: session.info, ...foldAll(session.log) };
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
    if (path === '/healthz') return json(200, FakeServer.health);
    if (path === '/api/sessions' && method === 'GET') {
      const sessions = Array.from(this.sessions.values()).map((s) => s.info).reverse();
      return json(200, { sessions });
    }
    if (path === '/api/sessions' && method === 'POST') {
      const id = this.createSession(body.name);
      return json(201, this.session(id).info);
    }
    const match = /^\/api\/sessions\/([^/]+)(?:\/(messages|interrupt|files)(?:\/(.*))?)?$/.exec(path);
    if (!match) return problem(404, 'not_found', 'Not found');
    const sessionId = decodeURIComponent(match[1] as string);
    const session = this.sessions.get(sessionId);
    if (!session) return problem(404, 'session_not_found', 'Session not found');
    const sub = match[2];
    if (!sub && method === 'GET') return json(200, this.snapshot(sessionId));
    if (!sub && method === 'DELETE') {
      this.sessions.delete(sessionId);
      return new Response(null, { status: 204 });
    }
    if (!sub && method === 'PATCH') {
      session.info = { ...session.info, name: body.name };
      return json(200, session.info);
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

function fail(id: string, status: number, code: string, title: string): ServerFrame {
  const error: Problem = { type: `urn:agent-runtime:error:${code}`, title, status, code };
  return { type: 'result', id, ok: false, error };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function problem(status: number, code: string, title: string): Response {
  const body: Problem = { type: `urn:agent-runtime:error:${code}`, title, status, code };
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/problem+json' } });
}

function fakeHash(content: string): string {
  let h = 0;
  for (let i = 0; i < content.length; i++) h = (h * 31 + content.charCodeAt(i)) >>> 0;
  return h.toString(16).padStart(64, '0');
}
