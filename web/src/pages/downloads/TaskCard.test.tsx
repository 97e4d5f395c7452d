// The row's state machine driven by its event stream: a fake EventSource stands in for the browser's (jsdom has
// none); the real thing is exercised by the lead's Playwright tests against a running service.
import { render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Task } from "../../api/client";
import "../../i18n";
import { FakeEventSource } from "../../test/FakeEventSource";
import { TaskCard } from "./TaskCard";


function task(over: Partial<Task>): Task {
  return {
    id: "t1", status: "queued", stage: "queued", progress: 0, message: "Queued", error: null, source: "url",
    url: "https://videos.example/a.mp4", options: {}, video_info: {}, progress_detail: {}, files: [], attempts: 0,
    created_at: "2026-01-02T03:04:05Z", started_at: null, completed_at: null, events_url: "/api/v1/tasks/t1/events",
    ...over,
  };
}

function renderCard(t: Task, onChanged = vi.fn()) {
  render(
    <MemoryRouter>
      <ul>
        <TaskCard task={t} onChanged={onChanged} />
      </ul>
    </MemoryRouter>,
  );
  return onChanged;
}

const row = () => screen.getByTestId("task-row");

describe("TaskCard", () => {
  beforeEach(() => {
    FakeEventSource.all = [];
    vi.stubGlobal("EventSource", FakeEventSource);
  });
  afterEach(() => vi.unstubAllGlobals());

  it("follows an active task's events: percent, speed, ETA, then completion", () => {
    const onChanged = renderCard(task({}));
    expect(FakeEventSource.all.map((s) => s.url)).toEqual(["/api/v1/tasks/t1/events"]);
    expect(row()).toHaveAttribute("data-status", "queued");
    expect(screen.getByTestId("task-cancel")).toBeInTheDocument();
    expect(screen.queryByTestId("task-retry")).toBeNull();

    const source = FakeEventSource.all[0]!;
    source.emit("progress", { type: "progress", task_id: "t1", status: "running", stage: "download", progress: 42.4,
      message: "Downloading", detail: { percent: 60, speed: 2516582, eta: 125, downloaded_bytes: 3145728,
        total_bytes: 5242880 }, error: null, error_code: null });
    expect(row()).toHaveAttribute("data-status", "running");
    expect(screen.getByTestId("task-progress")).toHaveTextContent("42%");
    expect(row()).toHaveTextContent("2.4 MB/s");
    expect(row()).toHaveTextContent("2 min 5 s");
    expect(row()).toHaveTextContent("3.0 MB / 5.0 MB");
    expect(onChanged).not.toHaveBeenCalled();

    source.emit("status", { type: "status", task_id: "t1", status: "completed", stage: "done", progress: 100,
      message: "Done", detail: {}, error: null, error_code: null });
    expect(row()).toHaveAttribute("data-status", "completed");
    expect(screen.getByTestId("task-progress")).toHaveTextContent("100%");
    expect(screen.queryByTestId("task-cancel")).toBeNull();
    expect(screen.getByTestId("task-delete")).toBeInTheDocument();
    expect(source.closed).toBe(true); // no stream kept open for a finished task
    expect(onChanged).toHaveBeenCalledTimes(1); // the list reloads for the files
  });

  it("shows a failed task's error in words and offers retry, without opening a stream", () => {
    renderCard(task({ status: "failed", stage: "download", progress: 12,
      error: { code: "unsupported_url", message: "no video or audio found at this URL" } }));
    expect(FakeEventSource.all).toEqual([]);
    expect(row()).toHaveAttribute("data-status", "failed");
    expect(row()).toHaveTextContent("No video or audio was found at this address");
    expect(screen.getByTestId("task-retry")).toBeInTheDocument();
    expect(screen.queryByTestId("task-cancel")).toBeNull();
    expect(screen.queryByTestId("task-progress")).toBeNull();
  });

  it("lists a finished task's files with download links and a play link", () => {
    const file = (name: string, kind: string, size: number) => ({ name, kind, url: `/api/v1/files/${name}`,
      size_bytes: size, content_type: "", details: {}, created_at: "2026-01-02T03:04:05Z" });
    renderCard(task({ status: "completed", stage: "done", progress: 100, video_info: { title: "A talk", duration: 75 },
      files: [file("t1-a talk.mp4", "video", 190464), file("t1.mp3", "audio", 231424), file("t1.jpg", "thumbnail", 9)] }));
    const links = screen.getAllByTestId("task-file-link");
    expect(links.map((a) => a.getAttribute("href"))).toEqual([
      "/api/v1/files/t1-a%20talk.mp4?download=true", "/api/v1/files/t1.mp3?download=true"]);
    expect(row()).toHaveTextContent("186 KB");
    expect(row()).toHaveTextContent("A talk");
    expect(row()).toHaveTextContent("1:15");
    expect(screen.getByRole("link", { name: "Play" })).toHaveAttribute("href", "/play/task/t1");
    expect(screen.getByRole("img")).toHaveAttribute("src", "/api/v1/files/t1-a%20talk.mp4/thumbnail");
  });
});
