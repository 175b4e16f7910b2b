// Connections the sandbox's egress proxy refused, above the conversation: the latest one in
// words, the others behind a toggle. Live as `network_denied` events arrive, and from the
// snapshot after a reload (both through useNetworkDenials).

import { useNetworkDenials, type NetworkDenial } from '@agent-runtime/react';
import { useState } from 'react';

import { denialReasonText, formatDestination } from '../format';
import { ChevronDownIcon, ChevronRightIcon, ShieldIcon } from './icons';

export function NetworkNotice({ sessionId }: { sessionId: string }) {
  const { denials, total } = useNetworkDenials(sessionId);
  const [open, setOpen] = useState(false);
  if (denials.length === 0) return null;
  // Latest first.
  const [latest, ...earlier] = [...denials].reverse() as [NetworkDenial, ...NetworkDenial[]];
  return (
    <div
      className="network-notice"
      role="status"
      aria-live="polite"
      data-testid="network-notice"
      data-total={total}
      title="The sandbox reaches the network only through the runtime's egress proxy, which refused these connections."
    >
      <ShieldIcon size={16} />
      <div className="network-notice-body">
        <div className="network-notice-latest">
          <strong>Network blocked:</strong> <Denial denial={latest} />
          {earlier.length > 0 ? (
            <button
              type="button"
              className="link-button network-notice-toggle"
              aria-expanded={open}
              onClick={() => setOpen((o) => !o)}
              data-testid="network-notice-toggle"
            >
              {open ? <ChevronDownIcon size={12} /> : <ChevronRightIcon size={12} />}
              {earlier.length} more
            </button>
          ) : null}
        </div>
        {open ? (
          <ul className="network-notice-list">
            {earlier.map((denial) => (
              <li key={`${denial.host}\n${denial.port}\n${denial.reason}`}>
                <Denial denial={denial} />
              </li>
            ))}
          </ul>
        ) : null}
      </div>
    </div>
  );
}

/** One refused destination: `host:port — reason`, with the raw code and time on hover. */
function Denial({ denial }: { denial: NetworkDenial }) {
  const when = new Date(denial.lastAt);
  const time = Number.isNaN(when.getTime()) ? denial.lastAt : when.toLocaleTimeString();
  return (
    <span
      className="network-denial"
      data-testid="network-denial"
      data-host={denial.host}
      data-port={denial.port}
      data-reason={denial.reason}
      data-count={denial.count}
      title={`${denial.reason} · ${denial.count === 1 ? 'once' : `${denial.count} times`}, last at ${time}`}
    >
      <span className="mono">{formatDestination(denial.host, denial.port)}</span>
      {' — '}
      {denialReasonText(denial.reason)}
      {denial.count > 1 ? <span className="network-denial-count">×{denial.count}</span> : null}
    </span>
  );
}
