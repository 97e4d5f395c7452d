import { describe, expect, it } from "vitest";

import type { Task } from "../../api/client";
import { actionsFor, applyEvent, isActive, type Live, liveOf, merge, progressView } from "./progress";

const base: Live = { status: "queued", stage: "queued", progress: 0, message: "Queued", detail: {}, error: null };

function progressEvent(progress: number, detail: Record<string, unknown>) {
  return { type: "progress", task_id: "t", status: "running", stage: "download", progress, message: "Downloading",
    detail, error: null, error_code: null };
}

describe("actionsFor (which buttons a row shows)", () => {
  it("offers cancel while queued or running, retry once failed or cancelled, delete always", () => {
    expect(actionsFor("queued")).toEqual(["cancel", "delete"]);
    expect(actionsFor("running")).toEqual(["cancel", "delete"]);
    expect(actionsFor("completed")).toEqual(["delete"]);
    expect(actionsFor("failed")).toEqual(["retry", "delete"]);
    expect(actionsFor("cancelled")).toEqual(["retry", "delete"]);
    expect(["queued", "running", "completed", "failed", "cancelled"].filter((s) => isActive(s as Live["status"])))
      .toEqual(["queued", "running"]);
  });
});

describe("applyEvent", () => {
  it("takes status, stage, overall progress and the download detail from a progress event", () => {
    const live = applyEvent(base, progressEvent(42.4, { percent: 60, speed: 2516582, eta: 125,
      downloaded_bytes: 3 * 2 ** 20, total_bytes: 5 * 2 ** 20 }));
    expect(live).toMatchObject({ status: "running", stage: "download", progress: 42.4, message: "Downloading" });
    expect(progressView(live)).toEqual({ percent: 42, text: "42%", speed: "2.4 MB/s", eta: "2 min 5 s",
      size: "3.0 MB / 5.0 MB" });
  });

  it("never moves a running bar back for a late event, and shows 100% only when completed", () => {
    let live = applyEvent(base, progressEvent(80, {}));
    live = applyEvent(live, progressEvent(70, {}));
    expect(live.progress).toBe(80);
    live = applyEvent(live, progressEvent(99.8, {}));
    expect(progressView(live).text).toBe("99%");
    live = applyEvent(live, { type: "status", status: "completed", stage: "done", progress: 100, message: "Done",
      detail: {}, error: null, error_code: null });
    expect(progressView(live)).toMatchObject({ text: "100%", percent: 100, speed: null, eta: null, size: null });
  });

  it("keeps the error of a failed task in words and code", () => {
    const live = applyEvent(applyEvent(base, progressEvent(10, {})), {
      type: "status", status: "failed", stage: "download", progress: 10, message: "Failed",
      detail: {}, error: "the media has no audio track to extract", error_code: "no_audio" });
    expect(live.status).toBe("failed");
    expect(live.error).toEqual({ code: "no_audio", message: "the media has no audio track to extract" });
    expect(actionsFor(live.status)).toContain("retry");
  });

  it("ignores what is not a task event", () => {
    expect(applyEvent(base, null)).toBe(base);
    expect(applyEvent(base, "ping")).toBe(base);
    expect(applyEvent(base, { status: "exploded", progress: "lots" })).toEqual(base);
  });

  it("shows no speed or ETA when the download does not report them", () => {
    const view = progressView(applyEvent(base, progressEvent(5, { percent: 5, speed: null, eta: null,
      downloaded_bytes: 1500, total_bytes: null })));
    expect(view).toEqual({ percent: 5, text: "5%", speed: null, eta: null, size: "1.5 KB" });
  });
});

describe("merge (the list's copy vs the stream's)", () => {
  const running: Live = { ...base, status: "running", stage: "download", progress: 30 };
  it("prefers the stream while both see the task active", () => {
    expect(merge(running, { ...running, progress: 55 }).progress).toBe(55);
  });
  it("does not let a stale list undo the end the stream saw", () => {
    const done: Live = { ...running, status: "completed", progress: 100 };
    expect(merge(running, done)).toBe(done);
  });
  it("lets the list win once it saw the end (the stream may have missed it)", () => {
    const failed: Live = { ...running, status: "failed", error: { code: "time_limit", message: "too long" } };
    expect(merge(failed, { ...running, progress: 60 })).toBe(failed);
  });
  it("builds the state from a task", () => {
    const task = { status: "running", stage: "download", progress: 12.5, message: "Downloading",
      progress_detail: { speed: 100 }, error: null } as unknown as Task;
    expect(liveOf(task)).toEqual({ status: "running", stage: "download", progress: 12.5, message: "Downloading",
      detail: { speed: 100 }, error: null });
  });
});
