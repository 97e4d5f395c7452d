import { describe, expect, it } from "vitest";

import {
  buildRetrieve,
  checkUpload,
  DEFAULT_FORM,
  highlight,
  parseClock,
  playerLink,
  queryTerms,
  type StagedDocument,
  stageNames,
  stagesOf,
} from "./logic";

const doc = (over: Partial<StagedDocument>): StagedDocument => ({
  source: "url",
  kind: "video",
  task_id: "t1",
  indexing_status: "waiting",
  stages: {},
  error: null,
  ...over,
});

describe("stages of a document", () => {
  it("media and documents (pasted text too) go through different stages", () => {
    expect(stageNames(doc({}))).toEqual(["download", "transcribe", "chunk", "embed", "index"]);
    expect(stageNames(doc({ source: "upload_file", kind: "pdf", task_id: null }))).toEqual(["parse", "chunk", "embed", "index"]);
    expect(stageNames(doc({ source: "text", kind: "text", task_id: null }))).toEqual(["parse", "chunk", "embed", "index"]);
    // an uploaded video is downloaded by a task like a URL
    expect(stageNames(doc({ source: "upload_file", kind: "video", task_id: "t2" }))[0]).toBe("download");
    // a stage the console does not know yet is still shown
    expect(stageNames(doc({ stages: { ocr: {} } }))).toContain("ocr");
  });

  it("a document half way: done, running, pending, with durations", () => {
    const views = stagesOf(
      doc({
        indexing_status: "transcribe",
        stages: {
          download: { started_at: "2025-01-01T00:00:00Z", completed_at: "2025-01-01T00:00:04Z" },
          transcribe: { started_at: "2025-01-01T00:00:04Z", completed_at: null, error: null },
        },
      }),
      Date.parse("2025-01-01T00:00:10Z"),
    );
    expect(views.map((v) => [v.name, v.state])).toEqual([
      ["download", "done"],
      ["transcribe", "running"],
      ["chunk", "pending"],
      ["embed", "pending"],
      ["index", "pending"],
    ]);
    expect(views[0]?.seconds).toBe(4);
    expect(views[1]?.seconds).toBe(6); // so far
  });

  it("the failed stage carries its error", () => {
    const views = stagesOf(
      doc({
        source: "upload_file",
        kind: "pdf",
        task_id: null,
        indexing_status: "error",
        error: "the PDF is encrypted",
        stages: { parse: { started_at: "2025-01-01T00:00:00Z", completed_at: null, error: "the PDF is encrypted" } },
      }),
    );
    expect(views[0]).toMatchObject({ name: "parse", state: "failed", error: "the PDF is encrypted" });
    expect(views.slice(1).every((v) => v.state === "pending")).toBe(true);
  });

  it("a failure outside any stage (download task deleted) is put on the first unfinished stage", () => {
    const views = stagesOf(doc({ indexing_status: "error", error: "the download task was deleted", stages: {} }));
    expect(views[0]).toMatchObject({ name: "download", state: "failed", error: "the download task was deleted" });
    expect(views.filter((v) => v.state === "failed")).toHaveLength(1);
  });

  it("a started but unfinished stage of a failed document is failed with the document's error", () => {
    const views = stagesOf(
      doc({
        indexing_status: "error",
        error: "the download failed: 404",
        stages: { download: { started_at: "2025-01-01T00:00:00Z" } },
      }),
    );
    expect(views[0]).toMatchObject({ state: "failed", error: "the download failed: 404" });
  });

  it("a completed document has every stage done", () => {
    const at = { started_at: "2025-01-01T00:00:00Z", completed_at: "2025-01-01T00:00:01Z" };
    const views = stagesOf(doc({ source: "text", kind: "text", task_id: null, indexing_status: "completed", stages: { parse: at, chunk: at, embed: at, index: at } }));
    expect(views.every((v) => v.state === "done")).toBe(true);
  });
});

describe("upload size check", () => {
  const MB = 2 ** 20;
  it("accepts a file up to the limit and refuses one byte more", () => {
    expect(checkUpload({ size: 5 * MB }, 5)).toEqual({ ok: true });
    expect(checkUpload({ size: 5 * MB + 1 }, 5)).toEqual({ ok: false, reason: "too_large", maxMb: 5 });
  });
  it("refuses an empty file; no known limit lets any size through", () => {
    expect(checkUpload({ size: 0 }, 5)).toEqual({ ok: false, reason: "empty" });
    expect(checkUpload({ size: 10 ** 12 }, undefined)).toEqual({ ok: true });
  });
});

describe("retrieve request from the form", () => {
  it("hybrid: weights from the slider, the rest from the form", () => {
    const r = buildRetrieve({ ...DEFAULT_FORM, query: "  rocket launch ", semanticWeight: 0.35, topK: 8 });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.request.query).toBe("rocket launch");
    expect(r.request.retrieval_model).toMatchObject({
      search_method: "hybrid_search",
      top_k: 8,
      score_threshold_enabled: false,
      score_threshold: null,
      weights: { vector_weight: 0.35, keyword_weight: 0.65 },
      filters: { document_ids: [], kinds: [], time_from: null, time_to: null },
    });
  });

  it("keyword and semantic modes; threshold; filters with clock times", () => {
    const k = buildRetrieve({
      ...DEFAULT_FORM,
      query: "x",
      mode: "keyword",
      scoreThreshold: 0.4,
      documentIds: ["d1"],
      kinds: ["video"],
      timeFrom: "1:30",
      timeTo: "1:02:05",
    });
    expect(k.ok && k.request.retrieval_model).toMatchObject({
      search_method: "keyword_search",
      score_threshold_enabled: true,
      score_threshold: 0.4,
      weights: { vector_weight: 0, keyword_weight: 1 },
      filters: { document_ids: ["d1"], kinds: ["video"], time_from: 90, time_to: 3725 },
    });
    const s = buildRetrieve({ ...DEFAULT_FORM, query: "x", mode: "semantic" });
    expect(s.ok && s.request.retrieval_model?.search_method).toBe("semantic_search");
  });

  it("says which field is wrong", () => {
    expect(buildRetrieve({ ...DEFAULT_FORM, query: "  " })).toEqual({ ok: false, field: "query" });
    expect(buildRetrieve({ ...DEFAULT_FORM, query: "x", timeFrom: "soon" })).toEqual({ ok: false, field: "timeFrom" });
    expect(buildRetrieve({ ...DEFAULT_FORM, query: "x", timeTo: "1:75" })).toEqual({ ok: false, field: "timeTo" });
    expect(buildRetrieve({ ...DEFAULT_FORM, query: "x", timeFrom: "2:00", timeTo: "1:00" })).toEqual({ ok: false, field: "timeOrder" });
    expect(buildRetrieve({ ...DEFAULT_FORM, query: "x", topK: 0 })).toEqual({ ok: false, field: "topK" });
  });

  it("parses clock times", () => {
    expect(parseClock("")).toBeNull();
    expect(parseClock("90")).toBe(90);
    expect(parseClock("1:15")).toBe(75);
    expect(parseClock("12.5")).toBe(12.5);
    expect(parseClock("abc")).toBeUndefined();
  });

  it("links a hit to the player at its time with the query", () => {
    expect(playerLink("doc 1", 12.34, 20.01, "rocket launch")).toBe("/play/document/doc%201?t=12.3&end=20.1&q=rocket+launch");
    expect(playerLink("d", null, null, "")).toBe("/play/document/d");
  });
});

describe("term highlighting", () => {
  const marked = (text: string, q: string) =>
    highlight(text, queryTerms(q))
      .filter((p) => p.hit)
      .map((p) => p.text);

  it("marks query words case-insensitively, at word starts, without stop words", () => {
    expect(marked("The Rocket launched; rockets and a pocket rocket.", "the rocket")).toEqual(["Rocket", "rocket", "rocket"]);
    // "rocket" marks the start of "rockets" but "pocket" has no match
    expect(highlight("rockets", ["rocket"])).toEqual([
      { text: "rocket", hit: true },
      { text: "s", hit: false },
    ]);
  });

  it("keeps the text whole: pieces join back to the original", () => {
    const text = "Launch at 10:30, then (rocket) science? [yes]";
    expect(
      highlight(text, queryTerms("rocket (science) [yes] 10:30"))
        .map((p) => p.text)
        .join(""),
    ).toBe(text);
  });

  it("quoted phrases whole, Chinese by bigrams, overlapping matches merged", () => {
    expect(queryTerms('"machine learning" models')).toEqual(["machine learning", "models"]);
    expect(queryTerms("高铁时刻")).toEqual(["高铁", "铁时", "时刻"]);
    expect(marked("今天的高铁时刻表已经更新", "高铁时刻")).toEqual(["高铁时刻"]);
    expect(marked("Machine learning models", '"machine learning"')).toEqual(["Machine learning"]);
  });

  it("no terms, no marks; regex characters are plain text", () => {
    expect(highlight("a.b*c", [])).toEqual([{ text: "a.b*c", hit: false }]);
    expect(highlight("costs $5 (approx)", ["$5"]).filter((p) => p.hit).map((p) => p.text)).toEqual(["$5"]);
    expect(highlight("a.b*c abbbc", ["b*c"]).filter((p) => p.hit).map((p) => p.text)).toEqual(["b*c"]);
    expect(highlight("x a+b y", ["a+b"]).filter((p) => p.hit).map((p) => p.text)).toEqual(["a+b"]);
  });
});
