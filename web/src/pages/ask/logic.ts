// The Ask page's logic, apart from React: answer text → pieces with citation markers, citation → player link,
// and the conversation state that stream events update.
import type { Schemas } from "../../api/client";
import { span } from "../../lib/format";

export type Citation = Schemas["CitationOut"];

export type Piece = { text: string } | { cite: number };

/** "Paris [1][2] and Rome [3]" → text and citation pieces; [n] and [n, m] both count, other brackets stay text. */
export function splitCitations(text: string): Piece[] {
  const out: Piece[] = [];
  const pattern = /\[(\d+(?:\s*,\s*\d+)*)\]/g;
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    for (const n of m[1]!.split(",")) out.push({ cite: Number(n.trim()) });
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/** Where a citation opens: the console's player at the cited second (media) or the knowledge base's document. */
export function citationLink(c: Citation): string | null {
  if (c.start == null) return null;
  const q = new URLSearchParams({ t: String(c.start) });
  if (c.end != null) q.set("end", String(c.end));
  if (c.quote) q.set("q", c.quote);
  return `/play/document/${encodeURIComponent(c.document.id)}?${q.toString()}`;
}

/** A chip's label: the document's title and the time span (or page) it cites. */
export function citationLabel(c: Citation, pageWord: (page: number) => string): string {
  const where = c.start != null ? span(c.start, c.end) : c.page != null ? pageWord(c.page) : "";
  return where ? `${c.document.name} · ${where}` : c.document.name;
}

export interface Turn {
  role: "user" | "assistant";
  content: string;
  citations?: Citation[];
  sources?: Citation[];
  supported?: boolean;
  mode?: string;
  error?: unknown;
  streaming?: boolean;
  stopped?: boolean;
}

export type StreamEvent =
  | { event: "delta"; data: { text: string } }
  | { event: "citations"; data: { citations: Citation[]; sources: Citation[]; supported: boolean; mode: string } }
  | { event: "done"; data: { answer: string } }
  | { event: "error"; data: { code: string; message: string } };

/** Applies one stream event to the answer being written (the last turn). */
export function applyEvent(turn: Turn, e: StreamEvent): Turn {
  switch (e.event) {
    case "delta":
      return { ...turn, content: turn.content + e.data.text };
    case "citations":
      return { ...turn, citations: e.data.citations, sources: e.data.sources, supported: e.data.supported,
               mode: e.data.mode };
    case "done":
      return { ...turn, content: e.data.answer || turn.content, streaming: false };
    case "error":
      return { ...turn, streaming: false, error: e.data };
  }
}

/** Earlier turns as the API's history (answers without their markers' objects), oldest first, at most 20. */
export function historyOf(turns: Turn[]): { role: "user" | "assistant"; content: string }[] {
  return turns
    .filter((t) => !t.error && t.content.trim())
    .slice(-20)
    .map((t) => ({ role: t.role, content: t.content }));
}
