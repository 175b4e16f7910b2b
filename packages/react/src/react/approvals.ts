// Hooks for the human in the loop: the agent's permission requests and questions, with functions
// to answer them (optimistic, errors as values), and the session's budget.

import { useCallback, useMemo } from 'react';

import {
  NO_LOCAL_ANSWERS,
  withLocalResolutions,
  type PermissionAnswer,
  type PermissionItem,
  type QuestionAnswers,
  type QuestionItem,
} from '../approvals.js';
import type { AnswerOptions } from '../answers.js';
import { AgentRuntimeError, type ActionResult } from '../errors.js';
import type {
  Budget,
  BudgetApproval,
  BudgetExceeded,
  PermissionOptionKind,
  PermissionRecord,
  PermissionResolution,
  QuestionRecord,
  QuestionResolution,
  SessionInfo,
} from '../generated/protocol.js';
import { useView, useWatchSession } from './hooks.js';
import { useAgentClient } from './provider.js';

export interface UsePermissionsResult {
  /** Every permission request, in the order asked, each with how it was closed (`resolution`,
   * this client's own answer while `optimistic`). */
  permissions: readonly PermissionItem[];
  /** The requests nobody has answered yet, oldest first. */
  pending: readonly PermissionItem[];
  /** Rules the user added with "allow always". */
  sessionRules: readonly string[];
  /** Answers a request: it shows as resolved at once and is reconciled with the server's answer
   * (rolled back when refused). Resolves to `{ok: false, code, winner?}` instead of rejecting. */
  answer: (requestId: string, answer: PermissionAnswer, options?: AnswerOptions) => Promise<ActionResult<PermissionResolution>>;
  allowOnce: (requestId: string) => Promise<ActionResult<PermissionResolution>>;
  /** Allows it and makes its rule a rule of the session (`saveToProfile`: of its profile too). */
  allowAlways: (requestId: string, options?: { saveToProfile?: boolean }) => Promise<ActionResult<PermissionResolution>>;
  /** Denies it; `message` is the reason the agent sees. */
  deny: (requestId: string, message?: string) => Promise<ActionResult<PermissionResolution>>;
}

/** The agent's permission requests in a session, live, and the functions to answer them. */
export function usePermissions(sessionId: string | null | undefined): UsePermissionsResult {
  const client = useAgentClient();
  useWatchSession(sessionId);
  const records = useView(sessionId, (view) => view?.state?.permissions ?? NO_PERMISSIONS);
  const local = useView(sessionId, (view) => view?.permissionAnswers ?? NO_LOCAL_ANSWERS);
  const sessionRules = useView(sessionId, (view) => view?.state?.sessionRules ?? NO_RULES);
  const permissions = useMemo(() => withLocalResolutions(records, local), [records, local]);
  const pending = useMemo(() => permissions.filter((p) => !p.resolution), [permissions]);

  const answer = useCallback(
    (requestId: string, given: PermissionAnswer, options?: AnswerOptions) => {
      if (!sessionId) return Promise.resolve(noSession<PermissionResolution>());
      return client.answerPermission(sessionId, requestId, given, options);
    },
    [client, sessionId],
  );
  /** The id of the request's option of `kind`, sent along when the request offers one. */
  const optionOf = useCallback(
    (requestId: string, kind: PermissionOptionKind) => {
      const option = records.find((r) => r.requestId === requestId)?.options.find((o) => o.kind === kind);
      return option ? { optionId: option.id } : {};
    },
    [records],
  );
  const allowOnce = useCallback(
    (requestId: string) => answer(requestId, { decision: 'allow', ...optionOf(requestId, 'allow_once') }),
    [answer, optionOf],
  );
  const allowAlways = useCallback(
    (requestId: string, options?: { saveToProfile?: boolean }) =>
      answer(requestId, {
        decision: 'allow',
        remember: true,
        saveToProfile: options?.saveToProfile ?? false,
        ...optionOf(requestId, 'allow_always'),
      }),
    [answer, optionOf],
  );
  const deny = useCallback(
    (requestId: string, message?: string) =>
      answer(requestId, { decision: 'deny', ...(message?.trim() ? { message: message.trim() } : {}), ...optionOf(requestId, 'deny') }),
    [answer, optionOf],
  );
  return useMemo(
    () => ({ permissions, pending, sessionRules, answer, allowOnce, allowAlways, deny }),
    [permissions, pending, sessionRules, answer, allowOnce, allowAlways, deny],
  );
}

export interface UseQuestionsResult {
  /** Every question request, in the order asked, with its answers once closed. */
  questions: readonly QuestionItem[];
  /** The requests nobody has answered yet, oldest first. */
  pending: readonly QuestionItem[];
  /** Answers every question of a request, by question text (one label or free text, or several
   * for a multi-select question). Optimistic; never rejects. */
  answer: (requestId: string, answers: QuestionAnswers, options?: AnswerOptions) => Promise<ActionResult<QuestionResolution>>;
}

/** The agent's questions to the user in a session, live, and the function to answer them. */
export function useQuestions(sessionId: string | null | undefined): UseQuestionsResult {
  const client = useAgentClient();
  useWatchSession(sessionId);
  const records = useView(sessionId, (view) => view?.state?.questions ?? NO_QUESTIONS);
  const local = useView(sessionId, (view) => view?.questionAnswers ?? NO_LOCAL_ANSWERS);
  const questions = useMemo(() => withLocalResolutions(records, local), [records, local]);
  const pending = useMemo(() => questions.filter((q) => !q.resolution), [questions]);
  const answer = useCallback(
    (requestId: string, answers: QuestionAnswers, options?: AnswerOptions) => {
      if (!sessionId) return Promise.resolve(noSession<QuestionResolution>());
      return client.answerQuestion(sessionId, requestId, answers, options);
    },
    [client, sessionId],
  );
  return useMemo(() => ({ questions, pending, answer }), [questions, pending, answer]);
}

export interface UseBudgetResult {
  /** The limit reached, until the budget is raised or the overrun approved. */
  exceeded: BudgetExceeded | null;
  /** The session's own budget (over its profile's), if it set one. */
  budget: Budget | null;
  /** Spent so far: dollars and turns. */
  costUsd: number;
  turns: number;
  /** Goes on past the limit reached, once. Never rejects. */
  approve: () => Promise<ActionResult<BudgetApproval>>;
  /** Replaces the session's own budget. Never rejects. */
  setBudget: (budget: Budget) => Promise<ActionResult<SessionInfo>>;
}

/** A session's budget: the limit it reached, if any, and the actions that let it go on. */
export function useBudget(sessionId: string | null | undefined): UseBudgetResult {
  const client = useAgentClient();
  useWatchSession(sessionId);
  const exceeded = useView(sessionId, (view) => view?.state?.budgetExceeded ?? null);
  const budget = useView(sessionId, (view) => view?.state?.settings?.budget ?? null);
  const costUsd = useView(sessionId, (view) => view?.state?.costUsd ?? 0);
  const turns = useView(sessionId, (view) => view?.state?.turns ?? 0);
  const approve = useCallback(
    () => (sessionId ? client.approveBudget(sessionId) : Promise.resolve(noSession<BudgetApproval>())),
    [client, sessionId],
  );
  const setBudget = useCallback(
    (next: Budget) => (sessionId ? client.setBudget(sessionId, next) : Promise.resolve(noSession<SessionInfo>())),
    [client, sessionId],
  );
  return useMemo(
    () => ({ exceeded, budget, costUsd, turns, approve, setBudget }),
    [exceeded, budget, costUsd, turns, approve, setBudget],
  );
}

function noSession<T>(): ActionResult<T> {
  const error = new AgentRuntimeError('protocol', 'There is no session to act on', { code: 'no_session' });
  return { ok: false, error, code: error.code };
}

const NO_PERMISSIONS: readonly PermissionRecord[] = Object.freeze([]);
const NO_QUESTIONS: readonly QuestionRecord[] = Object.freeze([]);
const NO_RULES: readonly string[] = Object.freeze([]);
