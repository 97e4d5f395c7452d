import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

// Every stylesheet of the console, as text (read from disk: Vitest hands CSS imports over empty). The themes are
// parsed from the CSS itself, so the test checks what ships.
const SRC = dirname(fileURLToPath(import.meta.url));
const sheets = Object.fromEntries(
  readdirSync(SRC, { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith(".css"))
    .map((path) => [path, readFileSync(join(SRC, path), "utf8")]),
);
const main = sheets["styles.css"] ?? "";

function variables(block: string): Map<string, string> {
  return new Map([...block.matchAll(/--([\w-]+)\s*:\s*([^;]+);/g)].map((m) => [m[1]!, m[2]!.trim()]));
}

const light = variables(/:root\s*\{([^}]*)\}/.exec(main)?.[1] ?? "");
const darkBlock = /@media\s*\(prefers-color-scheme:\s*dark\)\s*\{\s*:root\s*\{([^}]*)\}/.exec(main)?.[1] ?? "";
const dark = variables(darkBlock);
const themes = { light, dark };

/** WCAG 2.x relative luminance of a #rgb or #rrggbb colour. */
function luminance(hex: string): number {
  const digits = hex.replace("#", "");
  const full = digits.length === 3 ? [...digits].map((d) => d + d).join("") : digits;
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(full.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

// [text, background, where the pair is seen]; text needs 4.5:1 (WCAG AA, 1.4.3).
const TEXT_PAIRS: Array<[string, string, string]> = [
  ["text", "bg", "page text"],
  ["text", "panel", "panels, tables, the API-key dialog"],
  ["text", "field", "inputs and selects"],
  ["text", "hover", "a hovered transcript line"],
  ["text", "line", "a plain badge"],
  ["muted", "panel", "secondary text, table headers"],
  ["muted", "bg", "secondary text outside panels"],
  ["muted", "accent-soft", "'you' above a question on the ask page"],
  ["accent", "panel", "links, secondary buttons, the active tab"],
  ["accent", "bg", "links outside panels"],
  ["accent", "hover", "a hovered transcript line's time"],
  ["accent", "accent-soft", "running badges, chips, the active nav item, the current transcript line"],
  ["text", "accent-soft", "notices, the cited-passage banner, the current transcript line"],
  ["accent", "cited", "a cited transcript line's time"],
  ["text", "cited", "a cited transcript line"],
  ["text", "mark", "the quote highlighted in a cited line"],
  ["ok", "panel", "a finished stage"],
  ["warn", "panel", "warnings"],
  ["bad", "panel", "a failed stage, a danger button"],
  ["ok", "ok-soft", "completed / healthy badges"],
  ["warn", "warn-soft", "degraded / paused / cancelled badges"],
  ["bad", "bad-soft", "failed / unavailable badges, error messages"],
  ["on-solid", "accent-solid", "primary buttons"],
  ["on-solid", "bad-solid", "the confirm-delete button"],
];
// Shapes that carry meaning need 3:1 against what is next to them (WCAG 1.4.11).
const SHAPE_PAIRS: Array<[string, string, string]> = [["accent", "line", "a progress bar's fill on its track"]];

describe("the console's colour themes", () => {
  it("come as a light set and a dark set defining the same colours", () => {
    expect(light.size).toBeGreaterThan(10);
    expect(/color-scheme:\s*dark/.test(darkBlock)).toBe(true);
    const colours = (theme: Map<string, string>) => [...theme.keys()].filter((k) => k !== "radius").sort();
    expect(colours(dark)).toEqual(colours(light));
  });

  it("define every variable a stylesheet uses", () => {
    for (const [path, css] of Object.entries(sheets)) {
      for (const [, name] of css.matchAll(/var\(--([\w-]+)\)/g)) {
        expect(light.has(name!), `${path} uses --${name}, which :root does not define`).toBe(true);
      }
    }
  });

  for (const [theme, colours] of Object.entries(themes)) {
    const check = (pairs: Array<[string, string, string]>, minimum: number) => {
      for (const [fg, bg, where] of pairs) {
        const [a, b] = [colours.get(fg), colours.get(bg)];
        expect(a, `--${fg} in the ${theme} theme`).toMatch(/^#[0-9a-f]{3}([0-9a-f]{3})?$/i);
        expect(b, `--${bg} in the ${theme} theme`).toMatch(/^#[0-9a-f]{3}([0-9a-f]{3})?$/i);
        const ratio = contrast(a!, b!);
        expect(ratio, `${theme}: --${fg} on --${bg} (${where}) is ${ratio.toFixed(2)}:1`).toBeGreaterThanOrEqual(minimum);
      }
    };
    it(`keep text readable in the ${theme} theme (WCAG AA, 4.5:1)`, () => check(TEXT_PAIRS, 4.5));
    it(`keep progress bars visible in the ${theme} theme (3:1)`, () => check(SHAPE_PAIRS, 3));
  }

  it("measure contrast as WCAG does", () => {
    expect(contrast("#000", "#fff")).toBeCloseTo(21, 5);
    expect(contrast("#fff", "#fff")).toBeCloseTo(1, 5);
    expect(contrast("#767676", "#fff")).toBeCloseTo(4.54, 2); // the lightest grey that passes AA on white
  });
});
