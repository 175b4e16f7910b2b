// `plan` blocks in the TypeScript fold, step by step: an ACP agent's plan opens a block, each
// later version replaces all its entries through `block_update {entries}`, deltas and other
// kinds' fields leave it alone, and `block_complete` sets the final plan, as `apply_updates` in
// crates/protocol/src/state.rs does. The Rust fold's own result on such a log is the golden file
// golden/synthetic-plan.json (checked by fold.golden.test.ts).

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { emptySessionState, fold } from '../src/fold.js';
import type { Block, Envelope, PlanEntry, SessionEvent, SessionState } from '../src/generated/protocol.js';

const AT = '2026-01-01T00:00:00Z';

function envelopes(events: SessionEvent[]): Envelope[] {
  return events.map((event, i) => ({ sessionId: 's', seq: i + 1, at: AT, event }));
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

/** Freezes a value deeply, so a fold that mutates its input throws. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

function plan(id: string, entries: PlanEntry[]): Block {
  return { type: 'plan', id, at: AT, entries };
}

const first: PlanEntry[] = [
  { content: 'Read the failing test', priority: 'high', status: 'in_progress' },
  { content: 'Fix the parser', priority: 'medium', status: 'pending' },
];
const second: PlanEntry[] = [
  { content: 'Read the failing test', priority: 'high', status: 'completed' },
  { content: 'Fix the parser', priority: 'high', status: 'in_progress' },
  { content: 'Run the whole suite', priority: 'low', status: 'pending' },
];
const third: PlanEntry[] = [
  { content: 'Fix the parser', priority: 'high', status: 'completed' },
  { content: 'Run the whole suite', priority: 'low', status: 'in_progress' },
];

describe('plan blocks', () => {
  it('replace all entries on each update, ignore deltas and other fields, and complete with the final plan', () => {
    const final = third.map((entry) => ({ ...entry, status: 'completed' as const }));
    const states = steps([
      { type: 'block_start', conversationId: 'main', block: plan('plan_1', first) },
      { type: 'text_delta', conversationId: 'main', blockId: 'plan_1', delta: 'ignored' },
      { type: 'block_update', conversationId: 'main', blockId: 'plan_1', updates: { entries: second } },
      { type: 'block_update', conversationId: 'main', blockId: 'plan_1', updates: { status: 'error', subagentStatus: 'error' } },
      { type: 'block_update', conversationId: 'main', blockId: 'plan_1', updates: { entries: third } },
      { type: 'block_complete', conversationId: 'main', blockId: 'plan_1', block: plan('plan_1', final) },
    ]);
    expect(states.map((state) => state.blocks)).toStrictEqual([
      [plan('plan_1', first)],
      [plan('plan_1', first)],
      [plan('plan_1', second)],
      [plan('plan_1', second)],
      [plan('plan_1', third)],
      [plan('plan_1', final)],
    ]);
    // Events that change nothing keep the very same block.
    expect(states[1]?.blocks[0]).toBe(states[0]?.blocks[0]);
    expect(states[3]?.blocks[0]).toBe(states[2]?.blocks[0]);
  });

  it('never mutates the state it folds', () => {
    const start = deepFreeze(
      fold(emptySessionState(), {
        sessionId: 's',
        seq: 1,
        at: AT,
        event: { type: 'block_start', conversationId: 'main', block: plan('plan_1', first) },
      }),
    );
    const next = fold(start, {
      sessionId: 's',
      seq: 2,
      at: AT,
      event: { type: 'block_update', conversationId: 'main', blockId: 'plan_1', updates: { entries: second } },
    });
    expect(next.blocks).toStrictEqual([plan('plan_1', second)]);
    expect(start.blocks).toStrictEqual([plan('plan_1', first)]);
  });

  it('matches the Rust fold after every step of the golden plan log', () => {
    const golden = JSON.parse(
      readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'golden', 'synthetic-plan.json'), 'utf8'),
    ) as { envelopes: Envelope[]; state: SessionState };
    // The golden log replaces plan_1's entries twice before completing it; the TypeScript fold
    // shows each replacement, and ends where the Rust fold ended.
    let state = emptySessionState();
    const seen: PlanEntry[][] = [];
    for (const envelope of golden.envelopes) {
      state = fold(state, envelope);
      const block = state.blocks.find((b) => b.id === 'plan_1');
      if (block?.type === 'plan' && seen.at(-1) !== block.entries) seen.push(block.entries);
    }
    expect(seen.map((entries) => entries.map((entry) => entry.status))).toStrictEqual([
      ['in_progress', 'pending'],
      ['completed', 'in_progress', 'pending'],
      ['completed', 'in_progress'],
      ['completed', 'completed', 'completed'],
    ]);
    expect(JSON.parse(JSON.stringify(state))).toStrictEqual(golden.state);
  });
});
