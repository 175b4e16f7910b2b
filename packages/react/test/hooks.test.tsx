// The hooks, rendered with renderHook over the in-memory server.

import { act, render, renderHook, waitFor } from '@testing-library/react';
import { StrictMode, type ReactNode } from 'react';
import { afterEach, describe, expect, it } from 'vitest';

import type { AgentClient } from '../src/client.js';
import type { Block } from '../src/generated/protocol.js';
import {
  useAgentSession,
  useBlock,
  useBlockIds,
  useConnection,
  useEvents,
  useFileContent,
  useHealth,
  useMessages,
  useNetworkDenials,
  useSessionList,
  useSubagents,
  useWorkspaceFiles,
} from '../src/react/hooks.js';
import { AgentServiceProvider } from '../src/react/provider.js';
import { FakeServer } from './fake-server.js';
import { clientFor, ids, settle, wire } from './helpers.js';

let client: AgentClient | null = null;
afterEach(() => {
  client?.dispose();
  client = null;
});

function setup(options = {}) {
  const server = new FakeServer();
  client = clientFor(server, options);
  const c = client;
  const wrapper = ({ children }: { children: ReactNode }) => (
    <AgentServiceProvider client={c}>{children}</AgentServiceProvider>
  );
  return { server, client: c, wrapper };
}

/** Runs server-side changes inside act and lets the client process them. */
async function serverDoes(change: () => void): Promise<void> {
  await act(async () => {
    change();
    await settle();
  });
}

describe('useMessages', () => {
  it('streams a turn through a reconnect in the middle with no lost or duplicated block', async () => {
    const { server, client: c, wrapper } = setup();
    const id = server.createSession();
    const seen: (readonly Block[])[] = [];
    const { result } = renderHook(
      () => {
        const messages = useMessages(id);
        seen.push(messages.blocks);
        return { messages, connection: useConnection() };
      },
      { wrapper },
    );
    await waitFor(() => expect(c.store.getState().sessions[id]?.live).toBe(true));
    const thinking: Block = { type: 'thinking', id: 't1', at: 'x', text: 'Plan it.', redacted: false };
    const events = [
      { type: 'block_start' as const, conversationId: 'main', block: { ...thinking, text: '' } },
      { type: 'text_delta' as const, conversationId: 'main', blockId: 't1', delta: 'Plan ' },
      { type: 'text_delta' as const, conversationId: 'main', blockId: 't1', delta: 'it.' },
      { type: 'block_complete' as const, conversationId: 'main', blockId: 't1', block: thinking },
      ...FakeServer.textBlock('a1', 'Streaming text that is interrupted by a network drop.', 10),
    ];
    await serverDoes(() => {
      server.startTurn(id, 'go');
      server.append(id, events.slice(0, 7));
    });
    expect(result.current.messages.blocks.find((b) => b.id === 'a1')).toBeDefined();

    await serverDoes(() => {
      server.dropConnections();
      server.append(id, events.slice(7, 11)); // while the client is away
    });
    await waitFor(() => expect(result.current.connection.state).toBe('open'));
    await serverDoes(() => {
      server.append(id, events.slice(11));
      server.completeTurn(id);
    });
    await waitFor(() => expect(result.current.messages.isStreaming).toBe(false));

    const { session: _info, ...expected } = server.snapshot(id);
    expect(wire({ ...expected, blocks: [...result.current.messages.blocks] })).toStrictEqual(wire(expected));
    // No render ever showed a block twice, or text the server did not stream.
    for (const blocks of seen) {
      expect(new Set(ids(blocks)).size).toBe(blocks.length);
      const a1 = blocks.find((b) => b.id === 'a1');
      if (a1 && a1.type === 'assistant_text') {
        expect('Streaming text that is interrupted by a network drop.'.startsWith(a1.text)).toBe(true);
      }
    }
    // Thinking and text stayed apart.
    expect(result.current.messages.blocks.map((b) => b.type)).toEqual([
      'user_message',
      'thinking',
      'assistant_text',
    ]);
  });

  it('shows the optimistic message at once and swaps it for the echo', async () => {
    const { server, client: c, wrapper } = setup();
    const id = server.createSession();
    const { result } = renderHook(() => useMessages(id), { wrapper });
    await waitFor(() => expect(c.store.getState().sessions[id]?.live).toBe(true));
    server.faults.hold = true;
    await act(async () => {
      void result.current.sendMessage('create hello.txt');
      await settle(0);
    });
    expect(result.current.status).toBe('submitted');
    expect(result.current.blocks).toHaveLength(1);
    expect(result.current.blocks[0]?.id.startsWith('optimistic:')).toBe(true);
    await serverDoes(() => server.release());
    await waitFor(() => expect(result.current.pending).toHaveLength(0));
    expect(result.current.blocks).toHaveLength(1);
    expect(result.current.blocks[0]).toMatchObject({ type: 'user_message', text: 'create hello.txt' });
    expect(result.current.blocks[0]?.id.startsWith('optimistic:')).toBe(false);
    expect(result.current.status).toBe('running');
  });
});

describe('re-rendering', () => {
  it('re-renders only what shows the streaming block', async () => {
    const { server, client: c, wrapper } = setup();
    const id = server.createSession();
    server.startTurn(id, 'hi');
    server.append(id, FakeServer.textBlock('settled', 'Done before.', 2));
    const renders = { settled: 0, ids: 0, session: 0, files: 0, streaming: 0 };
    function Probe() {
      useBlock(id, 'settled');
      renders.settled++;
      return null;
    }
    function Ids() {
      useBlockIds(id);
      renders.ids++;
      return null;
    }
    function Session() {
      useAgentSession(id);
      renders.session++;
      return null;
    }
    function Files() {
      useWorkspaceFiles(id);
      renders.files++;
      return null;
    }
    function Streaming() {
      const block = useBlock(id, 'live');
      renders.streaming++;
      return <span data-testid="live">{block?.type === 'assistant_text' ? block.text : ''}</span>;
    }
    const view = render(
      <AgentServiceProvider client={c}>
        <Probe />
        <Ids />
        <Session />
        <Files />
        <Streaming />
      </AgentServiceProvider>,
    );
    await waitFor(() => expect(c.store.getState().sessions[id]?.live).toBe(true));
    const events = FakeServer.textBlock('live', 'one two three four five six seven eight', 8);
    await serverDoes(() => server.append(id, events.slice(0, 1))); // block_start
    const before = { ...renders };
    for (const event of events.slice(1, -1)) await serverDoes(() => server.append(id, [event]));
    expect(view.getByTestId('live').textContent).toBe('one two three four five six seven eight');
    expect(renders.streaming - before.streaming).toBeGreaterThanOrEqual(8);
    expect(renders.settled).toBe(before.settled);
    expect(renders.ids).toBe(before.ids);
    expect(renders.session).toBe(before.session);
    expect(renders.files).toBe(before.files);
    view.unmount();
  });

  it('keeps the identity of settled blocks across events', async () => {
    const { server, client: c, wrapper } = setup();
    const id = server.createSession();
    server.startTurn(id, 'hi');
    const { result } = renderHook(() => useMessages(id), { wrapper });
    await waitFor(() => expect(c.store.getState().sessions[id]?.live).toBe(true));
    const user = result.current.blocks[0];
    await serverDoes(() => server.append(id, FakeServer.textBlock('a1', 'more', 2)));
    expect(result.current.blocks[0]).toBe(user);
  });
});

describe('useAgentSession', () => {
  it('goes idle -> submitted -> running -> idle, and stop ends the turn as interrupted', async () => {
    const { server, client: c, wrapper } = setup();
    const id = server.createSession();
    const { result } = renderHook(() => useAgentSession(id), { wrapper });
    await waitFor(() => expect(result.current.isLive).toBe(true));
    expect(result.current.status).toBe('idle');
    expect(result.current.demo).toBe(true);
    await act(async () => {
      await result.current.sendMessage('work for a while');
    });
    await waitFor(() => expect(result.current.status).toBe('running'));
    await act(async () => {
      await result.current.stop();
      await settle();
    });
    await waitFor(() => expect(result.current.lastTurn?.reason).toBe('interrupted'));
    expect(result.current.status).toBe('idle');
    expect(result.current.isStopping).toBe(false);
    expect(result.current.connectionState).toBe('open');
    expect(c.store.getState().connection.state).toBe('open');
  });

  it('creates a session when given none, and surfaces errors', async () => {
    const { server, wrapper } = setup();
    const { result } = renderHook(() => useAgentSession(), { wrapper });
    expect(result.current.sessionId).toBeNull();
    let created = '';
    await act(async () => {
      created = await result.current.createSession({ name: 'mine' });
    });
    expect(result.current.sessionId).toBe(created);
    await waitFor(() => expect(result.current.session?.name).toBe('mine'));
    await serverDoes(() => server.startTurn(created, 'busy'));
    await act(async () => {
      expect(await result.current.sendMessage('again')).toBeUndefined();
    });
    // The other turn still runs; the refusal is on `error`, and the status says so once the
    // turn is over.
    expect(result.current.status).toBe('running');
    expect(result.current.error?.code).toBe('session_busy');
    await serverDoes(() => server.completeTurn(created));
    expect(result.current.status).toBe('error');
    act(() => result.current.clearError());
    expect(result.current.error).toBeNull();
  });

  it('reports a missing session', async () => {
    const { wrapper } = setup();
    const { result } = renderHook(() => useAgentSession('nope'), { wrapper });
    await waitFor(() => expect(result.current.error?.code).toBe('session_not_found'));
    expect(result.current.isLoading).toBe(false);
  });
});

describe('other hooks', () => {
  it('useWorkspaceFiles and useFileContent follow the agent', async () => {
    const { server, client: c, wrapper } = setup();
    const id = server.createSession();
    const { result } = renderHook(
      () => ({ files: useWorkspaceFiles(id), content: useFileContent(id, 'src/hello.txt') }),
      { wrapper },
    );
    await waitFor(() => expect(c.store.getState().sessions[id]?.live).toBe(true));
    expect(result.current.content.missing).toBe(true);
    await serverDoes(() => server.writeFile(id, 'src/hello.txt', 'Hello!\n'));
    await waitFor(() => expect(result.current.content.content?.text).toBe('Hello!\n'));
    expect(result.current.files.tree).toMatchObject([{ name: 'src', kind: 'directory', children: [{ name: 'hello.txt' }] }]);
    await serverDoes(() => server.writeFile(id, 'src/hello.txt', 'Changed.\n'));
    await waitFor(() => expect(result.current.content.content?.text).toBe('Changed.\n'));
  });

  it('useSubagents lists subagent threads', async () => {
    const { server, client: c, wrapper } = setup();
    const id = server.createSession();
    const { result } = renderHook(() => useSubagents(id), { wrapper });
    await waitFor(() => expect(c.store.getState().sessions[id]?.live).toBe(true));
    await serverDoes(() =>
      server.append(id, [
        { type: 'subagent_discovered', subagentId: 'sub1', parentConversationId: 'main', description: 'Research' },
        ...FakeServer.textBlock('sa', 'found it', 2).map((e) =>
          'conversationId' in e ? { ...e, conversationId: 'sub1' } : e,
        ),
      ]),
    );
    expect(result.current.count).toBe(1);
    expect(result.current.hasRunningSubagents).toBe(true);
    expect(result.current.getSubagentBlocks('sub1')).toMatchObject([{ text: 'found it' }]);
  });

  it('useSessionList loads and follows creates', async () => {
    const { server, wrapper } = setup();
    server.createSession('existing');
    const { result } = renderHook(() => useSessionList(), { wrapper });
    await waitFor(() => expect(result.current.sessions.map((s) => s.name)).toEqual(['existing']));
    await act(async () => {
      await result.current.createSession({ name: 'fresh' });
    });
    expect(result.current.sessions.map((s) => s.name)).toEqual(['fresh', 'existing']);
  });

  it('useEvents keeps recent events and calls back', async () => {
    const { server, client: c, wrapper } = setup();
    const id = server.createSession();
    const called: number[] = [];
    const { result } = renderHook(() => useEvents(id, (e) => called.push(e.seq)), { wrapper });
    await waitFor(() => expect(c.store.getState().sessions[id]?.live).toBe(true));
    await serverDoes(() => server.startTurn(id, 'x'));
    expect(result.current.events.map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(called).toEqual([2, 3, 4]);
  });

  it('useNetworkDenials shows refusals live and after a reload, and re-renders only for them', async () => {
    const { server, client: c, wrapper } = setup();
    const id = server.createSession();
    let renders = 0;
    const { result } = renderHook(
      () => {
        renders++;
        return useNetworkDenials(id);
      },
      { wrapper },
    );
    await waitFor(() => expect(c.store.getState().sessions[id]?.live).toBe(true));
    expect(result.current).toStrictEqual({ denials: [], total: 0, latest: null });
    await serverDoes(() =>
      server.append(id, [
        { type: 'network_denied', host: 'blocked.example', port: 443, reason: 'not_allowlisted' },
        { type: 'network_denied', host: '169.254.169.254', port: 80, reason: 'metadata' },
        { type: 'network_denied', host: 'blocked.example', port: 443, reason: 'not_allowlisted' },
      ]),
    );
    expect(result.current.total).toBe(3);
    expect(result.current.latest).toMatchObject({ host: 'blocked.example', port: 443, count: 2 });
    expect(result.current.denials.map((d) => d.host)).toEqual(['169.254.169.254', 'blocked.example']);
    // Streamed text does not re-render it.
    const before = renders;
    const shown = result.current;
    await serverDoes(() => server.append(id, FakeServer.textBlock('a1', 'unrelated text', 4)));
    expect(renders).toBe(before);
    expect(result.current).toBe(shown);

    // A fresh client (a reload) gets them from the snapshot.
    const reloaded = clientFor(server);
    try {
      const { result: after } = renderHook(() => useNetworkDenials(id), {
        wrapper: ({ children }: { children: ReactNode }) => (
          <AgentServiceProvider client={reloaded}>{children}</AgentServiceProvider>
        ),
      });
      await waitFor(() => expect(after.current.total).toBe(3));
      expect(JSON.parse(JSON.stringify(after.current.denials))).toStrictEqual(server.snapshot(id).networkDenied);
    } finally {
      reloaded.dispose();
    }
  });

  it('useHealth has the sandbox protections of the server', async () => {
    const { wrapper } = setup();
    const { result } = renderHook(() => useHealth(), { wrapper });
    await waitFor(() => expect(result.current.health).not.toBeNull());
    expect(result.current.health?.sandbox).toStrictEqual(FakeServer.health.sandbox);
  });

  it('works under StrictMode (double effects)', async () => {
    const server = new FakeServer();
    const id = server.createSession();
    server.startTurn(id, 'strict');
    const created = clientFor(server);
    client = created;
    const { result } = renderHook(() => useMessages(id), {
      wrapper: ({ children }) => (
        <StrictMode>
          <AgentServiceProvider client={created}>{children}</AgentServiceProvider>
        </StrictMode>
      ),
    });
    await waitFor(() => expect(created.store.getState().sessions[id]?.live).toBe(true));
    await serverDoes(() => server.append(id, FakeServer.textBlock('a1', 'strict text', 3)));
    expect(result.current.blocks.map((b) => b.id)).toEqual([expect.stringMatching(/^user-/), 'a1']);
  });
});
