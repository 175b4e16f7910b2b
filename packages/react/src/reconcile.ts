// Keeps object identity across a snapshot reload: when a fresh snapshot replaces the state (after
// `resync_required`, say), every block, thread and list that did not change is taken from the
// previous state, so React re-renders only what really changed.

import type { Block, SessionState, SubagentThread } from './generated/protocol.js';

/** `next`, with every part that deep-equals its counterpart in `prev` replaced by that part. */
export function reconcileState(prev: SessionState | null, next: SessionState): SessionState {
  if (!prev) return next;
  if (deepEqual(prev, next)) return prev;
  const subagents: Record<string, SubagentThread> = {};
  let sameSubagents = Object.keys(prev.subagents).length === Object.keys(next.subagents).length;
  for (const [id, thread] of Object.entries(next.subagents)) {
    const before = prev.subagents[id];
    const merged = before ? reconcileThread(before, thread) : thread;
    if (merged !== before) sameSubagents = false;
    subagents[id] = merged;
  }
  const merged: SessionState = {
    ...next,
    runtime: deepEqual(prev.runtime, next.runtime) ? prev.runtime : next.runtime,
    blocks: reconcileBlocks(prev.blocks, next.blocks),
    subagents: sameSubagents ? prev.subagents : subagents,
    files: deepEqual(prev.files, next.files) ? prev.files : next.files,
    usage: deepEqual(prev.usage, next.usage) ? prev.usage : next.usage,
  };
  // Absent when empty, as on the wire: never set to `undefined`.
  if (next.networkDenied && deepEqual(prev.networkDenied, next.networkDenied)) merged.networkDenied = prev.networkDenied;
  if (next.permissions) merged.permissions = reconcileList(prev.permissions, next.permissions);
  if (next.questions) merged.questions = reconcileList(prev.questions, next.questions);
  if (next.sessionRules && deepEqual(prev.sessionRules, next.sessionRules)) merged.sessionRules = prev.sessionRules;
  if (next.settings && deepEqual(prev.settings, next.settings)) merged.settings = prev.settings;
  if (next.budgetExceeded && deepEqual(prev.budgetExceeded, next.budgetExceeded)) merged.budgetExceeded = prev.budgetExceeded;
  return merged;
}

function reconcileThread(prev: SubagentThread, next: SubagentThread): SubagentThread {
  if (deepEqual(prev, next)) return prev;
  return { ...next, blocks: reconcileBlocks(prev.blocks, next.blocks) };
}

/** Records of `next` (by `requestId`), reusing each unchanged record of `prev`, and `prev` itself
 * when nothing changed. */
function reconcileList<T extends { requestId: string }>(prev: T[] | undefined, next: T[]): T[] {
  if (!prev) return next;
  let same = prev.length === next.length;
  const out = next.map((record, index) => {
    const before = prev[index];
    const kept = before && before.requestId === record.requestId && deepEqual(before, record) ? before : record;
    if (kept !== before) same = false;
    return kept;
  });
  return same ? prev : out;
}

/** Blocks of `next`, reusing each block of `prev` with the same id and content. */
export function reconcileBlocks(prev: Block[], next: Block[]): Block[] {
  const byId = new Map(prev.map((block) => [block.id, block]));
  let same = prev.length === next.length;
  const out = next.map((block, index) => {
    const before = byId.get(block.id);
    const kept = before && deepEqual(before, block) ? before : block;
    if (kept !== prev[index]) same = false;
    return kept;
  });
  return same ? prev : out;
}

/** Structural equality of JSON values (`undefined` properties count as absent). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (const key of ka) if (!deepEqual(ra[key], rb[key])) return false;
  return true;
}
