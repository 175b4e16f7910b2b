// `network_denied` in the TypeScript fold: one entry per (host, port, reason) with its count and
// the `at` of the last refusal, moved to the end on each repeat, at most MAX_NETWORK_DENIALS, as
// `note_denial` in crates/protocol/src/state.rs does. The Rust fold's own result on such a log
// is the golden file golden/synthetic-network-denied.json (checked by fold.golden.test.ts).

import { describe, expect, it } from 'vitest';

import { MAX_NETWORK_DENIALS, emptySessionState, fold, foldAll } from '../src/fold.js';
import type { Envelope, SessionEvent, SessionState } from '../src/generated/protocol.js';
import { reconcileState } from '../src/reconcile.js';

function envelopes(events: SessionEvent[], firstSeq = 1): Envelope[] {
  return events.map((event, i) => ({
    sessionId: 's',
    seq: firstSeq + i,
    at: `2026-01-01T00:00:${String(firstSeq + i).padStart(2, '0')}Z`,
    event,
  }));
}

function denied(host: string, port: number, reason: string): SessionEvent {
  return { type: 'network_denied', host, port, reason };
}

/** Freezes a state deeply, so a fold that mutates its input throws. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

describe('network_denied', () => {
  it('leaves the field out of the empty state and of states without refusals', () => {
    expect('networkDenied' in emptySessionState()).toBe(false);
    const state = foldAll(envelopes([{ type: 'status', sandbox: 'ready' }, { type: 'warning', message: 'x' }]));
    expect('networkDenied' in state).toBe(false);
  });

  it('counts repeats of one destination and reason on one entry, moved to the end with the latest time', () => {
    const state = foldAll(
      envelopes([
        denied('api.evil.example', 443, 'not_allowlisted'),
        denied('169.254.169.254', 80, 'metadata'),
        denied('api.evil.example', 443, 'not_allowlisted'),
        denied('api.evil.example', 80, 'not_allowlisted'),
        denied('api.evil.example', 443, 'resolve_failed'),
      ]),
    );
    expect(state.networkDenied).toStrictEqual([
      { host: '169.254.169.254', port: 80, reason: 'metadata', count: 1, lastAt: '2026-01-01T00:00:02Z' },
      { host: 'api.evil.example', port: 443, reason: 'not_allowlisted', count: 2, lastAt: '2026-01-01T00:00:03Z' },
      { host: 'api.evil.example', port: 80, reason: 'not_allowlisted', count: 1, lastAt: '2026-01-01T00:00:04Z' },
      { host: 'api.evil.example', port: 443, reason: 'resolve_failed', count: 1, lastAt: '2026-01-01T00:00:05Z' },
    ]);
    expect(state.seq).toBe(5);
  });

  it(`keeps at most ${MAX_NETWORK_DENIALS} destinations, dropping the oldest`, () => {
    const hosts = Array.from({ length: MAX_NETWORK_DENIALS + 2 }, (_, i) => `h${i}.example`);
    let state = foldAll(envelopes(hosts.map((host) => denied(host, 443, 'not_allowlisted'))));
    expect(state.networkDenied?.map((d) => d.host)).toStrictEqual(hosts.slice(2));
    // A repeat at the cap drops nothing; a dropped destination comes back as a new entry.
    state = foldAll(
      envelopes([
        ...hosts.map((host) => denied(host, 443, 'not_allowlisted')),
        denied('h2.example', 443, 'not_allowlisted'),
        denied('h0.example', 443, 'not_allowlisted'),
      ]),
    );
    const list = state.networkDenied ?? [];
    expect(list).toHaveLength(MAX_NETWORK_DENIALS);
    expect(list.map((d) => d.host).slice(0, 2)).toStrictEqual(['h4.example', 'h5.example']);
    expect(list.slice(-2).map((d) => [d.host, d.count])).toStrictEqual([
      ['h2.example', 2],
      ['h0.example', 1],
    ]);
  });

  it('never mutates its input and keeps what the refusal did not touch', () => {
    const before = deepFreeze(
      foldAll(
        envelopes([
          { type: 'block_start', conversationId: 'main', block: { type: 'assistant_text', id: 'a', at: 'x', text: 'hi' } },
          { type: 'file_created', path: 'a.txt', size: 1, sha256: '0'.repeat(64) },
          denied('a.example', 443, 'not_allowlisted'),
          denied('b.example', 443, 'not_allowlisted'),
        ]),
      ),
    );
    const snapshot = JSON.stringify(before);
    const [repeat] = envelopes([denied('a.example', 443, 'not_allowlisted')], 5);
    const after = fold(before, repeat as Envelope);
    expect(JSON.stringify(before)).toBe(snapshot);
    expect(after.networkDenied).not.toBe(before.networkDenied);
    expect(after.networkDenied?.map((d) => `${d.host}:${d.count}`)).toStrictEqual(['b.example:1', 'a.example:2']);
    // The untouched entry keeps its identity, and so does everything else.
    expect(after.networkDenied?.[0]).toBe(before.networkDenied?.[1]);
    expect(after.blocks).toBe(before.blocks);
    expect(after.files).toBe(before.files);
    expect(after.runtime).toBe(before.runtime);
    // Other events leave the list itself alone.
    const [other] = envelopes([{ type: 'status', sandbox: 'ready' }], 6);
    expect(fold(after, other as Envelope).networkDenied).toBe(after.networkDenied);
  });

  it('keeps the list across a snapshot reload when it did not change', () => {
    const log = envelopes([denied('a.example', 443, 'not_allowlisted'), { type: 'status', sandbox: 'ready' }]);
    const live = foldAll(log);
    const reloaded = reconcileState(live, JSON.parse(JSON.stringify({ ...live, demo: true })) as SessionState);
    expect(reloaded.networkDenied).toBe(live.networkDenied);
    const withoutDenials = reconcileState(live, JSON.parse(JSON.stringify(emptySessionState())) as SessionState);
    expect('networkDenied' in withoutDenials).toBe(false);
  });
});

describe('status', () => {
  it('records where the sandbox runs, and keeps it when a later status does not say', () => {
    const state = foldAll(
      envelopes([
        { type: 'status', sandbox: 'starting' },
        { type: 'status', sandbox: 'ready', provider: 'modal' },
        { type: 'status', sandbox: 'stopped' },
      ]),
    );
    expect(state.runtime).toStrictEqual({ sandbox: 'stopped', sandboxProvider: 'modal' });
    expect('sandboxProvider' in foldAll(envelopes([{ type: 'status', sandbox: 'ready' }])).runtime).toBe(false);
  });
});
