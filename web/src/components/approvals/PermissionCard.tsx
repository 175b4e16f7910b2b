// One permission request, inline in the transcript: what the agent wants to run, the buttons to
// allow it once, allow it always (its rule becomes a rule of the session) or deny it (with an
// optional reason the agent sees), keyboard shortcuts, and once closed, how it was closed.

import { usePermissions, type PermissionItem, type PermissionOption } from '@agent-runtime/react';
import { useEffect, useRef, useState } from 'react';

import { CheckIcon, ShieldIcon, XIcon } from '../icons';
import { ToolInputPreview, inputSummary } from './ToolInputPreview';
import { answerErrorText, permissionOutcome } from './wording';

export function PermissionCard({ sessionId, item }: { sessionId: string; item: PermissionItem }) {
  const { pending, allowOnce, allowAlways, deny, answer } = usePermissions(sessionId);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const card = useRef<HTMLDivElement>(null);
  const { resolution } = item;
  const open = !resolution;
  const only = open && pending.length === 1;
  const alwaysOption = item.options.find((o) => o.kind === 'allow_always');
  const suggestions = item.options.filter((o) => o.kind === 'suggestion');

  async function act(run: () => ReturnType<typeof allowOnce>) {
    setError(null);
    const result = await run();
    if (!result.ok) setError(answerErrorText(result.code, result.error.message));
  }
  const actions = {
    allowOnce: () => void act(() => allowOnce(item.requestId)),
    allowAlways: () => void act(() => (alwaysOption ? allowAlways(item.requestId) : allowOnce(item.requestId))),
    deny: () => void act(() => deny(item.requestId, reason)),
    suggest: (option: PermissionOption) => void act(() => answer(item.requestId, { decision: 'allow', optionId: option.id })),
  };
  useShortcuts(card, open, only, actions);

  return (
    <div
      ref={card}
      className={`row approval-card ${open ? 'pending' : resolution.decision === 'allow' ? 'allowed' : 'denied'}`}
      tabIndex={open ? 0 : -1}
      data-testid="permission-card"
      data-request-id={item.requestId}
      data-tool={item.tool}
      data-state={open ? 'pending' : item.optimistic ? 'answering' : resolution.decision === 'allow' ? 'allowed' : 'denied'}
      data-by={resolution && !item.optimistic ? resolution.by : undefined}
      aria-label={`Permission request: ${item.tool}`}
    >
      <div className="approval-header">
        <ShieldIcon size={15} />
        <span>
          {open ? 'The agent asks to use' : 'The agent asked to use'} <strong>{item.tool}</strong>
        </span>
        {item.description ? <span className="approval-description">{item.description}</span> : null}
        {!open ? <span className="approval-summary mono">{inputSummary(item.input)}</span> : null}
      </div>
      {open ? (
        <>
          <ToolInputPreview tool={item.tool} input={item.input} />
          <div className="approval-actions">
            <button type="button" className="button primary small" onClick={actions.allowOnce} data-testid="allow-once">
              Allow once <kbd>a</kbd>
            </button>
            {alwaysOption ? (
              <button
                type="button"
                className="button small"
                onClick={actions.allowAlways}
                title={alwaysOption.rule ? `Adds the rule ${alwaysOption.rule} to this session` : undefined}
                data-testid="allow-always"
              >
                Allow always <kbd>A</kbd>
              </button>
            ) : null}
            {suggestions.map((option) => (
              <button type="button" key={option.id} className="button small" onClick={() => actions.suggest(option)} data-testid="allow-suggestion">
                {option.label}
              </button>
            ))}
            <span className="approval-deny">
              <input
                value={reason}
                onChange={(e) => setReason(e.target.value)}
                onKeyDown={(e) => {
                  if (e.key === 'Enter') {
                    e.preventDefault();
                    actions.deny();
                  }
                }}
                placeholder="Reason for the agent (optional)"
                aria-label="Reason for denying"
                data-testid="deny-reason"
              />
              <button type="button" className="button small danger" onClick={actions.deny} data-testid="deny">
                Deny <kbd>d</kbd>
              </button>
            </span>
          </div>
          <div className="approval-hint" data-testid="approval-keys">
            Keys: <kbd>a</kbd> allow once · <kbd>A</kbd> (Shift+A) allow always · <kbd>d</kbd> deny (with the reason typed) — when this
            card has focus{only ? ', or as now, when it is the only request waiting' : ''}.
            {alwaysOption?.rule ? (
              <>
                {' '}
                Always adds the rule <code>{alwaysOption.rule}</code> to this session.
              </>
            ) : null}{' '}
            <ExpiresAt at={item.expiresAt} />
          </div>
        </>
      ) : (
        <div className="approval-outcome" data-testid="permission-outcome">
          {resolution.decision === 'allow' ? <CheckIcon size={13} /> : <XIcon size={13} />}
          <span>{permissionOutcome(resolution, item.optimistic)}</span>
          {resolution.message ? <span className="approval-reason">“{resolution.message}”</span> : null}
          {resolution.remember && resolution.rule ? (
            <span className="approval-rule">
              rule <code>{resolution.rule}</code> added to the session
            </span>
          ) : null}
        </div>
      )}
      {error ? (
        <div className="approval-error" role="alert" data-testid="approval-error">
          {error}
        </div>
      ) : null}
    </div>
  );
}

function ExpiresAt({ at }: { at: string }) {
  const when = new Date(at);
  if (Number.isNaN(when.getTime())) return null;
  return <span className="muted">Denied automatically at {when.toLocaleTimeString()} if nobody answers.</span>;
}

/** `a` / `A` / `d` answer the request while it is open and the card has focus, or anywhere on
 * the page when it is the only request waiting; never while typing in a field or a dialog. */
function useShortcuts(
  card: React.RefObject<HTMLDivElement | null>,
  open: boolean,
  only: boolean,
  actions: { allowOnce: () => void; allowAlways: () => void; deny: () => void },
) {
  const latest = useRef(actions);
  latest.current = actions;
  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
      if (isTyping(event.target)) return;
      const focused = card.current?.contains(document.activeElement) ?? false;
      if (!focused && !only) return;
      if (event.key === 'a') latest.current.allowOnce();
      else if (event.key === 'A') latest.current.allowAlways();
      else if (event.key === 'd' || event.key === 'D') latest.current.deny();
      else return;
      event.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [card, open, only]);
}

function isTyping(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.closest('[role="dialog"]')) return true;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}
