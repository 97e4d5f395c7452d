import i18next from "i18next";
import { afterEach, describe, expect, it, vi } from "vitest";

import "../i18n";
import { age, bytes, clock, dateTime, eta, locale, span, speed, took } from "./format";

// Local time, so the expected clock reads the same in every time zone the tests run in.
const EVENING = new Date(2026, 10, 27, 21, 5, 9);

describe("clock and span", () => {
  it("write times the same in every language", () => {
    expect(clock(75.4)).toBe("1:15");
    expect(clock(3725)).toBe("1:02:05");
    expect(span(75, 92)).toBe("1:15–1:32");
    expect(span(75, null)).toBe("1:15");
  });
});

// [what, English, Chinese]: sizes keep their international units; Chinese durations say 分 before seconds and 分钟
// at the end; Chinese dates go year first on a 24-hour clock.
const CASES: [(lang: string) => string, string, string][] = [
  [(l) => bytes(0, l), "0 B", "0 B"],
  [(l) => bytes(1536, l), "1.5 KB", "1.5 KB"],
  [(l) => bytes(190464, l), "186 KB", "186 KB"],
  [(l) => bytes(3 * 2 ** 20, l), "3.0 MB", "3.0 MB"],
  [(l) => bytes(null, l), "–", "–"],
  [(l) => speed(2516582, l), "2.4 MB/s", "2.4 MB/s"],
  [(l) => speed(null, l), "–", "–"],
  [(l) => eta(3, l), "3 s", "3 秒"],
  [(l) => eta(200, l), "3 min 20 s", "3 分 20 秒"],
  [(l) => eta(3840, l), "1 h 4 min", "1 小时 4 分钟"],
  [(l) => eta(null, l), "–", "–"],
  [(l) => took(4.21, l), "4.2 s", "4.2 秒"],
  [(l) => took(75, l), "75 s", "75 秒"],
  [(l) => took(300, l), "5 min", "5 分钟"],
  [(l) => age(0.25, l), "15 min", "15 分钟"],
  [(l) => age(5.4, l), "5 h", "5 小时"],
  [(l) => age(72, l), "3 d", "3 天"],
  [(l) => dateTime(EVENING, "minute", l), "11/27/2026, 9:05 PM", "2026/11/27 21:05"],
  [(l) => dateTime(EVENING, "second", l), "11/27/2026, 9:05:09 PM", "2026/11/27 21:05:09"],
  [(l) => dateTime("not a date", "minute", l), "–", "–"],
];

describe("sizes, speeds, durations and dates", () => {
  it("in English", () => {
    expect(CASES.map(([say]) => say("en-US"))).toEqual(CASES.map(([, en]) => en));
  });
  it("in Chinese", () => {
    expect(CASES.map(([say]) => say("zh-CN"))).toEqual(CASES.map(([, , zh]) => zh));
  });
});

describe("format in the console's language", () => {
  afterEach(async () => {
    vi.restoreAllMocks();
    await i18next.changeLanguage("en");
  });

  it("follows the language i18next shows", async () => {
    await i18next.changeLanguage("zh-CN");
    expect(locale()).toBe("zh-CN");
    expect(eta(125)).toBe("2 分 5 秒");
    expect(dateTime(EVENING)).toBe("2026/11/27 21:05");
    await i18next.changeLanguage("en");
    expect(eta(125)).toBe("2 min 5 s");
  });

  it("takes the browser's region for a language without one", () => {
    vi.spyOn(navigator, "languages", "get").mockReturnValue(["de-DE", "en-GB", "zh-TW"]);
    expect(locale("en")).toBe("en-GB");
    expect(dateTime(EVENING, "minute", "en")).toBe("27/11/2026, 21:05");
    expect(locale("zh-CN")).toBe("zh-CN"); // a console language with a region keeps it
    expect(locale("fr")).toBe("fr");
  });
});
