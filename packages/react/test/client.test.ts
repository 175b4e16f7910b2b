// The client's sync against the in-memory server: snapshot then subscribe-from-cursor, dedup by
// seq, gaps, resync, reconnects, optimistic messages, stop, auth.

import { afterEach, describe, expect, it } from 'vitest';

import type { AgentClient, AgentClientOptions } from '../src/client.js';
import { Connection } from '../src/connection.js';
import { sessionStatus } from '../src/state.js';
import { FakeServer } from './fake-server.js';
import { clientFor, fakeEnvironment, settle, until, wire } from './helpers.js';

let client: AgentClient | null = null;
afterEach(() => {
  client?.dispose();
  client = null;
});

function start(server: FakeServer, options: Partial<AgentClientOptions> = {}): AgentClient {
  client = clientFor(server, options);
  return client;
}

function view(c: AgentClient, id: string) {
  return c.store.getState().sessions[id];
}

/** Waits until the client's state of `id` equals the server's log folded. */
async function caughtUp(c: AgentClient, server: FakeServer, id: string): Promise<void> {
  await until(() => view(c, id)?.live === true && view(c, id)?.state?.seq === server.snapshot(id).seq, 'caught up');
  const { session: _info, ...expected } = server.snapshot(id);
  expect(wire(view(c, id)?.state)).toStrictEqual(wire(expected));
}

describe('sync', () => {
  it('loads the snapshot, then subscribes from its seq and goes live', async () => {
    const server = new FakeServer();
    const id = server.createSession('first');
    server.startTurn(id, 'hello');
    const c = start(server);
    c.watchSession(id);
    await until(() => view(c, id)?.live === true, 'live');
    const subscribe = server.received.find((f) => f.type === 'subscribe');
    expect(subscribe).toMatchObject({ sessionId: id, since: 4 });
    expect(view(c, id)?.info?.name).toBe('first');
    server.append(id, FakeServer.textBlock('a1', 'Hello there, how are you?', 5));
    await caughtUp(c, server, id);
  });

  it('keeps the events appended between the snapshot and the subscribe', async () => {
    // The seed client lost these: it fetched a snapshot, then joined a room that only
    // delivered later events.
    const server = new FakeServer();
    const id = server.createSession();
    const originalFetch = server.fetch;
    const c = start(server, {
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        const response = await originalFetch(input, init);
        if (String(input).endsWith(`/api/sessions/${id}`)) {
          // Served at seq N; the agent goes on before the client subscribes.
          server.startTurn(id, 'in between');
          server.append(id, FakeServer.textBlock('a1', 'streamed before subscribe', 3));
        }
        return response;
      },
    });
    c.watchSession(id);
    await caughtUp(c, server, id);
    expect(view(c, id)?.state?.blocks.map((b) => b.id)).toContain('a1');
  });

  it('drops duplicated events by seq', async () => {
    const server = new FakeServer();
    const id = server.createSession();
    server.startTurn(id, 'hi');
    server.faults.replayOverlap = 3;
    const c = start(server);
    c.watchSession(id);
    await until(() => view(c, id)?.live === true, 'live');
    server.append(id, FakeServer.textBlock('a1', 'no doubles here', 4));
    await caughtUp(c, server, id);
    expect(c.stats.duplicates).toBe(3);
    expect(view(c, id)?.state?.blocks.find((b) => b.id === 'a1')).toMatchObject({ text: 'no doubles here' });
  });

  it('resubscribes from its cursor when an event is missing', async () => {
    const server = new FakeServer();
    const id = server.createSession();
    const c = start(server);
    c.watchSession(id);
    await until(() => view(c, id)?.live === true, 'live');
    server.startTurn(id, 'hi');
    const before = server.snapshot(id).seq;
    server.faults.skipLive = new Set([before + 2]);
    server.append(id, FakeServer.textBlock('a1', 'one two three four five six', 6));
    await caughtUp(c, server, id);
    expect(c.stats.gaps).toBeGreaterThan(0);
    const subscribes = server.received.filter((f) => f.type === 'subscribe');
    expect(subscribes.at(-1)).toMatchObject({ since: before + 1 });
  });

  it('answers resync_required with a snapshot, keeping unchanged blocks', async () => {
    const server = new FakeServer();
    const id = server.createSession();
    server.startTurn(id, 'hi');
    server.append(id, FakeServer.textBlock('a1', 'settled text', 2));
    const c = start(server);
    c.watchSession(id);
    await until(() => view(c, id)?.live === true, 'live');
    const settled = view(c, id)?.state?.blocks.find((b) => b.id === 'a1');
    server.faults.hold = true;
    server.append(id, FakeServer.textBlock('a2', 'more text after', 3));
    server.requireResync(id);
    server.release();
    await caughtUp(c, server, id);
    expect(c.stats.resyncs).toBe(1);
    expect(view(c, id)?.state?.blocks.find((b) => b.id === 'a1')).toBe(settled);
  });

  it('reconnects after a drop mid-stream and resumes from its cursor', async () => {
    const server = new FakeServer();
    const id = server.createSession();
    const c = start(server);
    c.watchSession(id);
    await until(() => view(c, id)?.live === true, 'live');
    server.startTurn(id, 'hi');
    const events = FakeServer.textBlock('a1', 'The quick brown fox jumps over the lazy dog', 9);
    server.append(id, events.slice(0, 4));
    await until(() => view(c, id)?.state?.seq === server.snapshot(id).seq, 'first half');
    const cursor = view(c, id)?.state?.seq;
    server.dropConnections();
    server.append(id, events.slice(4, 8)); // missed while down
    await until(() => c.store.getState().connection.state === 'reconnecting', 'reconnecting');
    await until(() => c.store.getState().connection.state === 'open', 'open again');
    server.append(id, events.slice(8));
    await caughtUp(c, server, id);
    expect(server.received.filter((f) => f.type === 'subscribe').at(-1)).toMatchObject({ since: cursor });
    expect(view(c, id)?.state?.blocks.filter((b) => b.id === 'a1')).toHaveLength(1);
  });

  it('never gives up reconnecting', async () => {
    const server = new FakeServer();
    const id = server.createSession();
    server.faults.refuseConnections = 25;
    const c = start(server, { reconnect: { initialDelayMs: 1, maxDelayMs: 4 } });
    c.watchSession(id);
    await until(() => c.store.getState().connection.state === 'open', 'open', 5000);
    expect(server.socketUrls.length).toBe(26);
    await caughtUp(c, server, id);
  });

  it('reconnects at once when the browser comes back online', async () => {
    const server = new FakeServer();
    const environment = fakeEnvironment();
    const c = start(server, { environment, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000, jitter: 0 } });
    c.connect();
    await until(() => c.store.getState().connection.state === 'open', 'open');
    server.dropConnections();
    await until(() => c.store.getState().connection.state === 'reconnecting', 'reconnecting');
    expect(c.store.getState().connection.nextRetryAt).toBeGreaterThan(Date.now() + 50_000);
    environment.goOnline();
    await until(() => c.store.getState().connection.state === 'open', 'open after online');
  });

  it('reconnects at once when the page becomes visible, and checks a live socket with a ping', async () => {
    const server = new FakeServer();
    const environment = fakeEnvironment();
    const c = start(server, { environment, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000, jitter: 0 } });
    c.connect();
    await until(() => c.store.getState().connection.state === 'open', 'open');
    environment.becomeVisible();
    await until(() => server.received.some((f) => f.type === 'ping'), 'a ping');
    server.dropConnections();
    await until(() => c.store.getState().connection.state === 'reconnecting', 'reconnecting');
    environment.becomeVisible();
    await until(() => c.store.getState().connection.state === 'open', 'open after visible');
  });

  it('sends the token from the getter in an auth frame, asking again on every connect', async () => {
    const server = new FakeServer();
    server.apiKey = 'secret-2';
    const id = server.createSession();
    const tokens = ['wrong-1', 'secret-2', 'secret-2', 'secret-2'];
    let asked = 0;
    const c = start(server, { getToken: () => tokens[Math.min(asked++, tokens.length - 1)] });
    c.connect();
    await until(() => c.store.getState().connection.state === 'open', 'open');
    const auths = server.received.filter((f) => f.type === 'auth');
    expect(auths.map((f) => (f as { token: string }).token).slice(0, 2)).toEqual(['wrong-1', 'secret-2']);
    expect(server.socketUrls.every((url) => !url.includes('token='))).toBe(true);
    c.watchSession(id);
    await caughtUp(c, server, id);
  });

  it('can put the token in the URL instead', async () => {
    const server = new FakeServer();
    server.apiKey = 'k y';
    const c = start(server, { apiKey: 'k y', tokenVia: 'query' });
    c.connect();
    await until(() => c.store.getState().connection.state === 'open', 'open');
    expect(server.socketUrls[0]).toBe('ws://fake/api/ws?token=k%20y');
    expect(server.received.some((f) => f.type === 'auth')).toBe(false);
  });

  it('detects a dead connection with the heartbeat', async () => {
    const server = new FakeServer();
    const c = start(server, { heartbeat: { intervalMs: 20, timeoutMs: 20 } });
    c.connect();
    await until(() => c.store.getState().connection.state === 'open', 'open');
    const first = server.socketUrls.length;
    server.faults.hold = true; // the socket stays "open" but nothing comes back
    await until(() => server.socketUrls.length > first, 'a new socket');
    server.release();
    await until(() => c.store.getState().connection.state === 'open', 'open again');
  });
});

describe('backoff', () => {
  it('grows exponentially to the cap, with jitter below the base', () => {
    const connection = new Connection({
      url: () => 'ws://x',
      reconnect: { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 },
      random: () => 0,
      onFrame: () => {},
      onOpen: () => {},
      onInfo: () => {},
    });
    expect([1, 2, 3, 4, 5, 50].map((n) => connection.delayFor(n))).toEqual([100, 200, 400, 800, 1000, 1000]);
    const jittered = new Connection({
      url: () => 'ws://x',
      reconnect: { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 },
      random: () => 0.999,
      onFrame: () => {},
      onOpen: () => {},
      onInfo: () => {},
    });
    expect(jittered.delayFor(3)).toBe(200);
  });
});

describe('messages', () => {
  it('shows an optimistic copy, then replaces it with the echoed block', async () => {
    const server = new FakeServer();
    const id = server.createSession();
    const c = start(server);
    c.watchSession(id);
    await until(() => view(c, id)?.live === true, 'live');
    server.faults.hold = true; // the echo arrives later than the HTTP answer
    const sending = c.sendMessage(id, 'create hello.txt', { clientMessageId: 'cm-1' });
    expect(view(c, id)?.pending.map((m) => [m.clientMessageId, m.status])).toEqual([['cm-1', 'sending']]);
    expect(sessionStatus(view(c, id))).toBe('submitted');
    const response = await sending;
    expect(view(c, id)?.pending[0]).toMatchObject({ status: 'sent', turnId: response.turnId });
    server.release();
    await until(() => view(c, id)?.pending.length === 0, 'echo');
    const users = view(c, id)?.state?.blocks.filter((b) => b.type === 'user_message');
    expect(users).toHaveLength(1);
    expect(users?.[0]).toMatchObject({ text: 'create hello.txt', clientMessageId: 'cm-1' });
    expect(sessionStatus(view(c, id))).toBe('running');
  });

  it('marks a refused message failed and surfaces the error', async () => {
    const server = new FakeServer();
    const id = server.createSession();
    server.startTurn(id, 'busy already');
    const errors: string[] = [];
    const c = start(server, { onError: (e) => errors.push(e.code) });
    c.watchSession(id);
    await until(() => view(c, id)?.live === true, 'live');
    await expect(c.sendMessage(id, 'second')).rejects.toMatchObject({ code: 'session_busy', status: 409 });
    expect(view(c, id)?.pending[0]).toMatchObject({ status: 'failed', text: 'second' });
    expect(view(c, id)?.error?.code).toBe('session_busy');
    expect(errors).toContain('session_busy');
  });

  it('stops a turn on the server: it ends as interrupted', async () => {
    const server = new FakeServer();
    const id = server.createSession();
    const c = start(server);
    c.watchSession(id);
    await until(() => view(c, id)?.live === true, 'live');
    await c.sendMessage(id, 'long task');
    await until(() => sessionStatus(view(c, id)) === 'running', 'running');
    const stopping = c.stop(id);
    expect(view(c, id)?.stopping).toBe(true);
    await stopping;
    await until(() => view(c, id)?.lastTurn?.reason === 'interrupted', 'interrupted');
    expect(view(c, id)?.stopping).toBe(false);
    expect(sessionStatus(view(c, id))).toBe('idle');
    expect(c.store.getState().connection.state).toBe('open');
  });

  it('reports a turn that ended in error', async () => {
    const server = new FakeServer();
    const id = server.createSession();
    const c = start(server);
    c.watchSession(id);
    await until(() => view(c, id)?.live === true, 'live');
    server.startTurn(id, 'x');
    server.completeTurn(id, 'error', { message: 'API error 500', code: 'api_error' });
    await until(() => sessionStatus(view(c, id)) === 'error', 'error');
    expect(view(c, id)?.error).toMatchObject({ kind: 'turn', code: 'api_error', message: 'API error 500' });
  });
});

describe('files and lists', () => {
  it('reads a file once per content hash', async () => {
    const server = new FakeServer();
    const id = server.createSession();
    server.writeFile(id, 'dir/a.txt', 'one');
    const c = start(server);
    c.watchSession(id);
    await until(() => view(c, id)?.live === true, 'live');
    expect((await c.readFile(id, 'dir/a.txt')).text).toBe('one');
    await c.readFile(id, 'dir/a.txt');
    expect(server.requests.filter((r) => r.includes('/files/')).length).toBe(1);
    server.writeFile(id, 'dir/a.txt', 'two');
    await until(() => view(c, id)?.state?.files[0]?.size === 3 && view(c, id)?.state?.seq === server.snapshot(id).seq, 'modified');
    expect((await c.readFile(id, 'dir/a.txt')).text).toBe('two');
  });

  it('keeps the session list current on create, rename and delete', async () => {
    const server = new FakeServer();
    server.createSession('old');
    const c = start(server);
    await c.refreshSessions();
    const created = await c.createSession({ name: 'new' });
    expect(c.store.getState().sessionList.sessions.map((s) => s.name)).toEqual(['new', 'old']);
    await c.renameSession(created.sessionId, 'renamed');
    expect(c.store.getState().sessionList.sessions[0]?.name).toBe('renamed');
    await c.deleteSession(created.sessionId);
    expect(c.store.getState().sessionList.sessions.map((s) => s.name)).toEqual(['old']);
    await settle();
  });
});
