// Answering the agent's permission requests and questions, and its budget, through the hooks over
// the in-memory server: optimistic answers reconciled with (or rolled back by) the server's, errors
// as values, over REST and over the WebSocket.

import { act, render, renderHook, waitFor } from '@testing-library/react';
import type { ReactNode } from 'react';
import { afterEach, describe, expect, it } from 'vitest';

import { webSocketEndpoint, type AgentClient } from '../src/client.js';
import type { ActionResult } from '../src/errors.js';
import type { PermissionResolution } from '../src/generated/protocol.js';
import { useBudget, usePermissions, useQuestions } from '../src/react/approvals.js';
import { useAgents, useAgentSession } from '../src/react/hooks.js';
import { AgentServiceProvider } from '../src/react/provider.js';
import { FakeServer } from './fake-server.js';
import { clientFor, settle } from './helpers.js';

let client: AgentClient | null = null;
afterEach(() => {
  client?.dispose();
  client = null;
});

function setup() {
  const server = new FakeServer();
  client = clientFor(server);
  const c = client;
  const wrapper = ({ children }: { children: ReactNode }) => <AgentServiceProvider client={c}>{children}</AgentServiceProvider>;
  return { server, client: c, wrapper };
}

async function serverDoes(change: () => void): Promise<void> {
  await act(async () => {
    change();
    await settle();
  });
}

/** A gate the server's answers wait behind until `open()`. */
function gate(server: FakeServer): { open: () => void } {
  let open = () => {};
  server.answerGate = new Promise<void>((resolve) => {
    open = () => {
      server.answerGate = null;
      resolve();
    };
  });
  return { open };
}

/** A session with a running turn and a live subscription, rendered with `hook`. */
async function live<T>(hook: (id: string) => T) {
  const env = setup();
  const id = env.server.createSession();
  env.server.startTurn(id, 'go');
  const rendered = renderHook(() => ({ value: hook(id), session: useAgentSession(id) }), { wrapper: env.wrapper });
  await waitFor(() => expect(env.client.store.getState().sessions[id]?.live).toBe(true));
  return { ...env, id, result: rendered.result };
}

describe('usePermissions', () => {
  it('shows a request live, resolves it at once when answered, then confirms it', async () => {
    const { server, id, result } = await live(usePermissions);
    expect(result.current.session.status).toBe('running');
    let requestId = '';
    await serverDoes(() => (requestId = server.requestPermission(id, 'Bash', { command: 'touch approved.txt' })));
    expect(result.current.value.pending.map((p) => p.requestId)).toStrictEqual([requestId]);
    expect(result.current.session.status).toBe('requires_action');

    const slow = gate(server);
    let answered: Promise<ActionResult<PermissionResolution>> | undefined;
    await act(async () => {
      answered = result.current.value.allowOnce(requestId);
      await settle();
    });
    // Before the server answered: resolved here, and the session no longer waits for us.
    const shown = result.current.value.permissions[0];
    expect(shown?.optimistic).toBe(true);
    expect(shown?.resolution).toMatchObject({ decision: 'allow', remember: false, by: 'user', optionId: 'allow_once' });
    expect(result.current.value.pending).toStrictEqual([]);
    expect(result.current.session.status).toBe('running');

    await act(async () => {
      slow.open();
      await settle();
    });
    const outcome = await answered;
    expect(outcome).toMatchObject({ ok: true, data: { requestId, decision: 'allow', by: 'user' } });
    expect(result.current.value.permissions[0]?.optimistic).toBe(false);
    expect(result.current.value.permissions[0]?.resolution).toStrictEqual(outcome?.ok ? outcome.data : null);
    expect(server.bodies.at(-1)).toStrictEqual({
      request: `POST /api/sessions/${id}/permissions/${requestId}`,
      body: { decision: 'allow', remember: false, saveToProfile: false, optionId: 'allow_once' },
    });
  });

  it('denies with a reason, and remembers "allow always" as a session rule', async () => {
    const { server, id, result } = await live(usePermissions);
    let first = '';
    let second = '';
    await serverDoes(() => {
      first = server.requestPermission(id, 'Bash', { command: 'rm -rf /' });
      second = server.requestPermission(id, 'Bash', { command: 'ls' });
    });
    const denied = await act(() => result.current.value.deny(first, '  not that one  '));
    expect(denied).toMatchObject({ ok: true, data: { decision: 'deny', message: 'not that one', optionId: 'deny' } });
    const allowed = await act(() => result.current.value.allowAlways(second));
    expect(allowed).toMatchObject({ ok: true, data: { decision: 'allow', remember: true, rule: 'Bash(ls)' } });
    await waitFor(() => expect(result.current.value.sessionRules).toStrictEqual(['Bash(ls)']));
    expect(result.current.value.permissions.map((p) => [p.resolution?.decision, p.optimistic])).toStrictEqual([
      ['deny', false],
      ['allow', false],
    ]);
  });

  it('rolls the answer back when the server refuses it, and never rejects', async () => {
    const { server, id, result } = await live(usePermissions);
    let requestId = '';
    await serverDoes(() => (requestId = server.requestPermission(id)));
    server.expired.add(requestId);
    const expired = await act(() => result.current.value.allowOnce(requestId));
    expect(expired).toMatchObject({ ok: false, code: 'request_expired', problem: { status: 410 } });
    expect(result.current.value.pending.map((p) => p.requestId)).toStrictEqual([requestId]);
    expect(result.current.value.permissions[0]?.resolution).toBeUndefined();
    expect(result.current.session.status).toBe('requires_action');

    const unknown = await act(() => result.current.value.deny('no-such-request'));
    expect(unknown).toMatchObject({ ok: false, code: 'request_not_found' });
    expect(result.current.value.permissions).toHaveLength(1);
  });

  it('shows the answer that won when another one got there first', async () => {
    const { server, id, client: c, result } = await live(usePermissions);
    let requestId = '';
    await serverDoes(() => (requestId = server.requestPermission(id)));
    // Another tab denied it; this client has not heard yet.
    server.faults.hold = true;
    const winner: PermissionResolution = { requestId, decision: 'deny', remember: false, by: 'user', at: 'x', message: 'other tab' };
    server.resolvePermission(id, winner);
    const outcome = await act(() => result.current.value.allowOnce(requestId));
    expect(outcome).toMatchObject({ ok: false, code: 'already_resolved', winner });
    // The server's word, before the fold has it: shown as it is, not as our guess.
    expect(result.current.value.permissions[0]).toMatchObject({ optimistic: false, resolution: winner });
    expect(c.store.getState().sessions[id]?.state?.permissions?.[0]?.resolution).toBeUndefined();
    await act(async () => {
      server.release();
      await settle();
    });
    expect(result.current.value.permissions[0]).toMatchObject({ optimistic: false, resolution: winner });
    expect(c.store.getState().sessions[id]?.permissionAnswers).toStrictEqual({});
  });

  it('answers over the WebSocket too, with errors as values', async () => {
    const { server, id, result } = await live(usePermissions);
    let requestId = '';
    await serverDoes(() => (requestId = server.requestPermission(id)));
    const ok = await act(() => result.current.value.answer(requestId, { decision: 'allow' }, { via: 'socket' }));
    expect(ok).toMatchObject({ ok: true, data: { requestId, decision: 'allow' } });
    expect(server.received.at(-1)).toMatchObject({ type: 'answer_permission', sessionId: id, requestId, decision: 'allow', remember: false });
    const again = await act(() => result.current.value.answer(requestId, { decision: 'deny' }, { via: 'socket' }));
    expect(again).toMatchObject({ ok: false, code: 'already_resolved', winner: { decision: 'allow' } });
    expect(server.bodies.filter((b) => b.request.includes('/permissions/'))).toStrictEqual([]);
  });
});

describe('useQuestions', () => {
  const questions = [
    { question: 'Which color?', options: [{ label: 'Blue' }, { label: 'Red' }], multiSelect: false },
    { question: 'Which sizes?', options: [{ label: 'S' }, { label: 'M' }], multiSelect: true },
  ];

  it('answers every question at once, optimistically', async () => {
    const { server, id, result } = await live(useQuestions);
    let requestId = '';
    await serverDoes(() => (requestId = server.askQuestions(id, questions)));
    expect(result.current.session.status).toBe('requires_action');
    const answers = { 'Which color?': 'Teal, my own', 'Which sizes?': ['S', 'M'] };
    const slow = gate(server);
    let answered: ReturnType<typeof result.current.value.answer> | undefined;
    await act(async () => {
      answered = result.current.value.answer(requestId, answers);
      await settle();
    });
    expect(result.current.value.questions[0]).toMatchObject({ optimistic: true, resolution: { answers, by: 'user' } });
    expect(result.current.session.status).toBe('running');
    await act(async () => {
      slow.open();
      await settle();
    });
    expect(await answered).toMatchObject({ ok: true, data: { requestId, answers } });
    expect(result.current.value.questions[0]).toMatchObject({ optimistic: false, resolution: { answers } });
  });

  it('rolls back an answer the server finds invalid', async () => {
    const { server, id, result } = await live(useQuestions);
    let requestId = '';
    await serverDoes(() => (requestId = server.askQuestions(id, questions)));
    const outcome = await act(() => result.current.value.answer(requestId, { 'Which color?': 'Blue' }));
    expect(outcome).toMatchObject({ ok: false, code: 'invalid_request' });
    expect(result.current.value.pending.map((q) => q.requestId)).toStrictEqual([requestId]);
  });
});

describe('useBudget', () => {
  it('shows the limit reached, approves once, and raises the budget', async () => {
    const { server, id, result } = await live(useBudget);
    server.completeTurn(id);
    await serverDoes(() => server.append(id, [{ type: 'budget_exceeded', kind: 'turns', limit: 1, spent: 1 }]));
    expect(result.current.value.exceeded).toStrictEqual({ kind: 'turns', limit: 1, spent: 1 });
    expect(result.current.value.turns).toBe(1);
    expect(result.current.session.status).toBe('requires_action');

    const approved = await act(() => result.current.value.approve());
    expect(approved).toMatchObject({ ok: true, data: { kind: 'turns' } });
    await waitFor(() => expect(result.current.value.exceeded).toBeNull());
    expect(result.current.session.status).toBe('idle');
    const nothing = await act(() => result.current.value.approve());
    expect(nothing).toMatchObject({ ok: false, code: 'budget_not_exceeded' });

    await serverDoes(() => server.append(id, [{ type: 'budget_exceeded', kind: 'turns', limit: 1, spent: 2 }]));
    const raised = await act(() => result.current.value.setBudget({ maxTurns: 10 }));
    expect(raised).toMatchObject({ ok: true, data: { sessionId: id } });
    expect(server.bodies.at(-1)).toStrictEqual({ request: `PATCH /api/sessions/${id}`, body: { budget: { maxTurns: 10 } } });
    await waitFor(() => expect(result.current.value.budget).toStrictEqual({ maxTurns: 10 }));
    expect(result.current.value.exceeded).toBeNull();
  });
});

describe('useAgents', () => {
  it('lists the agents with what each can do', async () => {
    const { wrapper } = setup();
    const { result } = renderHook(() => useAgents(), { wrapper });
    expect(result.current.isLoading).toBe(true);
    await waitFor(() => expect(result.current.agents).toHaveLength(2));
    expect(result.current.getAgent('gemini-cli')?.capabilities).toStrictEqual({
      approvals: false,
      questions: false,
      permissionModes: ['bypass', 'plan'],
      resume: true,
      thinking: false,
      images: false,
      plan: false,
    });
    expect(result.current.getAgent('claude-code')?.name).toBe('Claude Code');
    expect(result.current.sandboxProviders.map((p) => [p.kind, p.default])).toStrictEqual([
      ['modal', true],
      ['local', false],
    ]);
  });
});

describe("the seed's provider config", () => {
  it('takes { apiUrl, wsUrl, apiKey } with wsUrl an origin', async () => {
    const server = new FakeServer();
    server.apiKey = 'seed-key';
    const id = server.createSession('from the seed');
    function Name() {
      const { session } = useAgentSession(id);
      return <p>{session?.name ?? 'loading'}</p>;
    }
    const view = render(
      <AgentServiceProvider
        config={{ apiUrl: 'http://fake', wsUrl: 'ws://fake', apiKey: 'seed-key', fetch: server.fetch, createSocket: server.createSocket, environment: null }}
      >
        <Name />
      </AgentServiceProvider>,
    );
    await view.findByText('from the seed');
    await waitFor(() => expect(server.socketUrls).toContain('ws://fake/api/ws'));
    expect(server.requests).toContain(`GET /api/sessions/${id}`);
    view.unmount();
  });

  it('lets flat props win over config', async () => {
    const server = new FakeServer();
    const id = server.createSession('flat wins');
    function Name() {
      return <p>{useAgentSession(id).session?.name ?? 'loading'}</p>;
    }
    const view = render(
      <AgentServiceProvider
        config={{ apiUrl: 'http://elsewhere', wsUrl: 'ws://elsewhere' }}
        baseUrl="http://fake"
        wsUrl="ws://fake/custom/ws"
        fetch={server.fetch}
        createSocket={server.createSocket}
        environment={null}
      >
        <Name />
      </AgentServiceProvider>,
    );
    await view.findByText('flat wins');
    await waitFor(() => expect(server.socketUrls).toStrictEqual(['ws://fake/custom/ws']));
    view.unmount();
  });

  it('turns a bare origin into the endpoint and leaves full URLs alone', () => {
    expect(webSocketEndpoint('ws://localhost:3000')).toBe('ws://localhost:3000/api/ws');
    expect(webSocketEndpoint('wss://example.com/')).toBe('wss://example.com/api/ws');
    expect(webSocketEndpoint('http://localhost:3000')).toBe('ws://localhost:3000/api/ws');
    expect(webSocketEndpoint('https://example.com')).toBe('wss://example.com/api/ws');
    expect(webSocketEndpoint('ws://localhost:3000/api/ws')).toBe('ws://localhost:3000/api/ws');
    expect(webSocketEndpoint('wss://example.com/proxy/ws?x=1')).toBe('wss://example.com/proxy/ws?x=1');
  });
});
