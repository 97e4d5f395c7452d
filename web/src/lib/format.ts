// Numbers in words people read, in the console's language: clock times, sizes, speeds, durations, dates.
// Each takes the language last (tests pass it); by default it is the one i18next shows the console in.
import i18next from "i18next";

/** The locale for Intl: the console's language, in the browser's own region when the browser speaks it too (an
 *  English console in a British browser writes 27/11/2026). */
export function locale(lang: string = i18next.language || "en"): string {
  if (lang.includes("-") || typeof navigator === "undefined") return lang;
  return navigator.languages?.find((l) => l.split("-")[0] === lang) ?? lang;
}

const formats = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat>();

/** Intl's formatters are slow to make and fast to use: one per locale and kind. */
function cached<F extends Intl.NumberFormat | Intl.DateTimeFormat>(key: string, make: () => F): F {
  let format = formats.get(key) as F | undefined;
  if (!format) {
    format = make();
    formats.set(key, format);
  }
  return format;
}

/** A number with exactly `digits` decimals, as the language writes it. */
function decimal(value: number, digits: number, lang?: string): string {
  const loc = locale(lang);
  const format = cached(`n:${loc}:${digits}`, () =>
    new Intl.NumberFormat(loc, { minimumFractionDigits: digits, maximumFractionDigits: digits }),
  );
  return format.format(value);
}

/** 75.4 → "1:15", 3725 → "1:02:05". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** A start–end span as "1:15–1:32". */
export function span(start: number, end?: number | null): string {
  return end != null && end > start ? `${clock(start)}–${clock(end)}` : clock(start);
}

// Sizes keep their international units in every language (Chinese writes "1.5 MB" too).
const UNITS = ["B", "KB", "MB", "GB", "TB"];

/** 1536 → "1.5 KB" (powers of 1024, one decimal below 10). */
export function bytes(n: number | null | undefined, lang?: string): string {
  if (n == null || !Number.isFinite(n)) return "–";
  let v = Math.max(0, n);
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${decimal(v, v < 10 && i > 0 ? 1 : 0, lang)} ${UNITS[i]}`;
}

/** Bytes per second → "2.4 MB/s". */
export function speed(bps: number | null | undefined, lang?: string): string {
  return bps == null ? "–" : `${bytes(bps, lang)}/s`;
}

// Time units as each language abbreviates them. Chinese says 分 before seconds ("3 分 20 秒") and 分钟 when the
// minutes end the phrase ("1 小时 4 分钟"). Intl.DurationFormat would do this, but Node 20 (the tests) has none.
const TIME_UNITS = {
  en: { d: "d", h: "h", min: "min", minEnd: "min", s: "s" },
  zh: { d: "天", h: "小时", min: "分", minEnd: "分钟", s: "秒" },
};

function timeUnits(lang?: string) {
  return locale(lang).startsWith("zh") ? TIME_UNITS.zh : TIME_UNITS.en;
}

/** Seconds left → "3 s", "2 min 5 s", "1 h 4 min" (Chinese: "3 秒", "2 分 5 秒", "1 小时 4 分钟"). */
export function eta(seconds: number | null | undefined, lang?: string): string {
  if (seconds == null || !Number.isFinite(seconds)) return "–";
  const u = timeUnits(lang);
  const int = (n: number) => decimal(n, 0, lang);
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${int(s)} ${u.s}`;
  if (s < 3600) return `${int(Math.floor(s / 60))} ${u.min} ${int(s % 60)} ${u.s}`;
  return `${int(Math.floor(s / 3600))} ${u.h} ${int(Math.floor((s % 3600) / 60))} ${u.minEnd}`;
}

/** How long a step took: 4.21 → "4.2 s", 75 → "75 s", 300 → "5 min" (Chinese: "4.2 秒", "75 秒", "5 分钟"). */
export function took(seconds: number, lang?: string): string {
  const u = timeUnits(lang);
  if (seconds < 10) return `${decimal(seconds, 1, lang)} ${u.s}`;
  if (seconds < 120) return `${decimal(seconds, 0, lang)} ${u.s}`;
  return `${decimal(seconds / 60, 0, lang)} ${u.minEnd}`;
}

/** A moment to the minute (or second): "11/27/2026, 9:05 PM" in English, "2026/11/27 21:05" in Chinese; "–" if it is
 *  no date. */
export function dateTime(value: string | number | Date, to: "minute" | "second" = "minute", lang?: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "–";
  const loc = locale(lang);
  const format = cached(`d:${loc}:${to}`, () =>
    new Intl.DateTimeFormat(loc, {
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "2-digit",
      second: to === "second" ? "2-digit" : undefined,
    }),
  );
  return format.format(date);
}

/** An age in hours, rounded to one unit: 0.25 → "15 min", 5.4 → "5 h", 72 → "3 d" (Chinese: "15 分钟", "5 小时",
 *  "3 天"). */
export function age(hours: number, lang?: string): string {
  const u = timeUnits(lang);
  const int = (n: number) => decimal(Math.round(n), 0, lang);
  if (hours < 1) return `${int(hours * 60)} ${u.minEnd}`;
  if (hours < 48) return `${int(hours)} ${u.h}`;
  return `${int(hours / 24)} ${u.d}`;
}
