import { describe, expect, it } from "vitest";

import { applyEvent, type Citation, citationLabel, citationLink, historyOf, splitCitations, type Turn } from "./logic";

const cite = (over: Partial<Citation> = {}): Citation => ({
  n: 1,
  cited: true,
  score: 0.8,
  document: { id: "doc 1", name: "Talk", kind: "video", source_url: null },
  chunk: { id: 3, position: 2 },
  quote: "the lighthouse keeper",
  start: 75.5,
  end: 92,
  url: null,
  player_url: null,
  page: null,
  heading: null,
  chapter: null,
  ...over,
});

describe("splitCitations", () => {
  it("separates markers from text, including lists and adjacent markers", () => {
    expect(splitCitations("A [1][2] and B [3, 4].")).toEqual([
      { text: "A " },
      { cite: 1 },
      { cite: 2 },
      { text: " and B " },
      { cite: 3 },
      { cite: 4 },
      { text: "." },
    ]);
  });
  it("leaves other brackets alone", () => {
    expect(splitCitations("see [a] or [1a]")).toEqual([{ text: "see [a] or [1a]" }]);
  });
  it("handles text without markers and an empty answer", () => {
    expect(splitCitations("plain")).toEqual([{ text: "plain" }]);
    expect(splitCitations("")).toEqual([]);
  });
});

describe("citation links and labels", () => {
  it("opens the player at the cited second with the span and the quote", () => {
    const url = new URL(citationLink(cite())!, "http://x");
    expect(url.pathname).toBe("/play/document/doc%201");
    expect(url.searchParams.get("t")).toBe("75.5");
    expect(url.searchParams.get("end")).toBe("92");
    expect(url.searchParams.get("q")).toBe("the lighthouse keeper");
  });
  it("has no player link for a document without times", () => {
    expect(citationLink(cite({ start: null, end: null }))).toBeNull();
  });
  it("labels with title and time, or page, or title alone", () => {
    expect(citationLabel(cite(), (p) => `p${p}`)).toBe("Talk · 1:15–1:32");
    expect(citationLabel(cite({ start: null, end: null, page: 4 }), (p) => `p${p}`)).toBe("Talk · p4");
    expect(citationLabel(cite({ start: null, end: null }), (p) => `p${p}`)).toBe("Talk");
  });
});

describe("stream events", () => {
  it("builds an answer from deltas, then citations, then done", () => {
    let turn: Turn = { role: "assistant", content: "", streaming: true };
    turn = applyEvent(turn, { event: "delta", data: { text: "Hello " } });
    turn = applyEvent(turn, { event: "delta", data: { text: "[1]" } });
    turn = applyEvent(turn, {
      event: "citations",
      data: { citations: [cite()], sources: [cite()], supported: true, mode: "llm" },
    });
    turn = applyEvent(turn, { event: "done", data: { answer: "Hello [1]" } });
    expect(turn).toMatchObject({ content: "Hello [1]", streaming: false, supported: true, mode: "llm" });
    expect(turn.citations).toHaveLength(1);
  });
  it("an error ends the answer and keeps what was written", () => {
    const turn = applyEvent({ role: "assistant", content: "part", streaming: true },
                            { event: "error", data: { code: "llm_failed", message: "model went away" } });
    expect(turn).toMatchObject({ content: "part", streaming: false, error: { code: "llm_failed" } });
  });
  it("history leaves out failed and empty turns", () => {
    const turns: Turn[] = [
      { role: "user", content: "q1" },
      { role: "assistant", content: "a1" },
      { role: "user", content: "q2" },
      { role: "assistant", content: "", error: { code: "x" } },
    ];
    expect(historyOf(turns)).toEqual([
      { role: "user", content: "q1" },
      { role: "assistant", content: "a1" },
      { role: "user", content: "q2" },
    ]);
  });
});
