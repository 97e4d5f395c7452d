// The URL box: one URL a line. Blank lines and repeats are dropped; anything that is not an http(s) URL is reported
// with its line number before anything is sent.

export const MAX_URL_LENGTH = 4096; // TaskCreate.url max_length

export type UrlProblemReason = "not_url" | "scheme" | "too_long";

export interface UrlProblem {
  line: number; // 1-based, as the user sees it
  text: string;
  reason: UrlProblemReason;
}

export interface ParsedUrls {
  urls: string[];
  problems: UrlProblem[];
  duplicates: number;
}

function check(text: string): { key: string } | { reason: UrlProblemReason } {
  if (text.length > MAX_URL_LENGTH) return { reason: "too_long" };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { reason: "not_url" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return { reason: "scheme" };
  if (!url.hostname || /\s/.test(text)) return { reason: "not_url" };
  return { key: url.href };
}

export function parseUrls(text: string): ParsedUrls {
  const urls: string[] = [];
  const problems: UrlProblem[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const result = check(line);
    if ("reason" in result) {
      problems.push({ line: i + 1, text: line, reason: result.reason });
    } else if (seen.has(result.key)) {
      duplicates += 1;
    } else {
      seen.add(result.key);
      urls.push(line);
    }
  });
  return { urls, problems, duplicates };
}
