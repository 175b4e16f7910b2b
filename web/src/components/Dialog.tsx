import { useEffect, useRef, type ReactNode } from 'react';

import { XIcon } from './icons';

/** A modal: closes on Escape and on a click outside; focuses its first field. */
export function Dialog(props: { title: string; onClose?: () => void; children: ReactNode; wide?: boolean; testId?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  const { onClose } = props;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') onClose?.();
    };
    window.addEventListener('keydown', onKey);
    ref.current?.querySelector<HTMLElement>('input, textarea, select, button.primary')?.focus();
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div className="dialog-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose?.()}>
      <div
        ref={ref}
        className={`dialog${props.wide ? ' wide' : ''}`}
        role="dialog"
        aria-modal="true"
        aria-label={props.title}
        data-testid={props.testId}
      >
        <header className="dialog-header">
          <h2>{props.title}</h2>
          {onClose ? (
            <button type="button" className="icon-button" onClick={onClose} aria-label="Close">
              <XIcon size={18} />
            </button>
          ) : null}
        </header>
        {props.children}
      </div>
    </div>
  );
}
