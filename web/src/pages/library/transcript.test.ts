import { describe, expect, it } from "vitest";

import { citedLines, type Line, lineAt, quoteRanges, seconds, splitMarked } from "./transcript";

const LINES: Line[] = [
  { start: 0, end: 3.3, text: "The museum opens at nine." },
  { start: 4.8, end: 8.2, text: "Tickets cost ten euros, children enter free." },
  { start: 9.7, end: 13.6, text: "The guided tour starts at noon." },
  { start: 15.1, end: 19.0, text: "Photography is allowed without flash." },
];

/** The marked words of each line, for readable assertions. */
function marked(texts: string[], quote: string): string[][] {
  return quoteRanges(texts, quote).map((ranges, i) => ranges.map(([a, b]) => texts[i]!.slice(a, b)));
}

describe("lineAt", () => {
  it("finds the line containing the time", () => {
    expect(lineAt(LINES, 0)).toBe(0);
    expect(lineAt(LINES, 3.29)).toBe(0);
    expect(lineAt(LINES, 5)).toBe(1);
    expect(lineAt(LINES, 9.7)).toBe(2);
    expect(lineAt(LINES, 18.99)).toBe(3);
  });
  it("is -1 in gaps, before the first and after the last line", () => {
    expect(lineAt(LINES, 3.3)).toBe(-1); // end is exclusive
    expect(lineAt(LINES, 4)).toBe(-1);
    expect(lineAt(LINES, -1)).toBe(-1);
    expect(lineAt(LINES, 25)).toBe(-1);
    expect(lineAt([], 1)).toBe(-1);
  });
  it("agrees with a linear scan on many lines", () => {
    const many: Line[] = Array.from({ length: 1000 }, (_, i) => ({ start: i * 2, end: i * 2 + 1.5, text: `${i}` }));
    for (const time of [0, 0.5, 1.6, 777.2, 1998.1, 1999.4, 1999.6, 5000]) {
      const linear = many.findIndex((l) => l.start <= time && time < l.end);
      expect(lineAt(many, time)).toBe(linear);
    }
  });
});

describe("citedLines", () => {
  it("takes every line overlapping [start, end]", () => {
    expect(citedLines(LINES, 4.8, 13.6)).toEqual([1, 2]);
    expect(citedLines(LINES, 2, 5)).toEqual([0, 1]);
    expect(citedLines(LINES, 3.3, 4.8)).toEqual([]); // a gap touches no line
  });
  it("without an end takes the line at start, or the next one", () => {
    expect(citedLines(LINES, 10, null)).toEqual([2]);
    expect(citedLines(LINES, 4, null)).toEqual([1]);
    expect(citedLines(LINES, null, 10)).toEqual([]);
  });
});

describe("seconds", () => {
  it("reads numbers and refuses the rest", () => {
    expect(seconds("12.5")).toBe(12.5);
    expect(seconds("0")).toBe(0);
    expect(seconds(null)).toBeNull();
    expect(seconds("")).toBeNull();
    expect(seconds("abc")).toBeNull();
    expect(seconds("-3")).toBeNull();
  });
});

describe("quoteRanges", () => {
  it("marks a phrase ignoring case and punctuation", () => {
    expect(marked([LINES[1]!.text], "tickets cost ten euros children")).toEqual([["Tickets cost ten euros, children"]]);
  });
  it("marks a phrase that spans lines", () => {
    const texts = [LINES[1]!.text, LINES[2]!.text];
    expect(marked(texts, "children enter free. The guided tour")).toEqual([["children enter free"], ["The guided tour"]]);
  });
  it("grows a quote cut mid-word to whole words", () => {
    expect(marked([LINES[0]!.text], "…seum opens at ni…")).toEqual([["museum opens at nine"]]);
  });
  it("falls back to the quote's words when the phrase is not there", () => {
    expect(marked([LINES[2]!.text], "When does the tour start? At noon!")).toEqual([["tour", "noon"]]);
  });
  it("does not mark a short word inside another word", () => {
    expect(marked(["The guided tour starts at noon."], "art")).toEqual([[]]);
  });
  it("marks nothing for an unrelated quote", () => {
    expect(marked([LINES[3]!.text], "zebra xylophone")).toEqual([[]]);
  });
  it("matches Chinese without spaces, across punctuation and lines", () => {
    const texts = ["博物馆每天早上九点开门，", "门票十欧元。儿童免费入场。"];
    expect(marked(texts, "九点开门门票十欧元")).toEqual([["九点开门"], ["门票十欧元"]]);
    expect(marked(["博物馆每天早上九点开门。"], "早上九点")).toEqual([["早上九点"]]);
  });
  it("falls back to Chinese runs when the whole quote is not there", () => {
    expect(marked(["导游讲解中午十二点开始。"], "讲解，下午")).toEqual([["讲解"]]); // 下午 is not there
  });
  it("handles mixed Chinese and English", () => {
    expect(marked(["我们用vidrag下载视频"], "vidrag下载")).toEqual([["vidrag下载"]]);
    expect(marked(["我们用 VidRAG 下载视频"], "vidrag 下载")).toEqual([["VidRAG 下载"]]);
  });
});

describe("splitMarked", () => {
  it("cuts a line into plain and marked pieces", () => {
    expect(splitMarked("abc def ghi", [[4, 7]])).toEqual([
      { text: "abc ", mark: false },
      { text: "def", mark: true },
      { text: " ghi", mark: false },
    ]);
    expect(splitMarked("abc", [])).toEqual([{ text: "abc", mark: false }]);
    expect(splitMarked("abc", [[0, 3]])).toEqual([{ text: "abc", mark: true }]);
  });
});
