// The client's human-in-the-loop commands: answering permission requests and questions (shown
// as resolved at once, optimistically, until the server confirms or refuses) and approving or
// replacing a session's budget. `AgentClient` delegates its methods of the same names here; the
// pure local-answer logic they use is in approvals.ts.

import {
  latestRecord,
  optimisticPermission,
  optimisticQuestion,
  withLocalAnswer,
  type LocalAnswer,
  type LocalAnswers,
  type PermissionAnswer,
  type QuestionAnswers,
} from './approvals.js';
import type { CommandFrame, Connection } from './connection.js';
import { AgentRuntimeError, toActionResult, type ActionResult } from './errors.js';
import type {
  AnswerPermissionRequest,
  Budget,
  BudgetApproval,
  PermissionResolution,
  QuestionResolution,
  SessionInfo,
} from './generated/protocol.js';
import type { RestClient } from './rest.js';
import { applyInfo, sessionView, updateView } from './session-views.js';
import type { ClientState, SessionView } from './state.js';
import type { Store } from './store.js';

/** How an answer travels: over REST (default; answered even while the socket reconnects) or as a
 * WebSocket command. */
export interface AnswerOptions {
  via?: 'rest' | 'socket';
}

/** What the answer functions need of the client. */
export interface AnswerContext {
  readonly store: Store<ClientState>;
  readonly rest: RestClient;
  readonly connection: Connection;
  /** Hands an error to the client's `onError` and returns it as an `AgentRuntimeError`. */
  report(error: unknown, context: { sessionId?: string; operation: string }): AgentRuntimeError;
}

/** The resolution type of a view's local answers. */
type ResolutionOf<K extends 'permissionAnswers' | 'questionAnswers'> = K extends 'permissionAnswers'
  ? PermissionResolution
  : QuestionResolution;

/** Answers a permission request. The request shows as resolved at once (optimistic); the
 * server's resolution replaces that guess, or it is rolled back when the server refuses.
 * Never rejects: `{ok: false}` carries the error, and for `already_resolved` the `winner`. */
export async function answerPermission(
  client: AnswerContext,
  sessionId: string,
  requestId: string,
  answer: PermissionAnswer,
  options: AnswerOptions = {},
): Promise<ActionResult<PermissionResolution>> {
  const record = latestRecord(sessionView(client.store, sessionId)?.state?.permissions, requestId);
  const guess = optimisticPermission(record, requestId, answer, new Date().toISOString());
  setLocalAnswer(client, sessionId, 'permissionAnswers', requestId, { resolution: guess, confirmed: false });
  const body: AnswerPermissionRequest = {
    decision: answer.decision,
    remember: Boolean(answer.remember),
    saveToProfile: Boolean(answer.saveToProfile),
    ...(answer.message ? { message: answer.message } : {}),
    ...(answer.optionId ? { optionId: answer.optionId } : {}),
  };
  const result = await toActionResult(() =>
    options.via === 'socket'
      ? socketCommand<PermissionResolution>(client, { type: 'answer_permission', sessionId, requestId, ...body })
      : client.rest.answerPermission(sessionId, requestId, body),
  );
  settleLocalAnswer(client, sessionId, 'permissionAnswers', requestId, result, 'answerPermission');
  return result;
}

/** Answers a question request (every question, by its text), optimistically like
 * {@link answerPermission}. Never rejects. */
export async function answerQuestion(
  client: AnswerContext,
  sessionId: string,
  requestId: string,
  answers: QuestionAnswers,
  options: AnswerOptions = {},
): Promise<ActionResult<QuestionResolution>> {
  const guess = optimisticQuestion(requestId, answers, new Date().toISOString());
  setLocalAnswer(client, sessionId, 'questionAnswers', requestId, { resolution: guess, confirmed: false });
  const result = await toActionResult(() =>
    options.via === 'socket'
      ? socketCommand<QuestionResolution>(client, { type: 'answer_question', sessionId, requestId, answers })
      : client.rest.answerQuestion(sessionId, requestId, { answers }),
  );
  settleLocalAnswer(client, sessionId, 'questionAnswers', requestId, result, 'answerQuestion');
  return result;
}

/** Lets a session that reached its budget go on, once (`budget_approved` follows). Never
 * rejects; `budget_not_exceeded` when there was nothing to approve. */
export async function approveBudget(client: AnswerContext, sessionId: string): Promise<ActionResult<BudgetApproval>> {
  const result = await toActionResult(() => client.rest.approveBudget(sessionId));
  if (!result.ok) client.report(result.error, { sessionId, operation: 'approveBudget' });
  return result;
}

/** Replaces the session's own budget (`settings_changed` follows; a budget above what was
 * spent lets held messages run). Never rejects. */
export async function setBudget(client: AnswerContext, sessionId: string, budget: Budget): Promise<ActionResult<SessionInfo>> {
  const result = await toActionResult(() => client.rest.patchSession(sessionId, { budget }));
  if (result.ok) applyInfo(client.store, result.data);
  else client.report(result.error, { sessionId, operation: 'setBudget' });
  return result;
}

/** Sets (or, with null, drops) this client's answer to a request; an answer to a request the
 * state has already resolved is dropped, since the state's word wins. */
function setLocalAnswer<K extends 'permissionAnswers' | 'questionAnswers'>(
  client: AnswerContext,
  sessionId: string,
  key: K,
  requestId: string,
  answer: SessionView[K][string] | null,
): void {
  updateView(client.store, sessionId, (view) => {
    const records: readonly { requestId: string; resolution?: unknown }[] | undefined =
      key === 'permissionAnswers' ? view.state?.permissions : view.state?.questions;
    const keep = answer !== null && !latestRecord(records, requestId)?.resolution;
    const answers = view[key] as LocalAnswers<ResolutionOf<K>>;
    const next = withLocalAnswer(answers, requestId, keep ? (answer as LocalAnswer<ResolutionOf<K>>) : null);
    return next === answers ? view : { ...view, [key]: next };
  });
}

/** After the server answered: its resolution (or, when another answer won, the winner) stands
 * in until the event arrives; any other failure rolls the optimistic answer back. */
function settleLocalAnswer<K extends 'permissionAnswers' | 'questionAnswers'>(
  client: AnswerContext,
  sessionId: string,
  key: K,
  requestId: string,
  result: ActionResult<ResolutionOf<K>>,
  operation: string,
): void {
  type Answer = SessionView[K][string];
  if (result.ok) {
    setLocalAnswer(client, sessionId, key, requestId, { resolution: result.data, confirmed: true } as Answer);
    return;
  }
  setLocalAnswer(client, sessionId, key, requestId, result.winner ? ({ resolution: result.winner, confirmed: true } as Answer) : null);
  client.report(result.error, { sessionId, operation });
}

/** Sends a WebSocket command and resolves with its result's data; rejects with its problem. */
async function socketCommand<T>(client: AnswerContext, frame: CommandFrame): Promise<T> {
  const result = await client.connection.command(frame);
  if (result.ok) return result.data as T;
  throw result.error
    ? AgentRuntimeError.fromProblem(result.error)
    : new AgentRuntimeError('protocol', `${frame.type} failed`, { code: 'protocol_error' });
}
