import {
  useEvents,
  useFileContent,
  useHealth,
  useWorkspaceFiles,
  type Envelope,
  type FileInfo,
  type FileTreeNode,
  type UseAgentSessionResult,
} from '@agent-runtime/react';
import { useEffect, useRef, useState } from 'react';

import { formatBytes, formatCost, formatDestination, formatDuration, formatTokens, protectionLabel } from '../format';
import { Dialog } from './Dialog';
import { ChevronDownIcon, ChevronRightIcon, DownloadIcon, FileIcon, FolderIcon } from './icons';

type Tab = 'files' | 'details' | 'events';

export function SidePanel({ sessionId, session }: { sessionId: string; session: UseAgentSessionResult }) {
  const [tab, setTab] = useState<Tab>('files');
  const { count } = useWorkspaceFiles(sessionId);
  return (
    <aside className="side-panel" aria-label="Session details">
      <div className="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={tab === 'files'} className={tab === 'files' ? 'active' : ''} onClick={() => setTab('files')}>
          Files <span className="count">{count}</span>
        </button>
        <button type="button" role="tab" aria-selected={tab === 'details'} className={tab === 'details' ? 'active' : ''} onClick={() => setTab('details')}>
          Usage
        </button>
        <button type="button" role="tab" aria-selected={tab === 'events'} className={tab === 'events' ? 'active' : ''} onClick={() => setTab('events')}>
          Events
        </button>
      </div>
      <div className="tab-body">
        {tab === 'files' ? <FilesTab sessionId={sessionId} /> : null}
        {tab === 'details' ? <DetailsTab session={session} /> : null}
        {tab === 'events' ? <EventsTab sessionId={sessionId} /> : null}
      </div>
    </aside>
  );
}

// ---- files ------------------------------------------------------------------------------------

function FilesTab({ sessionId }: { sessionId: string }) {
  const { tree, files, isLoading } = useWorkspaceFiles(sessionId);
  const [open, setOpen] = useState<string | null>(null);
  const changed = useRecentlyChanged(files);
  if (isLoading) return <div className="panel-empty">Loading files…</div>;
  return (
    <div className="file-tree" data-testid="file-tree">
      {files.length === 0 ? (
        <div className="panel-empty">
          <FolderIcon size={22} />
          <p>The workspace is empty.</p>
          <p className="muted small">Files the agent creates show up here as it writes them.</p>
        </div>
      ) : (
        <TreeLevel nodes={tree} depth={0} onOpen={setOpen} changed={changed} />
      )}
      {open ? <FileViewer sessionId={sessionId} path={open} onClose={() => setOpen(null)} /> : null}
    </div>
  );
}

/** Paths whose content changed in the last few seconds (not on first load). */
function useRecentlyChanged(files: readonly FileInfo[]): Set<string> {
  const known = useRef<Map<string, string> | null>(null);
  const [changed, setChanged] = useState<Set<string>>(new Set());
  useEffect(() => {
    const previous = known.current;
    known.current = new Map(files.map((f) => [f.path, f.sha256]));
    if (!previous) return;
    const fresh = files.filter((f) => previous.get(f.path) !== f.sha256).map((f) => f.path);
    if (fresh.length === 0) return;
    setChanged((current) => new Set([...current, ...fresh]));
    const timer = setTimeout(() => {
      setChanged((current) => new Set([...current].filter((p) => !fresh.includes(p))));
    }, 4000);
    return () => clearTimeout(timer);
  }, [files]);
  return changed;
}

function TreeLevel(props: { nodes: FileTreeNode[]; depth: number; onOpen: (path: string) => void; changed: Set<string> }) {
  return (
    <ul className="tree-level" role={props.depth === 0 ? 'tree' : 'group'}>
      {props.nodes.map((node) =>
        node.kind === 'directory' ? (
          <Folder key={node.path} node={node} depth={props.depth} onOpen={props.onOpen} changed={props.changed} />
        ) : (
          <li key={node.path} role="treeitem">
            <button
              type="button"
              className={`tree-row file${props.changed.has(node.path) ? ' changed' : ''}`}
              style={{ paddingLeft: 10 + props.depth * 14 }}
              onClick={() => props.onOpen(node.path)}
              data-testid="file-node"
              data-path={node.path}
            >
              <FileIcon size={14} />
              <span className="tree-name">{node.name}</span>
              <span className="tree-size">{formatBytes(node.file?.size ?? 0)}</span>
            </button>
          </li>
        ),
      )}
    </ul>
  );
}

function Folder(props: { node: FileTreeNode; depth: number; onOpen: (path: string) => void; changed: Set<string> }) {
  const [open, setOpen] = useState(true);
  return (
    <li role="treeitem" aria-expanded={open}>
      <button type="button" className="tree-row folder" style={{ paddingLeft: 10 + props.depth * 14 }} onClick={() => setOpen((o) => !o)}>
        {open ? <ChevronDownIcon size={13} /> : <ChevronRightIcon size={13} />}
        <FolderIcon size={14} />
        <span className="tree-name">{props.node.name}</span>
      </button>
      {open ? <TreeLevel nodes={props.node.children ?? []} depth={props.depth + 1} onOpen={props.onOpen} changed={props.changed} /> : null}
    </li>
  );
}

function FileViewer({ sessionId, path, onClose }: { sessionId: string; path: string; onClose: () => void }) {
  const file = useFileContent(sessionId, path);
  const content = file.content;
  const [imageUrl, setImageUrl] = useState<string | null>(null);
  const isImage = Boolean(content?.contentType.startsWith('image/'));
  useEffect(() => {
    if (!content || !isImage) return;
    const url = URL.createObjectURL(new Blob([content.bytes as BlobPart], { type: content.contentType }));
    setImageUrl(url);
    return () => URL.revokeObjectURL(url);
  }, [content, isImage]);
  const download = () => {
    if (!content) return;
    const url = URL.createObjectURL(new Blob([content.bytes as BlobPart], { type: content.contentType }));
    const a = document.createElement('a');
    a.href = url;
    a.download = path.split('/').pop() ?? 'file';
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };
  const lines = content?.text?.split('\n') ?? [];
  if (lines.length > 1 && lines.at(-1) === '') lines.pop();
  return (
    <Dialog title={path} onClose={onClose} wide testId="file-viewer">
      <div className="viewer-bar">
        <span className="muted small">
          {content ? `${formatBytes(content.bytes.length)} · ${content.contentType.split(';')[0]}` : file.missing ? 'deleted' : ' '}
        </span>
        <button type="button" className="button ghost small" onClick={download} disabled={!content}>
          <DownloadIcon size={14} /> Download
        </button>
      </div>
      <div className="viewer" data-testid="file-content">
        {file.missing ? <div className="panel-empty">This file is no longer in the workspace.</div> : null}
        {file.error ? <div className="form-error">{file.error.message}</div> : null}
        {!content && file.loading ? <div className="panel-empty">Loading…</div> : null}
        {content && isImage && imageUrl ? <img src={imageUrl} alt={path} className="viewer-image" /> : null}
        {content && !isImage && content.text === null ? (
          <div className="panel-empty">Binary file: download it to look inside.</div>
        ) : null}
        {content && content.text !== null ? (
          <pre className="code-view">
            {lines.map((line, i) => (
              <div className="code-line" key={i}>
                <span className="line-number">{i + 1}</span>
                <span className="line-text">{line || ' '}</span>
              </div>
            ))}
          </pre>
        ) : null}
      </div>
    </Dialog>
  );
}

// ---- usage ------------------------------------------------------------------------------------

/** Where a session's sandbox runs, for people. */
function sandboxPlace(provider: UseAgentSessionResult['sandboxProvider']): string {
  switch (provider) {
    case 'local':
      return 'this host (bubblewrap)';
    case 'modal':
      return 'Modal';
    default:
      return '—';
  }
}

function DetailsTab({ session }: { session: UseAgentSessionResult }) {
  const usage = session.usage;
  const rows: [string, string][] = [
    ['Model', session.model ?? '—'],
    ['Sandbox', session.sandbox],
    ['Runs on', sandboxPlace(session.sandboxProvider)],
    ['Input tokens', formatTokens(usage?.inputTokens ?? 0)],
    ['Cache reads', formatTokens(usage?.cacheReadInputTokens ?? 0)],
    ['Cache writes', formatTokens(usage?.cacheCreationInputTokens ?? 0)],
    ['Output tokens', formatTokens(usage?.outputTokens ?? 0)],
    ['Total cost', formatCost(session.costUsd)],
  ];
  const last = session.lastTurn;
  return (
    <div className="details">
      <dl className="details-list">
        {rows.map(([k, v]) => (
          <div key={k} data-detail={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      {last ? (
        <>
          <div className="details-heading">Last turn</div>
          <dl className="details-list">
            <div>
              <dt>Outcome</dt>
              <dd className={`outcome ${last.reason}`}>{last.reason}</dd>
            </div>
            <div>
              <dt>Duration</dt>
              <dd>{formatDuration(last.durationMs)}</dd>
            </div>
            <div>
              <dt>Tokens</dt>
              <dd>
                {formatTokens(last.usage.inputTokens)} in · {formatTokens(last.usage.outputTokens)} out
              </dd>
            </div>
            <div>
              <dt>Cost</dt>
              <dd>{formatCost(last.costUsd)}</dd>
            </div>
          </dl>
        </>
      ) : null}
      {session.demo ? <p className="muted small">This session talks to the built-in demo model: the numbers are scripted.</p> : null}
      <SandboxProtections />
    </div>
  );
}

/** What confines a sandbox on this server's host (`GET /healthz`), enforced or not. */
function SandboxProtections() {
  const { health } = useHealth();
  const protections = health?.sandbox ?? [];
  if (protections.length === 0) return null;
  return (
    <>
      <div className="details-heading">Sandbox on this server</div>
      <dl className="details-list protections" data-testid="sandbox-protections">
        {protections.map((p) => (
          <div key={p.name} data-name={p.name} data-enforced={p.enforced} title={[p.by.join(', '), p.note].filter(Boolean).join(' · ') || undefined}>
            <dt>{protectionLabel(p.name)}</dt>
            <dd className={p.enforced ? 'enforced' : 'not-enforced'}>
              {p.enforced ? (p.default ?? 'on') : 'not enforced'}
            </dd>
          </div>
        ))}
      </dl>
    </>
  );
}

// ---- events -----------------------------------------------------------------------------------

function EventsTab({ sessionId }: { sessionId: string }) {
  const { events } = useEvents(sessionId);
  const recent = events.slice(-200).reverse();
  return (
    <div className="events">
      {recent.length === 0 ? <div className="panel-empty">Live events of this session appear here.</div> : null}
      {recent.map((envelope) => (
        <div className="event-row" key={envelope.seq}>
          <span className="event-seq">#{envelope.seq}</span>
          <span className="event-type">{envelope.event.type}</span>
          <span className="event-detail">{describe(envelope)}</span>
        </div>
      ))}
    </div>
  );
}

function describe(envelope: Envelope): string {
  const event = envelope.event;
  switch (event.type) {
    case 'text_delta':
      return JSON.stringify(event.delta);
    case 'block_start':
    case 'block_complete':
      return `${event.block.type} ${event.block.id}`;
    case 'block_update':
      return Object.keys(event.updates).join(', ');
    case 'turn_completed':
      return `${event.reason} · ${formatDuration(event.durationMs)}`;
    case 'status':
      return event.sandbox;
    case 'file_created':
    case 'file_modified':
      return event.path;
    case 'file_deleted':
      return event.path;
    case 'network_denied':
      return `${formatDestination(event.host, event.port)} ${event.reason}`;
    default:
      return '';
  }
}
