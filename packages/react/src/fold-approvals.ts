// The human-in-the-loop part of the fold (permission requests, questions, budgets, settings) and
// the derived `status`: the mirror of the matching arms of `apply` and of `derive_status` in
// `crates/protocol/src/state.rs`. Pure and never mutating, like the rest of fold.ts.

import type {
  PermissionRecord,
  QuestionRecord,
  SessionEvent,
  SessionSettings,
  SessionState,
  SessionStatus,
} from './generated/protocol.js';

/** The events this module folds. */
export type ApprovalEvent = Extract<
  SessionEvent,
  {
    type:
      | 'permission_requested'
      | 'permission_resolved'
      | 'question_requested'
      | 'question_resolved'
      | 'budget_exceeded'
      | 'budget_approved'
      | 'settings_changed';
  }
>;

/** Folds one human-in-the-loop event into `state`. Lists stay absent while empty and `settings`
 * while it sets nothing, as serde leaves them out of the Rust state. */
export function applyApprovalEvent(state: SessionState, event: ApprovalEvent): SessionState {
  switch (event.type) {
    case 'permission_requested': {
      const { type: _type, ...request } = event;
      return { ...state, permissions: [...(state.permissions ?? []), request] };
    }
    case 'permission_resolved': {
      const { type: _type, ...resolution } = event;
      const records = state.permissions ?? [];
      const index = lastIndexOfRequest(records, resolution.requestId);
      // Only the latest record with that id, and only while it is open (Rust: `rev().find()`
      // then `filter(resolution.is_none())`): a second answer never overwrites the first.
      if (index < 0 || (records[index] as PermissionRecord).resolution) return state;
      const permissions = records.slice();
      permissions[index] = { ...(records[index] as PermissionRecord), resolution };
      const next: SessionState = { ...state, permissions };
      const rule = resolution.remember ? resolution.rule : undefined;
      if (rule != null && !(state.sessionRules ?? []).includes(rule)) {
        next.sessionRules = [...(state.sessionRules ?? []), rule];
      }
      return next;
    }
    case 'question_requested': {
      const { type: _type, ...request } = event;
      return { ...state, questions: [...(state.questions ?? []), request] };
    }
    case 'question_resolved': {
      const { type: _type, ...resolution } = event;
      const records = state.questions ?? [];
      const index = lastIndexOfRequest(records, resolution.requestId);
      if (index < 0 || (records[index] as QuestionRecord).resolution) return state;
      const questions = records.slice();
      questions[index] = { ...(records[index] as QuestionRecord), resolution };
      return { ...state, questions };
    }
    case 'budget_exceeded': {
      const { type: _type, ...exceeded } = event;
      return { ...state, budgetExceeded: exceeded };
    }
    case 'budget_approved':
      return withoutBudgetExceeded(state);
    case 'settings_changed': {
      const { type: _type, ...given } = event;
      // A new budget is checked again at the next boundary.
      const { settings: _old, ...rest } = withoutBudgetExceeded(state);
      const settings = presentSettings(given);
      return settings ? { ...rest, settings } : rest;
    }
  }
}

/** `requires_action` while a budget was reached or a request waits for an answer, else
 * `running` while a turn runs, else `idle` (Rust's `derive_status`). */
export function deriveStatus(state: SessionState): SessionStatus {
  if (state.budgetExceeded || hasOpen(state.permissions) || hasOpen(state.questions)) return 'requires_action';
  return state.runtime.activeTurnId ? 'running' : 'idle';
}

function hasOpen(records: readonly { resolution?: unknown }[] | undefined): boolean {
  return records?.some((record) => !record.resolution) ?? false;
}

function lastIndexOfRequest(records: readonly { requestId: string }[], requestId: string): number {
  for (let i = records.length - 1; i >= 0; i--) {
    if ((records[i] as { requestId: string }).requestId === requestId) return i;
  }
  return -1;
}

function withoutBudgetExceeded(state: SessionState): SessionState {
  if (!state.budgetExceeded) return state;
  const { budgetExceeded: _cleared, ...rest } = state;
  return rest;
}

/** The settings with only the fields that are set, or undefined when none is
 * (`SessionSettings::is_default`). */
function presentSettings(given: SessionSettings): SessionSettings | undefined {
  const settings: SessionSettings = {};
  if (given.permissionMode != null) settings.permissionMode = given.permissionMode;
  if (given.budget != null) settings.budget = given.budget;
  return settings.permissionMode === undefined && settings.budget === undefined ? undefined : settings;
}
