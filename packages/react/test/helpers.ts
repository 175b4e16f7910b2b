import { AgentClient, type AgentClientOptions } from '../src/client.js';
import type { EnvironmentHooks } from '../src/connection.js';
import type { Block, SessionState } from '../src/generated/protocol.js';
import { FakeServer } from './fake-server.js';

/** A client wired to `server`, with short retry delays and no page hooks. */
export function clientFor(server: FakeServer, options: Partial<AgentClientOptions> = {}): AgentClient {
  return new AgentClient({
    baseUrl: 'http://fake',
    fetch: server.fetch,
    createSocket: server.createSocket,
    reconnect: { initialDelayMs: 5, maxDelayMs: 40, jitter: 0.5 },
    heartbeat: { intervalMs: 0 },
    environment: null,
    unwatchDelayMs: 0,
    ...options,
  });
}

/** Resolves when `predicate` holds (checked after every macrotask), or fails after `timeoutMs`. */
export async function until(predicate: () => boolean, what = 'condition', timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Lets queued microtasks and zero-delay timers run. */
export function settle(ms = 10): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The state as JSON (what the server's snapshot endpoint returns), for whole-object compares. */
export function wire(state: SessionState | null | undefined): unknown {
  return state ? JSON.parse(JSON.stringify(state)) : state;
}

export function ids(blocks: readonly Block[]): string[] {
  return blocks.map((block) => block.id);
}

/** Environment hooks a test can fire. */
export function fakeEnvironment(): EnvironmentHooks & { goOnline(): void; becomeVisible(): void } {
  const online = new Set<() => void>();
  const visible = new Set<() => void>();
  return {
    onOnline(listener) {
      online.add(listener);
      return () => online.delete(listener);
    },
    onVisible(listener) {
      visible.add(listener);
      return () => visible.delete(listener);
    },
    goOnline: () => online.forEach((l) => l()),
    becomeVisible: () => visible.forEach((l) => l()),
  };
}
