// A line diff for showing an edit before it is allowed: the longest common subsequence of lines,
// as unchanged, removed and added lines in order. Small inputs only (an edit's strings); past
// MAX_DIFF_CELLS the two sides are shown whole, removed then added.

export interface DiffLine {
  kind: 'same' | 'removed' | 'added';
  text: string;
}

/** Past this many line pairs the table would be too big to build for a preview. */
const MAX_DIFF_CELLS = 250_000;

/** The lines of `before` and `after`, each marked unchanged, removed or added. */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = splitLines(before);
  const b = splitLines(after);
  if (a.length * b.length > MAX_DIFF_CELLS) {
    return [...a.map((text) => line('removed', text)), ...b.map((text) => line('added', text))];
  }
  // common[i][j]: length of the longest common subsequence of a[i..] and b[j..].
  const common: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    const row = common[i] as number[];
    const below = common[i + 1] as number[];
    for (let j = b.length - 1; j >= 0; j--) {
      row[j] = a[i] === b[j] ? (below[j + 1] as number) + 1 : Math.max(below[j] as number, row[j + 1] as number);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push(line('same', a[i] as string));
      i++;
      j++;
    } else if ((common[i + 1]?.[j] as number) >= (common[i]?.[j + 1] as number)) {
      out.push(line('removed', a[i++] as string));
    } else {
      out.push(line('added', b[j++] as string));
    }
  }
  while (i < a.length) out.push(line('removed', a[i++] as string));
  while (j < b.length) out.push(line('added', b[j++] as string));
  return out;
}

/** Every line of `content` as added (a new file). */
export function addedLines(content: string): DiffLine[] {
  return splitLines(content).map((text) => line('added', text));
}

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start another.
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

function line(kind: DiffLine['kind'], text: string): DiffLine {
  return { kind, text };
}
