import { describe, expect, it } from "vitest";

import { statusQuery, streamed } from "./index";

describe("downloads list", () => {
  it("follows at most three active tasks live: running first, then the oldest queued", () => {
    // the list is newest first
    const tasks = [
      { id: "q3", status: "queued" as const },
      { id: "r2", status: "running" as const },
      { id: "done", status: "completed" as const },
      { id: "q2", status: "queued" as const },
      { id: "q1", status: "queued" as const },
      { id: "r1", status: "running" as const },
    ];
    expect([...streamed(tasks)]).toEqual(["r2", "r1", "q1"]);
    expect([...streamed(tasks, 10)]).toEqual(["r2", "r1", "q1", "q2", "q3"]);
    expect(streamed([{ id: "x", status: "failed" }]).size).toBe(0);
  });

  it("asks the service for the statuses a filter means", () => {
    expect(statusQuery("all")).toBeUndefined();
    expect(statusQuery("active")).toEqual(["queued", "running"]);
    expect(statusQuery("failed")).toEqual(["failed"]);
  });
});
