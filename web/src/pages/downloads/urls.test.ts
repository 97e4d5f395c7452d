import { describe, expect, it } from "vitest";

import { MAX_URL_LENGTH, parseUrls } from "./urls";

describe("parseUrls", () => {
  it("keeps one URL a line, trimmed, in order, without blank lines", () => {
    const r = parseUrls("  https://a.example/v/1  \n\n\r\nhttp://b.example/x?y=1\r\n   \n");
    expect(r.urls).toEqual(["https://a.example/v/1", "http://b.example/x?y=1"]);
    expect(r.problems).toEqual([]);
    expect(r.duplicates).toBe(0);
  });

  it("drops repeats, also when they differ only in how they are written", () => {
    const r = parseUrls("https://a.example/v\nhttps://A.EXAMPLE/v\nhttps://a.example:443/v\nhttps://a.example/w");
    expect(r.urls).toEqual(["https://a.example/v", "https://a.example/w"]);
    expect(r.duplicates).toBe(2);
  });

  it("reports every line that is not an http(s) URL with its 1-based line number", () => {
    const r = parseUrls("https://ok.example/1\nnot a url\n\nftp://files.example/a.mp4\nexample.com/video\n" +
      "https://a.example/x https://b.example/y\njavascript:alert(1)");
    expect(r.urls).toEqual(["https://ok.example/1"]);
    expect(r.problems).toEqual([
      { line: 2, text: "not a url", reason: "not_url" },
      { line: 4, text: "ftp://files.example/a.mp4", reason: "scheme" },
      { line: 5, text: "example.com/video", reason: "not_url" },
      { line: 6, text: "https://a.example/x https://b.example/y", reason: "not_url" },
      { line: 7, text: "javascript:alert(1)", reason: "scheme" },
    ]);
  });

  it("refuses a URL longer than the service accepts", () => {
    const long = `https://a.example/${"x".repeat(MAX_URL_LENGTH)}`;
    expect(parseUrls(long).problems).toEqual([{ line: 1, text: long, reason: "too_long" }]);
    const fits = `https://a.example/${"x".repeat(MAX_URL_LENGTH - 18)}`;
    expect(fits.length).toBe(MAX_URL_LENGTH);
    expect(parseUrls(fits).urls).toEqual([fits]);
  });

  it("gives nothing for an empty box", () => {
    expect(parseUrls("\n  \n")).toEqual({ urls: [], problems: [], duplicates: 0 });
  });
});
