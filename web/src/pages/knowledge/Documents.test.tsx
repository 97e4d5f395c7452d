// A document row driven by its event stream: a fake EventSource stands in for the browser's (jsdom has none); the
// real stream is exercised against a running service by the lead's Playwright tests.
import { render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { DocumentInfo } from "../../api/client";
import "../../i18n";
import { FakeEventSource } from "../../test/FakeEventSource";
import { DocumentRow } from "./Documents";


function doc(over: Partial<DocumentInfo>): DocumentInfo {
  return {
    id: "d1", name: "talk", source: "url", kind: "video", source_url: "https://v.example/a.mp4", task_id: "t1",
    enabled: true, indexing_status: "waiting", progress: 0, error: null, error_code: null, stages: {}, metadata: {},
    word_count: 0, tokens: 0, segment_count: 0, created_at: "2026-01-02T03:04:05Z", completed_at: null,
    player_url: null, ...over,
  };
}

function renderRow(d: DocumentInfo, onChanged = vi.fn()) {
  render(
    <MemoryRouter>
      <table>
        <tbody>
          <DocumentRow datasetId="ds1" doc={d} onChanged={onChanged} />
        </tbody>
      </table>
    </MemoryRouter>,
  );
  return onChanged;
}

const row = () => screen.getByTestId("document-row");
const stage = (name: string) => row().querySelector(`[data-stage="${name}"]`);

describe("DocumentRow", () => {
  beforeEach(() => {
    FakeEventSource.all = [];
    vi.stubGlobal("EventSource", FakeEventSource);
  });
  afterEach(() => vi.unstubAllGlobals());

  it("follows an indexing document's events stage by stage, then stops listening", () => {
    const onChanged = renderRow(doc({}));
    expect(FakeEventSource.all.map((s) => s.url)).toEqual(["/api/v1/datasets/ds1/documents/d1/events"]);
    expect(row()).toHaveAttribute("data-status", "waiting");
    const source = FakeEventSource.all[0]!;

    source.emit("progress", {
      type: "progress", document_id: "d1", indexing_status: "transcribe", progress: 45.2, error: null, error_code: null,
      stages: { download: { started_at: "2026-01-02T03:04:05Z", completed_at: "2026-01-02T03:04:08Z" },
        transcribe: { started_at: "2026-01-02T03:04:08Z", completed_at: null, error: null } },
    });
    expect(row()).toHaveAttribute("data-status", "transcribe");
    expect(screen.getByTestId("document-progress")).toHaveAttribute("aria-valuenow", "45");
    expect(stage("download")).toHaveAttribute("data-state", "done");
    expect(stage("transcribe")).toHaveAttribute("data-state", "running");
    expect(stage("embed")).toHaveAttribute("data-state", "pending");
    expect(screen.queryByTestId("document-play")).toBeNull();
    expect(onChanged).not.toHaveBeenCalled();

    source.emit("status", { type: "status", document_id: "d1", indexing_status: "completed", progress: 100,
      error: null, error_code: null, stages: {} });
    expect(row()).toHaveAttribute("data-status", "completed");
    expect(screen.queryByTestId("document-progress")).toBeNull();
    expect(source.closed).toBe(true);
    expect(onChanged).toHaveBeenCalled(); // the table loads again for chunk counts
    expect(screen.getByTestId("document-play")).toHaveAttribute("href", "/play/document/d1");
  });

  it("says why indexing failed, in words, and on which stage", () => {
    renderRow(doc({
      source: "upload_file", kind: "pdf", task_id: null, indexing_status: "error", error_code: "pdf_encrypted",
      error: "the PDF is encrypted", stages: { parse: { started_at: "2026-01-02T03:04:05Z", error: "the PDF is encrypted" } },
    }));
    expect(FakeEventSource.all).toHaveLength(0); // finished: nothing to follow
    expect(row()).toHaveAttribute("data-status", "error");
    expect(screen.getByRole("alert")).toHaveTextContent("password-protected");
    expect(stage("parse")).toHaveAttribute("data-state", "failed");
    expect(screen.getByTestId("document-reindex")).toBeEnabled();
  });
});
