import { describe, expect, it } from "vitest";

import { NAMESPACES } from "./index";

function keys(value: unknown, prefix = ""): string[] {
  if (value === null || typeof value !== "object") return [prefix];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k));
}

describe("translations", () => {
  for (const [ns, m] of Object.entries(NAMESPACES)) {
    it(`${ns}: English and Chinese have the same keys`, () => {
      expect(keys(m["zh-CN"]).sort()).toEqual(keys(m.en).sort());
    });
    it(`${ns}: no empty strings`, () => {
      const empty = (v: unknown): boolean =>
        typeof v === "string" ? v.trim() === "" : Object.values(v as object).some(empty);
      expect(empty(m.en)).toBe(false);
      expect(empty(m["zh-CN"])).toBe(false);
    });
  }
});
