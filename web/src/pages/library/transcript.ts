// The player's transcript logic, kept free of React so it can be tested on its own: which line is playing, which
// lines a citation covers, and where the quoted words sit inside them.

export interface Line {
  start: number;
  end: number;
  text: string;
}

/** The index of the line containing `time` (start <= time < end), or -1 (before, after, or in a gap).
 *  `lines` are sorted by start; a binary search, since it runs on every `timeupdate`. */
export function lineAt(lines: readonly Line[], time: number): number {
  let lo = 0;
  let hi = lines.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (lines[mid]!.start <= time) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found >= 0 && time < lines[found]!.end ? found : -1;
}

/** Indexes of the lines a citation [start, end] overlaps; without an end, the line at `start` (or the next one). */
export function citedLines(lines: readonly Line[], start: number | null, end: number | null): number[] {
  if (start == null) return [];
  if (end == null || end <= start) {
    const at = lineAt(lines, start);
    const index = at >= 0 ? at : lines.findIndex((l) => l.start >= start);
    return index >= 0 ? [index] : [];
  }
  const out: number[] = [];
  lines.forEach((l, i) => {
    if (l.start < end && l.end > start) out.push(i);
  });
  return out;
}

/** A number from a query parameter, or null when missing or not a number. */
export function seconds(value: string | null): number | null {
  if (value == null || value.trim() === "") return null;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

export type Range = [number, number]; // [from, to) in UTF-16 units of a line's text

const WORD = /[\p{L}\p{N}]/u;
// Scripts written without spaces: a match there may start or end anywhere, not only at a word's edge.
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]/u;

interface Folded {
  text: string; // lower case, letters and digits only
  at: number[]; // at[i]: where folded character i starts in the original
  len: number[]; // len[i]: its length there
}

/** Letters and digits only, lower case, with a map back to the original (punctuation and spaces do not count). */
function fold(text: string): Folded {
  const out: Folded = { text: "", at: [], len: [] };
  let i = 0;
  for (const ch of text) {
    if (WORD.test(ch)) {
      for (const c of ch.toLowerCase()) {
        out.text += c;
        out.at.push(i);
        out.len.push(ch.length);
      }
    }
    i += ch.length;
  }
  return out;
}

function isWordChar(text: string, index: number): boolean {
  const ch = text.codePointAt(index);
  if (ch === undefined) return false;
  const s = String.fromCodePoint(ch);
  return WORD.test(s) && !UNSPACED.test(s);
}

/** Grows a range to whole words (a quote cut mid-word still marks the word), except in unspaced scripts. */
function toWords(text: string, [from, to]: Range): Range {
  while (from > 0 && isWordChar(text, from - 1) && isWordChar(text, from)) from -= 1;
  while (to < text.length && isWordChar(text, to) && isWordChar(text, to - 1)) to += 1;
  return [from, to];
}

/** Merges overlapping or touching ranges, sorted. */
function merge(ranges: Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/**
 * Where the quoted words sit in these consecutive lines: one range list per line. The quote is matched as a phrase
 * across the lines (case, spaces and punctuation ignored, so a quote may span lines and be cut with "…"); when the
 * phrase is not there as a whole, its pieces are (words of 3+ letters, runs of 2+ characters in unspaced scripts).
 */
export function quoteRanges(texts: readonly string[], quote: string): Range[][] {
  const folded = texts.map(fold);
  const offsets: number[] = [];
  let joined = "";
  for (const f of folded) {
    offsets.push(joined.length);
    joined += f.text;
  }
  const found: Array<[number, number]> = []; // [from, to) in `joined`
  const find = (needle: string, wholeWord: boolean) => {
    if (!needle) return false;
    let hit = false;
    for (let i = joined.indexOf(needle); i >= 0; i = joined.indexOf(needle, i + needle.length)) {
      if (wholeWord && !atWordEdges(texts, folded, offsets, i, i + needle.length)) continue;
      found.push([i, i + needle.length]);
      hit = true;
    }
    return hit;
  };
  // whole words first; a long quote cut mid-word ("…seum opens at nin…") may start and end inside words
  const phrase = fold(quote).text;
  const cut = quote.trim().startsWith("…") || quote.trim().endsWith("…") || phrase.length >= 8;
  if (!find(phrase, true) && !(cut && find(phrase, false))) {
    for (const piece of pieces(quote)) find(piece, true);
  }
  return folded.map((f, line) => {
    const base = offsets[line]!;
    const ranges: Range[] = [];
    for (const [from, to] of found) {
      const a = Math.max(from, base) - base;
      const b = Math.min(to, base + f.text.length) - base;
      if (a >= b) continue;
      ranges.push(toWords(texts[line]!, [f.at[a]!, f.at[b - 1]! + f.len[b - 1]!]));
    }
    return merge(ranges);
  });
}

// English words too common to be worth marking on their own (the fallback marks the words that carry meaning).
const COMMON = new Set(
  ("the and for are but not you all any can was one our out has had his her how its who did does what when where " +
    "which with this that these those from have they them then than there their into your about would could should " +
    "will were been being also just very some such only over").split(" "),
);

/** The quote's words (3+ letters, not COMMON, or any number) and its unspaced runs (2+ characters), folded, distinct. */
function pieces(quote: string): string[] {
  const out = new Set<string>();
  for (const token of quote.split(/[^\p{L}\p{N}]+/u)) {
    if (!token) continue;
    // an unspaced run inside a token ("视频下载API") splits into its script parts
    for (const part of token.split(/(?<=[\p{Script=Han}])(?=[^\p{Script=Han}])|(?<=[^\p{Script=Han}])(?=[\p{Script=Han}])/u)) {
      const f = fold(part).text;
      const minimum = UNSPACED.test(part) ? 2 : /^\p{N}+$/u.test(f) ? 1 : 3;
      if ([...f].length >= minimum && !COMMON.has(f)) out.add(f);
    }
  }
  return [...out];
}

/** Whether joined[from, to) starts and ends at word edges in the original lines (so "art" does not mark "start"). */
function atWordEdges(texts: readonly string[], folded: Folded[], offsets: number[], from: number, to: number): boolean {
  const locate = (pos: number): [number, number] => {
    let line = offsets.length - 1;
    while (line > 0 && offsets[line]! > pos) line -= 1;
    return [line, pos - offsets[line]!];
  };
  const [l1, p1] = locate(from);
  const [l2, p2] = locate(to - 1);
  const first = folded[l1]!;
  const last = folded[l2]!;
  const start = first.at[p1]!;
  const end = last.at[p2]! + last.len[p2]!;
  return !(start > 0 && isWordChar(texts[l1]!, start - 1)) && !isWordChar(texts[l2]!, end);
}

export interface Piece {
  text: string;
  mark: boolean;
}

/** A line's text cut into plain and marked pieces. */
export function splitMarked(text: string, ranges: readonly Range[]): Piece[] {
  const out: Piece[] = [];
  let at = 0;
  for (const [from, to] of ranges) {
    if (from > at) out.push({ text: text.slice(at, from), mark: false });
    out.push({ text: text.slice(from, to), mark: true });
    at = to;
  }
  if (at < text.length) out.push({ text: text.slice(at), mark: false });
  return out;
}
