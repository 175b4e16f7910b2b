// How a closed request and a reached budget read, in words.

import type { BudgetExceeded, BudgetKind, PermissionResolution, QuestionResolution } from '@agent-runtime/react';

import { formatCost } from '../../format';

/** "Allowed once by you", "Denied: nobody answered in time", ... */
export function permissionOutcome(resolution: PermissionResolution, optimistic: boolean): string {
  const allowed = resolution.decision === 'allow';
  if (optimistic) return allowed ? (resolution.remember ? 'Allowing always…' : 'Allowing…') : 'Denying…';
  let text: string;
  switch (resolution.by) {
    case 'user':
      text = allowed ? (resolution.remember ? 'Allowed always by you' : 'Allowed once by you') : 'Denied by you';
      break;
    case 'timeout':
      text = allowed ? 'Allowed' : 'Denied: nobody answered in time';
      break;
    case 'runtime':
      text = allowed ? 'Allowed' : 'Closed: the turn ended before an answer';
      break;
  }
  return `${text}${continuationText(resolution.continuation)}`;
}

export function questionOutcome(resolution: QuestionResolution, optimistic: boolean): string {
  if (optimistic) return 'Sending your answers…';
  switch (resolution.by) {
    case 'user':
      return `Answered by you${continuationText(resolution.continuation)}`;
    case 'timeout':
      return 'Closed: nobody answered in time';
    case 'runtime':
      return 'Closed: the turn ended before an answer';
  }
}

function continuationText(continuation: PermissionResolution['continuation']): string {
  if (continuation === 'resumed') return ' · the agent was resumed with the answer';
  if (continuation === 'expired') return ' · the agent could not be resumed';
  return '';
}

/** What a failed answer means to the user. */
export function answerErrorText(code: string, message: string): string {
  switch (code) {
    case 'already_resolved':
      return 'Your answer came too late: the request was already closed.';
    case 'request_expired':
      return 'This request expired before your answer arrived.';
    case 'request_not_found':
      return 'The server no longer knows this request.';
    default:
      return message;
  }
}

const BUDGET_NAMES: Record<BudgetKind, string> = {
  cost: 'cost limit',
  turns: 'turn limit',
  turn_time: 'time limit of a turn',
};

export function budgetName(kind: BudgetKind): string {
  return BUDGET_NAMES[kind];
}

/** A limit or an amount spent, in the limit's unit. */
export function budgetAmount(kind: BudgetKind, value: number): string {
  switch (kind) {
    case 'cost':
      return formatCost(value);
    case 'turns':
      return `${value} ${value === 1 ? 'turn' : 'turns'}`;
    case 'turn_time':
      return `${Math.round(value)} s`;
  }
}

/** "$0.55 spent of a $0.50 limit". */
export function budgetSpentText(exceeded: BudgetExceeded): string {
  return `${budgetAmount(exceeded.kind, exceeded.spent)} spent of ${budgetAmount(exceeded.kind, exceeded.limit)}`;
}
