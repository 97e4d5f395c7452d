// The knowledge page's logic, kept apart from React so it is tested on its own: a document's stages for display,
// the upload size check, the retrieve request built from the hit-testing form, and query-term highlighting.
import type { DocumentInfo, Schemas } from "../../api/client";

// --- stages ----------------------------------------------------------------------------------------------------
// The ingestion job's stages (src/vidrag/services/ingest_job.py): media is downloaded and transcribed, documents
// (pasted text too) parsed; then every kind is chunked, embedded and indexed.
export const MEDIA_STAGES = ["download", "transcribe", "chunk", "embed", "index"] as const;
export const DOCUMENT_STAGES = ["parse", "chunk", "embed", "index"] as const;
export const TERMINAL = ["completed", "error"] as const;

export type StageState = "pending" | "running" | "done" | "failed";

export interface StageView {
  name: string;
  state: StageState;
  startedAt: string | null;
  completedAt: string | null;
  /** seconds the stage took (or has taken so far, given `now`) */
  seconds: number | null;
  error: string | null;
}

interface StageEntry {
  started_at?: string | null;
  completed_at?: string | null;
  error?: string | null;
}

export type StagedDocument = Pick<DocumentInfo, "source" | "kind" | "task_id" | "indexing_status" | "stages" | "error">;

export function isTerminal(status: string): boolean {
  return (TERMINAL as readonly string[]).includes(status);
}

export function isMedia(doc: Pick<DocumentInfo, "kind" | "task_id" | "source">): boolean {
  return doc.task_id != null || doc.source === "url" || doc.source === "task" || doc.kind === "video" || doc.kind === "audio";
}

/** The stages a document goes through, in order (plus any the service recorded that we do not know yet). */
export function stageNames(doc: StagedDocument): string[] {
  const base: readonly string[] = isMedia(doc) ? MEDIA_STAGES : DOCUMENT_STAGES;
  const extra = Object.keys(doc.stages ?? {}).filter((s) => !base.includes(s));
  return [...base, ...extra];
}

function seconds(from: string | null, to: string | null, now: number): number | null {
  if (!from) return null;
  const start = Date.parse(from);
  const end = to ? Date.parse(to) : now;
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, (end - start) / 1000) : null;
}

/** Each stage's state, times and error, from `document.stages` and the document's status. */
export function stagesOf(doc: StagedDocument, now: number = Date.now()): StageView[] {
  const recorded = (doc.stages ?? {}) as Record<string, StageEntry | undefined>;
  const failed = doc.indexing_status === "error";
  let failureShown = false;
  const views = stageNames(doc).map((name): StageView => {
    const e = recorded[name] ?? {};
    const startedAt = e.started_at ?? null;
    const completedAt = e.completed_at ?? null;
    let state: StageState = "pending";
    let error = e.error ?? null;
    if (error) state = "failed";
    else if (completedAt) state = "done";
    else if (startedAt) state = failed ? "failed" : doc.indexing_status === name ? "running" : "pending";
    if (state === "failed") {
      failureShown = true;
      error = error ?? doc.error ?? null;
    }
    return { name, state, startedAt, completedAt, error, seconds: seconds(startedAt, completedAt, now) };
  });
  // Failed before any stage recorded it (e.g. the download task was deleted): blame the first unfinished stage.
  if (failed && !failureShown) {
    const first = views.find((v) => v.state !== "done");
    if (first) {
      first.state = "failed";
      first.error = doc.error ?? null;
    }
  }
  return views;
}

// --- uploads ---------------------------------------------------------------------------------------------------
export type UploadCheck = { ok: true } | { ok: false; reason: "empty" } | { ok: false; reason: "too_large"; maxMb: number };

/** Refuse a file before sending it: the service takes at most `maxMb` MiB (limits.max_upload_mb) and no empty file. */
export function checkUpload(file: { size: number }, maxMb: number | null | undefined): UploadCheck {
  if (file.size <= 0) return { ok: false, reason: "empty" };
  if (maxMb != null && maxMb > 0 && file.size > maxMb * 2 ** 20) return { ok: false, reason: "too_large", maxMb };
  return { ok: true };
}

// --- hit testing -----------------------------------------------------------------------------------------------
export type RetrieveRequest = Schemas["RetrieveRequest"];
export type SearchMode = "keyword" | "semantic" | "hybrid";

export const SEARCH_METHOD: Record<SearchMode, "keyword_search" | "semantic_search" | "hybrid_search"> = {
  keyword: "keyword_search",
  semantic: "semantic_search",
  hybrid: "hybrid_search",
};

export interface HitForm {
  query: string;
  mode: SearchMode;
  /** 0..1: the semantic share in hybrid search (the keyword share is the rest) */
  semanticWeight: number;
  topK: number;
  /** null: no threshold */
  scoreThreshold: number | null;
  documentIds: string[];
  kinds: string[];
  /** "75", "1:15" or "1:02:05"; empty: no bound */
  timeFrom: string;
  timeTo: string;
}

export const DEFAULT_FORM: HitForm = {
  query: "",
  mode: "hybrid",
  semanticWeight: 0.7,
  topK: 5,
  scoreThreshold: null,
  documentIds: [],
  kinds: [],
  timeFrom: "",
  timeTo: "",
};

/** "1:15" → 75, "1:02:05" → 3725, "90" → 90, "" → null; undefined when it is not a time. */
export function parseClock(text: string): number | null | undefined {
  const s = text.trim();
  if (!s) return null;
  if (!/^\d+(\.\d+)?$|^\d+(:[0-5]?\d){1,2}(\.\d+)?$/.test(s)) return undefined;
  return s.split(":").reduce((acc, part) => acc * 60 + Number(part), 0);
}

export type BuildResult =
  | { ok: true; request: RetrieveRequest }
  | { ok: false; field: "query" | "timeFrom" | "timeTo" | "timeOrder" | "topK" };

const round2 = (n: number) => Math.round(n * 100) / 100;

/** The retrieve request (RetrieveRequest in src/vidrag/api/schemas/knowledge.py) for what the form says. */
export function buildRetrieve(form: HitForm): BuildResult {
  const query = form.query.trim();
  if (!query) return { ok: false, field: "query" };
  if (!Number.isInteger(form.topK) || form.topK < 1 || form.topK > 100) return { ok: false, field: "topK" };
  const timeFrom = parseClock(form.timeFrom);
  if (timeFrom === undefined) return { ok: false, field: "timeFrom" };
  const timeTo = parseClock(form.timeTo);
  if (timeTo === undefined) return { ok: false, field: "timeTo" };
  if (timeFrom != null && timeTo != null && timeTo < timeFrom) return { ok: false, field: "timeOrder" };
  const w = Math.min(1, Math.max(0, form.semanticWeight));
  const weights =
    form.mode === "hybrid"
      ? { vector_weight: round2(w), keyword_weight: round2(1 - w) }
      : form.mode === "semantic"
        ? { vector_weight: 1, keyword_weight: 0 }
        : { vector_weight: 0, keyword_weight: 1 };
  const threshold = form.scoreThreshold;
  return {
    ok: true,
    request: {
      query,
      retrieval_model: {
        search_method: SEARCH_METHOD[form.mode],
        top_k: form.topK,
        score_threshold_enabled: threshold != null,
        score_threshold: threshold != null ? Math.min(1, Math.max(0, threshold)) : null,
        weights,
        fusion: "weighted",
        reranking_enable: false,
        filters: {
          document_ids: form.documentIds,
          kinds: form.kinds,
          time_from: timeFrom,
          time_to: timeTo,
        },
      },
    },
  };
}

/** The player link for a hit: /play/document/<id>?t=<start>&end=<end>&q=<query>. */
export function playerLink(documentId: string, start: number | null | undefined, end: number | null | undefined, q: string): string {
  const params = new URLSearchParams();
  if (start != null) params.set("t", String(Math.floor(start * 10) / 10));
  if (end != null) params.set("end", String(Math.ceil(end * 10) / 10));
  if (q.trim()) params.set("q", q.trim());
  const qs = params.toString();
  return `/play/document/${encodeURIComponent(documentId)}${qs ? `?${qs}` : ""}`;
}

// --- highlighting ----------------------------------------------------------------------------------------------
const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
const CJK_RUN = /[\u3400-\u9fff\uf900-\ufaff]+/g;
const STOP = new Set(
  "a an and are as at be but by for from has have i if in into is it its of on or the this that to was were what when where which who why how with do does did you your".split(
    " ",
  ),
);

/** The words of a query worth marking: "quoted phrases" whole, other words without stop words, CJK as bigrams. */
export function queryTerms(query: string): string[] {
  const out: string[] = [];
  const rest = query.replace(/"([^"]+)"|“([^”]+)”/g, (_m, a?: string, b?: string) => {
    const phrase = (a ?? b ?? "").trim();
    if (phrase) out.push(phrase);
    return " ";
  });
  for (const word of rest.split(/[^\p{L}\p{N}]+/u)) {
    if (!word) continue;
    if (CJK.test(word)) {
      for (const run of word.match(CJK_RUN) ?? []) {
        if (run.length <= 2) out.push(run);
        else for (let i = 0; i + 2 <= run.length; i++) out.push(run.slice(i, i + 2));
      }
      const other = word.replace(CJK_RUN, " ").trim();
      for (const w of other.split(/\s+/)) if (w.length > 1) out.push(w);
    } else if (word.length > 1 && !STOP.has(word.toLowerCase())) {
      out.push(word);
    }
  }
  const seen = new Set<string>();
  return out.filter((t) => {
    const k = t.toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export interface Piece {
  text: string;
  hit: boolean;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Splits `text` into marked and plain pieces: every case-insensitive occurrence of any term is marked (merged). */
export function highlight(text: string, terms: string[]): Piece[] {
  const usable = terms.filter((t) => t.trim());
  if (!text || !usable.length) return text ? [{ text, hit: false }] : [];
  const marked = new Uint8Array(text.length);
  // Latin words match at word starts ("index" marks "indexing", not "reindex"); CJK anywhere.
  for (const term of usable) {
    const pattern = CJK.test(term) ? escape(term) : `(?<![\\p{L}\\p{N}])${escape(term)}`;
    const re = new RegExp(pattern, "giu");
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (!m[0]) {
        re.lastIndex += 1;
        continue;
      }
      marked.fill(1, m.index, m.index + m[0].length);
    }
  }
  const pieces: Piece[] = [];
  let start = 0;
  for (let i = 1; i <= text.length; i++) {
    if (i === text.length || marked[i] !== marked[start]) {
      pieces.push({ text: text.slice(start, i), hit: marked[start] === 1 });
      start = i;
    }
  }
  return pieces;
}
