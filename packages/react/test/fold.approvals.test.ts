// Permission requests, questions, budgets and settings in the TypeScript fold, step by step, with
// the derived `status` after every event, as `apply` and `derive_status` in
// crates/protocol/src/state.rs do. The Rust fold's own result on such a log is the golden file
// golden/synthetic-approvals.json (checked by fold.golden.test.ts).

import { describe, expect, it } from 'vitest';

import { emptySessionState, fold, foldAll } from '../src/fold.js';
import type {
  Envelope,
  PermissionRequest,
  PermissionResolution,
  SessionEvent,
  SessionState,
} from '../src/generated/protocol.js';
import { reconcileState } from '../src/reconcile.js';

const AT = '2026-01-01T00:00:00Z';

/** A value as it goes over the wire (`undefined` properties dropped, as serde skips `None`). */
function wire(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function envelopes(events: SessionEvent[], firstSeq = 1): Envelope[] {
  return events.map((event, i) => ({ sessionId: 's', seq: firstSeq + i, at: AT, event }));
}

/** The state after each event. */
function steps(events: SessionEvent[]): SessionState[] {
  const out: SessionState[] = [];
  let state = emptySessionState();
  for (const envelope of envelopes(events)) {
    state = fold(state, envelope);
    out.push(state);
  }
  return out;
}

function request(requestId: string, command = 'touch a'): PermissionRequest {
  return {
    requestId,
    toolUseId: `toolu_${requestId}`,
    tool: 'Bash',
    input: { command },
    options: [
      { id: 'allow_once', kind: 'allow_once', label: 'Allow once' },
      { id: 'allow_always', kind: 'allow_always', label: 'Allow always', rule: `Bash(${command})` },
      { id: 'deny', kind: 'deny', label: 'Deny' },
    ],
    expiresAt: '2026-01-01T00:30:00Z',
    turnId: 't1',
  };
}

function asked(requestId: string, command?: string): SessionEvent {
  return { type: 'permission_requested', ...request(requestId, command) };
}

function resolved(requestId: string, fields: Partial<PermissionResolution> = {}): SessionEvent {
  return { type: 'permission_resolved', requestId, decision: 'allow', remember: false, by: 'user', at: AT, ...fields };
}

const turnStarted = (turnId: string): SessionEvent => ({ type: 'turn_started', turnId, userBlockId: `u_${turnId}` });
const turnCompleted = (turnId: string): SessionEvent => ({
  type: 'turn_completed',
  turnId,
  reason: 'completed',
  usage: { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
  costUsd: 0.1,
  durationMs: 5,
});

/** Freezes a state deeply, so a fold that mutates its input throws. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

describe('the empty state', () => {
  it('is idle with no turns, and leaves the approval fields out as serde does', () => {
    expect(wire(emptySessionState())).toStrictEqual({
      seq: 0,
      runtime: { sandbox: 'none' },
      blocks: [],
      subagents: {},
      files: [],
      usage: { inputTokens: 0, outputTokens: 0, cacheReadInputTokens: 0, cacheCreationInputTokens: 0 },
      costUsd: 0,
      demo: false,
      status: 'idle',
      turns: 0,
    });
  });
});

describe('status and turns', () => {
  it('runs while a turn runs, requires action while a request is open, and counts turns started', () => {
    const states = steps([
      turnStarted('t1'),
      asked('p1'),
      asked('p2'),
      resolved('p1'),
      resolved('p2', { decision: 'deny', message: 'no' }),
      turnCompleted('t1'),
      turnStarted('t2'),
      turnCompleted('t2'),
    ]);
    expect(states.map((s) => s.status)).toStrictEqual([
      'running',
      'requires_action',
      'requires_action',
      'requires_action', // p2 is still open
      'running',
      'idle',
      'running',
      'idle',
    ]);
    expect(states.map((s) => s.turns)).toStrictEqual([1, 1, 1, 1, 1, 1, 2, 2]);
  });

  it('requires action while a question is open, even with no turn running', () => {
    const states = steps([
      { type: 'question_requested', requestId: 'q1', questions: [], expiresAt: AT },
      { type: 'question_resolved', requestId: 'q1', answers: {}, by: 'timeout', at: AT },
    ]);
    expect(states.map((s) => s.status)).toStrictEqual(['requires_action', 'idle']);
  });
});

describe('permission requests', () => {
  it('records requests in order, each with the first resolution that closed it', () => {
    const state = foldAll(
      envelopes([
        asked('p1'),
        asked('p2', 'rm b'),
        resolved('p2', { decision: 'deny', message: 'not that', optionId: 'deny' }),
        resolved('p2', { decision: 'allow' }), // too late: the first answer stands
        resolved('nope'), // unknown: nothing happens
      ]),
    );
    expect(wire(state.permissions)).toStrictEqual([
      request('p1'),
      {
        ...request('p2', 'rm b'),
        resolution: { requestId: 'p2', decision: 'deny', remember: false, by: 'user', at: AT, optionId: 'deny', message: 'not that' },
      },
    ]);
    expect(state.seq).toBe(5);
    expect(state.status).toBe('requires_action');
  });

  it('resolves only the latest request with an id, and only while it is open', () => {
    const state = foldAll(envelopes([asked('p1'), resolved('p1'), asked('p1', 'again'), resolved('p1', { decision: 'deny' })]));
    expect(state.permissions?.map((r) => [r.input, r.resolution?.decision])).toStrictEqual([
      [{ command: 'touch a' }, 'allow'],
      [{ command: 'again' }, 'deny'],
    ]);
  });

  it('adds a remembered rule to the session once, and only when remembered', () => {
    const rule = 'Bash(touch a)';
    const states = steps([
      asked('p1'),
      resolved('p1', { remember: true, rule }),
      asked('p2'),
      resolved('p2', { remember: true, rule }),
      asked('p3', 'ls'),
      resolved('p3', { remember: false, rule: 'Bash(ls)' }),
    ]);
    expect(states.map((s) => s.sessionRules)).toStrictEqual([undefined, [rule], [rule], [rule], [rule], [rule]]);
    // A repeat leaves the list itself alone.
    expect(states[3]?.sessionRules).toBe(states[1]?.sessionRules);
  });

  it('keeps a second answer from touching the rules', () => {
    const state = foldAll(envelopes([asked('p1'), resolved('p1'), resolved('p1', { remember: true, rule: 'Bash(x)' })]));
    expect(state.sessionRules).toBeUndefined();
  });
});

describe('questions', () => {
  it('records the questions and their answers', () => {
    const questions = [{ question: 'Which color?', header: 'Color', options: [{ label: 'Blue' }, { label: 'Red' }], multiSelect: true }];
    const state = foldAll(
      envelopes([
        { type: 'question_requested', requestId: 'q1', toolUseId: 'toolu_q', questions, expiresAt: AT },
        { type: 'question_resolved', requestId: 'q1', answers: { 'Which color?': ['Blue', 'Teal'] }, by: 'user', at: AT, continuation: 'resumed' },
        { type: 'question_resolved', requestId: 'q1', answers: {}, by: 'timeout', at: AT },
      ]),
    );
    expect(wire(state.questions)).toStrictEqual([
      {
        requestId: 'q1',
        toolUseId: 'toolu_q',
        questions,
        expiresAt: AT,
        resolution: { requestId: 'q1', answers: { 'Which color?': ['Blue', 'Teal'] }, by: 'user', at: AT, continuation: 'resumed' },
      },
    ]);
  });
});

describe('budgets and settings', () => {
  it('requires action from budget_exceeded until it is approved or the budget changes', () => {
    const exceeded: SessionEvent = { type: 'budget_exceeded', kind: 'cost', limit: 0.5, spent: 0.55 };
    const states = steps([
      exceeded,
      { type: 'budget_approved', kind: 'cost', at: AT },
      exceeded,
      { type: 'settings_changed', budget: { maxCostUsd: 2 } },
    ]);
    expect(states.map((s) => s.status)).toStrictEqual(['requires_action', 'idle', 'requires_action', 'idle']);
    expect(states.map((s) => s.budgetExceeded)).toStrictEqual([
      { kind: 'cost', limit: 0.5, spent: 0.55 },
      undefined,
      { kind: 'cost', limit: 0.5, spent: 0.55 },
      undefined,
    ]);
    expect(states.map((s) => 'budgetExceeded' in s)).toStrictEqual([true, false, true, false]);
  });

  it('replaces the settings as a whole, and leaves them out when nothing is set', () => {
    const states = steps([
      { type: 'settings_changed', permissionMode: 'default', budget: { maxCostUsd: 0.5, maxTurnSecs: 600 } },
      { type: 'settings_changed', budget: { maxTurns: 3 } },
      { type: 'settings_changed' },
    ]);
    expect(states.map((s) => wire(s.settings))).toStrictEqual([
      { permissionMode: 'default', budget: { maxCostUsd: 0.5, maxTurnSecs: 600 } },
      { budget: { maxTurns: 3 } },
      undefined,
    ]);
    expect('settings' in (states[2] as SessionState)).toBe(false);
    // An empty budget is still a budget that was set (Rust: `Some(Budget::default())`).
    expect(wire(foldAll(envelopes([{ type: 'settings_changed', budget: {} }])).settings)).toStrictEqual({ budget: {} });
  });
});

describe('identity', () => {
  it('never mutates its input and keeps what an event did not touch', () => {
    const before = deepFreeze(
      foldAll(
        envelopes([
          { type: 'block_start', conversationId: 'main', block: { type: 'assistant_text', id: 'a', at: AT, text: 'hi' } },
          asked('p1'),
          asked('p2'),
          resolved('p1', { remember: true, rule: 'Bash(touch a)' }),
        ]),
      ),
    );
    const json = JSON.stringify(before);
    const [answer] = envelopes([resolved('p2', { decision: 'deny' })], 5);
    const after = fold(before, answer as Envelope);
    expect(JSON.stringify(before)).toBe(json);
    expect(after.permissions?.[0]).toBe(before.permissions?.[0]);
    expect(after.permissions?.[1]).not.toBe(before.permissions?.[1]);
    expect(after.blocks).toBe(before.blocks);
    expect(after.sessionRules).toBe(before.sessionRules);
    expect(after.status).toBe('idle');
    // Other events leave the lists alone.
    const [other] = envelopes([{ type: 'status', sandbox: 'ready' }], 6);
    const later = fold(after, other as Envelope);
    expect(later.permissions).toBe(after.permissions);
  });

  it('keeps unchanged records across a snapshot reload', () => {
    const live = foldAll(envelopes([asked('p1'), asked('p2'), resolved('p1')]));
    const reloaded = reconcileState(live, JSON.parse(JSON.stringify(live)) as SessionState);
    expect(reloaded).toBe(live);
    const moved = foldAll(envelopes([asked('p1'), asked('p2'), resolved('p1'), resolved('p2')]));
    const merged = reconcileState(live, JSON.parse(JSON.stringify(moved)) as SessionState);
    expect(merged.permissions?.[0]).toBe(live.permissions?.[0]);
    expect(merged.permissions?.[1]).not.toBe(live.permissions?.[1]);
    expect(wire(merged)).toStrictEqual(wire(moved));
  });
});
