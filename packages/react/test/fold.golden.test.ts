// The TypeScript fold against the Rust one: every golden file (written by
// crates/agents/tests/golden_fold.rs from the shared fixtures) holds numbered envelopes and the
// state `agent_runtime_protocol::fold_all` made of them. Folding the same envelopes here must give
// the same JSON.

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { emptySessionState, fold, foldAll } from '../src/fold.js';
import type { Block, Envelope, SessionState } from '../src/generated/protocol.js';

const goldenDir = join(dirname(fileURLToPath(import.meta.url)), 'golden');
const goldenFiles = readdirSync(goldenDir).filter((name) => name.endsWith('.json')).sort();

interface Golden {
  source: string;
  envelopes: Envelope[];
  state: SessionState;
}

function load(name: string): Golden {
  return JSON.parse(readFileSync(join(goldenDir, name), 'utf8')) as Golden;
}

/** The state as it would go over the wire (drops `undefined`, as serde skips `None`). */
function wire(state: SessionState): unknown {
  return JSON.parse(JSON.stringify(state));
}

function allBlocks(state: SessionState): Block[] {
  return [...state.blocks, ...Object.values(state.subagents).flatMap((thread) => thread.blocks)];
}

describe('fold equals the Rust fold', () => {
  it('has golden files for the Claude fixtures and the synthetic log', () => {
    expect(goldenFiles.filter((name) => name.startsWith('claude-')).length).toBeGreaterThan(20);
    expect(goldenFiles).toContain('synthetic-runtime-events.json');
  });

  it.each(goldenFiles)('%s', (name) => {
    const golden = load(name);
    expect(golden.envelopes.length).toBeGreaterThan(0);
    expect(wire(foldAll(golden.envelopes))).toStrictEqual(golden.state);
  });
});

describe('fold keeps what an event did not touch', () => {
  it.each(goldenFiles)('%s: untouched blocks keep their identity', (name) => {
    const { envelopes } = load(name);
    let state = emptySessionState();
    for (const envelope of envelopes) {
      const before = new Map(allBlocks(state).map((block) => [block.id, block]));
      const next = fold(state, envelope);
      const event = envelope.event;
      const touched = 'blockId' in event ? event.blockId : 'block' in event ? event.block.id : undefined;
      for (const block of allBlocks(next)) {
        if (block.id !== touched && before.has(block.id)) {
          expect(block).toBe(before.get(block.id));
        }
      }
      // The input state is never mutated.
      expect(state.seq).toBe(envelope.seq - 1);
      state = next;
    }
  });

  it('returns the same blocks array for events that do not change a thread', () => {
    const { envelopes } = load('synthetic-runtime-events.json');
    let state = emptySessionState();
    for (const envelope of envelopes) {
      const next = fold(state, envelope);
      if (!['block_start', 'block_complete', 'text_delta', 'block_update'].includes(envelope.event.type)) {
        expect(next.blocks).toBe(state.blocks);
      }
      state = next;
    }
  });
});
