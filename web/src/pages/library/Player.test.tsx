// The player and library wired to a stubbed service: citation seek, cited lines and marks, following playback, clicks.
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// openapi-fetch takes globalThis.fetch when the client is created (at import), so the stub goes in before imports.
const service = vi.hoisted(() => {
  const state = { handle: async (_request: Request): Promise<Response> => new Response(null, { status: 500 }) };
  globalThis.fetch = ((input: Request) => state.handle(input)) as typeof fetch;
  // Node's Request wants absolute URLs; the console calls the service at relative ones ("/api/...")
  const Base = globalThis.Request;
  globalThis.Request = class extends Base {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === "string" && input.startsWith("/") ? `http://localhost${input}` : input, init);
    }
  };
  return state;
});

import "../../i18n";
import LibraryPage from "./index";
import PlayerPage from "./Player";

const PLAYER = {
  document: { id: "d1", name: "talk.mp4", source_url: "https://example.com/talk", metadata: { title: "The talk", duration: 24.4 } },
  dataset_id: "ds1",
  media_url: "/api/v1/files/video_talk.mp4",
  media_type: "video/mp4",
  thumbnail_url: "/api/v1/files/video_talk.mp4/thumbnail",
  segments: [
    { start: 9.8, end: 13.4, text: "Our football team won the championship." },
    { start: 0, end: 3, text: "The lighthouse keeper counted seven ships." },
    { start: 4.9, end: 8.9, text: "Fresh roses need warm soil." },
  ],
};

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

let calls: string[] = [];
beforeEach(() => {
  calls = [];
  service.handle = async (input: Request) => {
    const url = new URL(input.url, "http://localhost");
    calls.push(url.pathname + url.search);
    if (url.pathname === "/api/v1/documents/d1/player") return json(PLAYER);
    if (url.pathname === "/api/v1/datasets/ds1") return json({ id: "ds1", name: "talks" });
    if (url.pathname === "/api/v1/documents")
      return json({
        data: [
          { id: "d1", name: "talk", dataset_id: "ds1", dataset_name: "talks", kind: "video", metadata: {}, media_url: "/m", media_type: "video/mp4", thumbnail_url: null, word_count: 3, segment_count: 1, indexing_status: "completed" },
          { id: "d2", name: "notes", dataset_id: "ds1", dataset_name: "talks", kind: "text", metadata: {}, media_url: null, media_type: null, thumbnail_url: null, word_count: 9, segment_count: 1, indexing_status: "completed" },
        ],
        total: 2, page: 1, limit: 24, has_more: false,
      });
    if (url.pathname === "/api/v1/tasks")
      return json({ items: [{ id: "t1", url: "https://example.com/v", video_info: { title: "clip" }, files: [{ kind: "video", url: "/api/v1/files/v.mp4" }] }], total: 1, offset: 0, limit: 12 });
    return json({ code: "not_found", message: "no" }, 404);
  };
  Element.prototype.scrollTo = vi.fn(); // jsdom has no layout
  // jsdom has no media playback: record what the player asks for
  vi.spyOn(HTMLMediaElement.prototype, "play").mockImplementation(function (this: HTMLMediaElement) {
    return Promise.resolve();
  });
});
afterEach(() => vi.restoreAllMocks());

function renderAt(path: string) {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Routes>
        <Route path="/library" element={<LibraryPage />} />
        <Route path="/play/:kind/:id" element={<PlayerPage />} />
      </Routes>
    </MemoryRouter>,
  );
}

describe("player", () => {
  it("seeks to the citation, marks the cited lines and the quoted words, follows playback", async () => {
    renderAt("/play/document/d1?t=4.9&end=13.4&q=" + encodeURIComponent("…roses need warm soil. Our football"));
    const lines = await screen.findAllByTestId("transcript-line");
    expect(lines.map((l) => l.getAttribute("data-start"))).toEqual(["0", "4.9", "9.8"]); // sorted
    expect(lines.map((l) => l.classList.contains("cited"))).toEqual([false, true, true]);
    expect(screen.getAllByTestId("cited-mark").map((m) => m.textContent)).toEqual(["roses need warm soil", "Our football"]);

    // the first cited line is brought into view (by an effect, which may run after the lines appear)
    await waitFor(() => expect(Element.prototype.scrollTo).toHaveBeenCalled());

    const video = screen.getByTestId("player-video") as HTMLVideoElement;
    expect(video.tagName).toBe("VIDEO");
    expect(video.getAttribute("src")).toBe("/api/v1/files/video_talk.mp4");
    fireEvent(video, new Event("loadedmetadata"));
    expect(video.currentTime).toBe(4.9);
    expect(HTMLMediaElement.prototype.play).not.toHaveBeenCalled(); // no autoplay

    video.currentTime = 10;
    fireEvent(video, new Event("timeupdate"));
    await waitFor(() => expect(lines[2]).toHaveClass("current"));
    expect(lines[1]).not.toHaveClass("current");

    fireEvent.click(lines[0]!);
    expect(video.currentTime).toBe(0);
    expect(HTMLMediaElement.prototype.play).toHaveBeenCalled();

    expect(await screen.findByRole("link", { name: "talks" })).toHaveAttribute("href", "/knowledge/ds1");
    expect(screen.getByTestId("transcript-export-srt")).toHaveAttribute(
      "href",
      "/api/v1/datasets/ds1/documents/d1/transcript?format=srt",
    );
  });

  it("says what went wrong when the document is gone", async () => {
    renderAt("/play/document/missing");
    expect(await screen.findByRole("alert")).toBeInTheDocument();
  });
});

describe("library", () => {
  it("links media to the player, text to its knowledge page, loose downloads to the task player", async () => {
    renderAt("/library");
    await waitFor(() => expect(screen.getAllByTestId("library-item")).toHaveLength(3));
    const items = screen.getAllByTestId("library-item");
    expect(items[0]).toHaveAttribute("data-document-id", "d1");
    expect(items[0]).toHaveAttribute("href", "/play/document/d1");
    expect(items[1]).toHaveAttribute("href", "/knowledge/ds1/documents/d2");
    expect(items[2]).toHaveAttribute("data-task-id", "t1");
    expect(items[2]).toHaveAttribute("href", "/play/task/t1");
    expect(calls).toContain("/api/v1/tasks?status=completed&in_knowledge_base=false&limit=12");
  });
});
