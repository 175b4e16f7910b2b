import type { PermissionMode } from '@agent-runtime/react';

export function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 100_000) return `${(n / 1000).toFixed(1).replace(/\.0$/, '')}k`;
  if (n < 1_000_000) return `${Math.round(n / 1000)}k`;
  return `${(n / 1_000_000).toFixed(1).replace(/\.0$/, '')}M`;
}

export function formatCost(usd: number): string {
  if (usd === 0) return '$0.00';
  if (usd < 0.01) return `$${usd.toFixed(4)}`;
  return `$${usd.toFixed(2)}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1).replace(/\.0$/, '')} KB`;
  return `${(n / 1024 / 1024).toFixed(1).replace(/\.0$/, '')} MB`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1).replace(/\.0$/, '')} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

export function relativeTime(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const seconds = Math.max(0, Math.round((now - t) / 1000));
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days < 7) return `${days} d ago`;
  return new Date(t).toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

/** The permission modes, in words (`capabilities.permissionModes` says which an agent allows). */
export const PERMISSION_MODES: { id: PermissionMode; label: string; hint: string }[] = [
  { id: 'bypass', label: 'Never ask', hint: 'Runs every tool; the sandbox is the boundary' },
  { id: 'default', label: 'Ask first', hint: 'Asks before anything that writes or runs' },
  { id: 'acceptEdits', label: 'Accept edits', hint: 'Edits files freely; asks before running commands' },
  { id: 'plan', label: 'Plan only', hint: 'Reads and plans; changes nothing' },
];

/** A title for a session: its name, else a fallback. */
export function sessionTitle(name: string | undefined | null): string {
  return name?.trim() || 'Untitled session';
}

/** What a `network_denied` reason code means, in words (the codes are the egress proxy's; a
 * code this UI does not know yet is shown as it is). */
const DENIAL_REASONS: Record<string, string> = {
  policy_none: 'network access is off for this session',
  not_allowlisted: 'not on the allowlist',
  loopback: 'a loopback address',
  private: 'a private network address',
  link_local: 'a link-local address',
  metadata: 'the cloud metadata service',
  runtime_address: "the runtime's own address",
  host_address: "an address of the runtime's host",
  unspecified: 'the unspecified address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
  resolve_failed: 'the name did not resolve',
  bad_request: 'not a valid proxy request',
  no_gateway: 'no model gateway',
};

export function denialReasonText(code: string): string {
  return DENIAL_REASONS[code] ?? code.replace(/_/g, ' ');
}

/** `host:port`, with IPv6 hosts in brackets; the proxy reports an unknown host as empty and an
 * unknown port as 0. */
export function formatDestination(host: string, port: number): string {
  const name = host === '' ? 'unknown host' : host.includes(':') ? `[${host}]` : host;
  return port === 0 ? name : `${name}:${port}`;
}

/** A `/healthz` protection name, in words. */
const PROTECTIONS: Record<string, string> = {
  network: 'Network',
  memory: 'Memory',
  pids: 'Processes',
  cpu: 'CPU',
  tmp_size: '/tmp size',
  workspace_size: 'Workspace size',
  file_size: 'File size',
  open_files: 'Open files',
  turn_time: 'Turn time',
  user_namespaces: 'No nested namespaces',
  seccomp: 'Seccomp filter',
  host_uid: 'Own host uid',
  model_credentials: 'Model key kept out',
};

export function protectionLabel(name: string): string {
  return PROTECTIONS[name] ?? name.replace(/_/g, ' ');
}
