// A small, safe Markdown renderer for assistant text: paragraphs, headings, lists, quotes, fenced
// code, inline code, bold, italic and http(s) links. Builds React elements (never raw HTML), so
// whatever the model writes cannot inject markup.

import { memo, type ReactNode } from 'react';

type Node =
  | { kind: 'code'; lang: string; text: string }
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'list'; ordered: boolean; items: string[] }
  | { kind: 'quote'; text: string }
  | { kind: 'rule' }
  | { kind: 'paragraph'; text: string };

export function parseBlocks(source: string): Node[] {
  const lines = source.replace(/\r\n/g, '\n').split('\n');
  const nodes: Node[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    const fence = /^\s*(```|~~~)\s*([\w+-]*)/.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !(lines[i] as string).trim().startsWith(fence[1] as string)) body.push(lines[i++] as string);
      i++; // the closing fence (or the end, while streaming)
      nodes.push({ kind: 'code', lang: fence[2] ?? '', text: body.join('\n') });
      continue;
    }
    if (!line.trim()) {
      i++;
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      nodes.push({ kind: 'heading', level: (heading[1] as string).length, text: heading[2] as string });
      i++;
      continue;
    }
    if (/^\s*([-*_])\s*\1\s*\1[\s\-*_]*$/.test(line)) {
      nodes.push({ kind: 'rule' });
      i++;
      continue;
    }
    const bullet = /^\s*([-*+]|\d+[.)])\s+/;
    if (bullet.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const items: string[] = [];
      while (i < lines.length && bullet.test(lines[i] as string)) {
        let item = (lines[i] as string).replace(bullet, '');
        i++;
        while (i < lines.length && /^\s{2,}\S/.test(lines[i] as string) && !bullet.test(lines[i] as string)) {
          item += ` ${(lines[i] as string).trim()}`;
          i++;
        }
        items.push(item);
      }
      nodes.push({ kind: 'list', ordered, items });
      continue;
    }
    if (/^\s*>/.test(line)) {
      const quote: string[] = [];
      while (i < lines.length && /^\s*>/.test(lines[i] as string)) quote.push((lines[i++] as string).replace(/^\s*>\s?/, ''));
      nodes.push({ kind: 'quote', text: quote.join(' ') });
      continue;
    }
    const paragraph: string[] = [];
    while (
      i < lines.length &&
      (lines[i] as string).trim() &&
      !/^\s*(```|~~~|#{1,6}\s|>|([-*+]|\d+[.)])\s)/.test(lines[i] as string)
    ) {
      paragraph.push(lines[i++] as string);
    }
    nodes.push({ kind: 'paragraph', text: paragraph.join('\n') });
  }
  return nodes;
}

const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*)|(__[^_]+__)|(\*[^*\s][^*]*\*)|(\[[^\]]+\]\(https?:\/\/[^)\s]+\))/g;

export function renderInline(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  let key = 0;
  for (const match of text.matchAll(INLINE)) {
    const index = match.index ?? 0;
    if (index > last) out.push(text.slice(last, index));
    const token = match[0];
    if (token.startsWith('`')) out.push(<code key={key++}>{token.slice(1, -1)}</code>);
    else if (token.startsWith('**') || token.startsWith('__')) out.push(<strong key={key++}>{token.slice(2, -2)}</strong>);
    else if (token.startsWith('*')) out.push(<em key={key++}>{token.slice(1, -1)}</em>);
    else {
      const link = /^\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)$/.exec(token);
      if (link) {
        out.push(
          <a key={key++} href={link[2]} target="_blank" rel="noreferrer noopener">
            {link[1]}
          </a>,
        );
      } else out.push(token);
    }
    last = index + token.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function withBreaks(text: string): ReactNode[] {
  return text.split('\n').flatMap((line, i) => (i === 0 ? renderInline(line) : [<br key={`br${i}`} />, ...renderInline(line)]));
}

export const Markdown = memo(function Markdown({ text, streaming = false }: { text: string; streaming?: boolean }) {
  const nodes = parseBlocks(text);
  return (
    <div className="markdown">
      {nodes.map((node, i) => {
        const caret = streaming && i === nodes.length - 1 ? <span className="caret" /> : null;
        switch (node.kind) {
          case 'code':
            return (
              <pre key={i} className="code-block" data-lang={node.lang || undefined}>
                <code>{node.text}</code>
                {caret}
              </pre>
            );
          case 'heading': {
            const Tag = `h${Math.min(6, node.level + 2)}` as 'h3';
            return (
              <Tag key={i}>
                {renderInline(node.text)}
                {caret}
              </Tag>
            );
          }
          case 'list': {
            const Tag = node.ordered ? 'ol' : 'ul';
            return (
              <Tag key={i}>
                {node.items.map((item, j) => (
                  <li key={j}>
                    {renderInline(item)}
                    {j === node.items.length - 1 ? caret : null}
                  </li>
                ))}
              </Tag>
            );
          }
          case 'quote':
            return (
              <blockquote key={i}>
                {renderInline(node.text)}
                {caret}
              </blockquote>
            );
          case 'rule':
            return <hr key={i} />;
          case 'paragraph':
            return (
              <p key={i}>
                {withBreaks(node.text)}
                {caret}
              </p>
            );
        }
      })}
      {nodes.length === 0 && streaming ? <span className="caret" /> : null}
    </div>
  );
});
