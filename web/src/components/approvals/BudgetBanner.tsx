// Above the conversation while the session has reached a budget limit: which limit, what was
// spent, and the two ways on: approve the overrun once, or raise the limit.

import { useBudget, type Budget, type BudgetKind } from '@agent-runtime/react';
import { useState, type FormEvent } from 'react';

import { AlertIcon } from '../icons';
import { budgetName, budgetSpentText } from './wording';

/** The field of a budget that holds each kind of limit. */
const FIELD: Record<BudgetKind, keyof Budget> = {
  cost: 'maxCostUsd',
  turns: 'maxTurns',
  turn_time: 'maxTurnSecs',
};

const UNIT: Record<BudgetKind, string> = { cost: 'US$', turns: 'turns', turn_time: 'seconds' };

export function BudgetBanner({ sessionId }: { sessionId: string }) {
  const { exceeded, budget, approve, setBudget } = useBudget(sessionId);
  const [limit, setLimit] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!exceeded) return null;
  const { kind } = exceeded;

  async function run(action: () => Promise<{ ok: boolean; error?: { message: string } }>) {
    setBusy(true);
    setError(null);
    const result = await action();
    setBusy(false);
    if (!result.ok) setError(result.error?.message ?? 'Something went wrong');
  }

  function raise(event: FormEvent) {
    event.preventDefault();
    const value = Number(limit);
    if (!Number.isFinite(value) || value <= 0) {
      setError('Enter a limit above zero.');
      return;
    }
    const next: Budget = { ...(budget ?? {}), [FIELD[kind]]: kind === 'cost' ? value : Math.ceil(value) };
    void run(() => setBudget(next)).then(() => setLimit(''));
  }

  return (
    <div className="budget-banner" role="alert" data-testid="budget-banner" data-kind={kind}>
      <AlertIcon size={16} />
      <div className="budget-banner-body">
        <div>
          <strong>Budget reached: the {budgetName(kind)}.</strong> <span data-testid="budget-spent">{budgetSpentText(exceeded)}</span>. The agent
          stopped; new messages wait until you let it go on.
        </div>
        <div className="budget-banner-actions">
          <button type="button" className="button small primary" disabled={busy} onClick={() => void run(approve)} data-testid="budget-approve">
            Approve once
          </button>
          <form className="budget-raise" onSubmit={raise}>
            <label>
              <span>New limit</span>
              <input
                type="number"
                min={0}
                step={kind === 'cost' ? 0.01 : 1}
                value={limit}
                onChange={(e) => setLimit(e.target.value)}
                placeholder={String(kind === 'cost' ? Math.max(exceeded.limit * 2, 0.01) : Math.max(exceeded.limit * 2, 1))}
                aria-label={`New ${budgetName(kind)} in ${UNIT[kind]}`}
                data-testid="budget-limit"
              />
              <span className="muted">{UNIT[kind]}</span>
            </label>
            <button type="submit" className="button small" disabled={busy || !limit} data-testid="budget-raise">
              Raise limit
            </button>
          </form>
        </div>
        {error ? <div className="approval-error">{error}</div> : null}
      </div>
    </div>
  );
}
