// What a tool call the agent asks to run would do: the command of a Bash call, a diff for file
// edits (Write: the new content; Edit / MultiEdit: old vs new strings, line by line), else the
// input as JSON.

import type { JsonValue } from '@agent-runtime/react';

import { addedLines, diffLines, type DiffLine } from '../../diff';

type Input = Record<string, JsonValue>;

export function ToolInputPreview({ tool, input }: { tool: string; input: JsonValue }) {
  const fields = (input && typeof input === 'object' && !Array.isArray(input) ? input : {}) as Input;
  const path = text(fields.file_path) ?? text(fields.path) ?? text(fields.notebook_path);
  const name = tool.toLowerCase();

  if (name === 'bash' && text(fields.command) !== null) {
    return (
      <pre className="tool-pre approval-command" data-testid="approval-command">
        <span className="approval-prompt">$ </span>
        {text(fields.command)}
      </pre>
    );
  }
  if ((name === 'write' || name === 'write_file') && text(fields.content) !== null) {
    return <Diff path={path} lines={addedLines(text(fields.content) as string)} note="new content" />;
  }
  if (name === 'edit' || name === 'replace') {
    const before = text(fields.old_string);
    const after = text(fields.new_string);
    if (before !== null && after !== null) {
      return <Diff path={path} lines={diffLines(before, after)} note={fields.replace_all === true ? 'every occurrence' : undefined} />;
    }
  }
  if (name === 'multiedit' && Array.isArray(fields.edits)) {
    const lines = fields.edits.flatMap((edit, index) => {
      const e = (edit && typeof edit === 'object' && !Array.isArray(edit) ? edit : {}) as Input;
      const diff = diffLines(text(e.old_string) ?? '', text(e.new_string) ?? '');
      return index === 0 ? diff : [{ kind: 'same' as const, text: '⋯' }, ...diff];
    });
    return <Diff path={path} lines={lines} note={`${fields.edits.length} edits`} />;
  }
  return (
    <pre className="tool-pre" data-testid="approval-input">
      {JSON.stringify(input, null, 2)}
    </pre>
  );
}

function Diff({ path, lines, note }: { path: string | null; lines: DiffLine[]; note?: string }) {
  const added = lines.filter((l) => l.kind === 'added').length;
  const removed = lines.filter((l) => l.kind === 'removed').length;
  return (
    <div className="diff" data-testid="approval-diff">
      <div className="diff-header">
        <span className="mono">{path?.replace(/^\/workspace\//, '') ?? 'file'}</span>
        <span className="diff-stats">
          {note ? <span className="muted">{note} · </span> : null}
          <span className="diff-added-count">+{added}</span> <span className="diff-removed-count">−{removed}</span>
        </span>
      </div>
      <pre className="diff-body">
        {lines.map((line, index) => (
          <div key={index} className={`diff-line ${line.kind}`} data-kind={line.kind}>
            <span className="diff-sign" aria-hidden="true">
              {line.kind === 'added' ? '+' : line.kind === 'removed' ? '−' : ' '}
            </span>
            {line.text || ' '}
          </div>
        ))}
      </pre>
    </div>
  );
}

/** One line about a call's input: the command, path, pattern or URL it is about. */
export function inputSummary(input: JsonValue): string {
  const fields = (input && typeof input === 'object' && !Array.isArray(input) ? input : {}) as Input;
  const path = text(fields.file_path) ?? text(fields.path) ?? text(fields.notebook_path);
  const summary = path?.replace(/^\/workspace\//, '') ?? text(fields.command) ?? text(fields.pattern) ?? text(fields.url) ?? '';
  return summary.length > 120 ? `${summary.slice(0, 120)}…` : summary;
}

function text(value: JsonValue | undefined): string | null {
  return typeof value === 'string' ? value : null;
}
