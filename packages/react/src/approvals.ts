// Permission requests and questions as a client shows them: the folded records with this client's
// own answers laid over them until the server's `permission_resolved` / `question_resolved`
// confirms (or contradicts) them. Pure functions over the session view; the client calls them,
// the hooks select through them.

import type {
  PermissionDecision,
  PermissionRecord,
  PermissionResolution,
  QuestionAnswer,
  QuestionRecord,
  QuestionResolution,
  SessionState,
} from './generated/protocol.js';
import type { SessionView } from './state.js';

/** An answer to a permission request, as a client gives it. */
export interface PermissionAnswer {
  decision: PermissionDecision;
  /** Allow always: the request's `allow_always` rule becomes a rule of the session. */
  remember?: boolean;
  /** With `remember`: also add the rule to the session's profile. */
  saveToProfile?: boolean;
  /** The reason the agent sees on a deny. */
  message?: string;
  /** One of the request's options (e.g. an agent suggestion). */
  optionId?: string;
}

/** Answers to a question request, by question text. */
export type QuestionAnswers = Record<string, QuestionAnswer>;

/** A permission request as shown: `resolution` is the server's, or this client's own answer
 * while `optimistic`. */
export interface PermissionItem extends PermissionRecord {
  /** The resolution is this client's guess at its own answer, not yet confirmed by the server. */
  optimistic: boolean;
}

/** A question request as shown (see {@link PermissionItem}). */
export interface QuestionItem extends QuestionRecord {
  optimistic: boolean;
}

/** A resolution this client knows before the fold does: its own answer on the way
 * (`confirmed: false`), or what the server answered (its resolution, or the one that won). */
export interface LocalAnswer<R> {
  resolution: R;
  confirmed: boolean;
}

/** This client's answers the fold has not confirmed yet, by request id. */
export type LocalAnswers<R> = Readonly<Record<string, LocalAnswer<R>>>;

export const NO_LOCAL_ANSWERS: LocalAnswers<never> = Object.freeze({});

/** What the resolution will most likely be, shown while the answer is on its way. */
export function optimisticPermission(record: PermissionRecord | undefined, requestId: string, answer: PermissionAnswer, at: string): PermissionResolution {
  const remember = Boolean(answer.remember) && answer.decision === 'allow';
  const rule = remember ? record?.options.find((o) => o.kind === 'allow_always')?.rule : undefined;
  return {
    requestId,
    decision: answer.decision,
    remember,
    by: 'user',
    at,
    ...(answer.optionId ? { optionId: answer.optionId } : {}),
    ...(rule ? { rule } : {}),
    ...(answer.message ? { message: answer.message } : {}),
  };
}

export function optimisticQuestion(requestId: string, answers: QuestionAnswers, at: string): QuestionResolution {
  return { requestId, answers, by: 'user', at };
}

/** `answers` with `requestId` set to `answer`, or removed when it is null. */
export function withLocalAnswer<R>(answers: LocalAnswers<R>, requestId: string, answer: LocalAnswer<R> | null): LocalAnswers<R> {
  if (answer !== null) return { ...answers, [requestId]: answer };
  if (!(requestId in answers)) return answers;
  const { [requestId]: _gone, ...rest } = answers;
  return rest;
}

/** Drops the local answers whose request the state has resolved: the server's word replaces
 * them. Returns `answers` itself when nothing was dropped. */
export function dropConfirmed<R>(
  answers: LocalAnswers<R>,
  records: readonly { requestId: string; resolution?: unknown }[] | undefined,
): LocalAnswers<R> {
  const ids = Object.keys(answers);
  if (ids.length === 0) return answers;
  const resolved = ids.filter((id) => latestRecord(records, id)?.resolution);
  if (resolved.length === 0) return answers;
  const rest: Record<string, LocalAnswer<R>> = { ...answers };
  for (const id of resolved) delete rest[id];
  return rest;
}

/** A view whose local answers the new state confirmed are dropped. */
export function reconcileLocalAnswers(view: SessionView, state: SessionState): SessionView {
  const permissionAnswers = dropConfirmed(view.permissionAnswers, state.permissions);
  const questionAnswers = dropConfirmed(view.questionAnswers, state.questions);
  if (permissionAnswers === view.permissionAnswers && questionAnswers === view.questionAnswers) return view;
  return { ...view, permissionAnswers, questionAnswers };
}

/** The records with local answers laid over the open ones. */
export function withLocalResolutions<T extends { requestId: string; resolution?: R }, R>(
  records: readonly T[],
  answers: LocalAnswers<R>,
): (T & { optimistic: boolean })[] {
  return records.map((record) => {
    const local = record.resolution ? undefined : answers[record.requestId];
    return local ? { ...record, resolution: local.resolution, optimistic: !local.confirmed } : { ...record, optimistic: false };
  });
}

/** Someone must act: a budget was reached, or a request is open and this client has not
 * answered it. */
export function awaitsUser(view: SessionView): boolean {
  const state = view.state;
  if (!state || state.status !== 'requires_action') return false;
  if (state.budgetExceeded) return true;
  return (
    (state.permissions ?? []).some((r) => !r.resolution && !view.permissionAnswers[r.requestId]) ||
    (state.questions ?? []).some((r) => !r.resolution && !view.questionAnswers[r.requestId])
  );
}

/** The latest record with `requestId` (the one the fold resolves). */
export function latestRecord<T extends { requestId: string }>(records: readonly T[] | undefined, requestId: string): T | undefined {
  if (!records) return undefined;
  for (let i = records.length - 1; i >= 0; i--) {
    const record = records[i] as T;
    if (record.requestId === requestId) return record;
  }
  return undefined;
}
