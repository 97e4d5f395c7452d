import { describe, expect, it } from "vitest";

import { budgetPercent, diskState, megabytes, stateClass, type StorageInfo } from "./shapes";

describe("system page helpers", () => {
  it("says megabytes the way people read them", () => {
    expect(megabytes(0)).toBe("0 B");
    expect(megabytes(0.5)).toBe("512 KB");
    expect(megabytes(2048)).toBe("2.0 GB");
    expect(megabytes(null)).toBe("–");
  });

  it("calls the disk full below the threshold (new work refused) and low within twice it", () => {
    expect(diskState(999, 1000)).toBe("full");
    expect(diskState(1000, 1000)).toBe("low");
    expect(diskState(1999, 1000)).toBe("low");
    expect(diskState(2000, 1000)).toBe("ok");
  });

  it("measures use against the retention budget, capped at 100", () => {
    const info = { total_size_mb: 250, policy: { max_total_mb: 1000, max_age_hours: 24, keep_newest: 5 } } as StorageInfo;
    expect(budgetPercent(info)).toBe(25);
    expect(budgetPercent({ ...info, total_size_mb: 5000 })).toBe(100);
    expect(budgetPercent({ ...info, policy: { ...info.policy, max_total_mb: 0 } })).toBe(0);
  });

  it("maps component states to badge colours", () => {
    expect(stateClass("ok")).toBe("ok");
    expect(stateClass("available")).toBe("ok");
    expect(stateClass("unavailable")).toBe("unavailable");
    expect(stateClass(undefined)).toBe("degraded");
    expect(stateClass("starting")).toBe("degraded");
  });
});
