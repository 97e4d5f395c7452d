// Uploading a file into a knowledge base: the bytes' progress shows as it goes up (through the shared XHR upload;
// a fake XMLHttpRequest stands in), then the new document is reported and the form is cleared.
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import "../../i18n";
import { FakeXhr } from "../../test/FakeXhr";
import AddSources from "./AddSources";

// The shared client's baseUrl "" makes relative Requests, which Node's Request (under jsdom) cannot parse: give the
// form a client on jsdom's origin that answers the system call (for the upload limit).
vi.mock("../../api/client", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api/client")>();
  const { default: createClient } = await import("openapi-fetch");
  const fetch = async () =>
    new Response(JSON.stringify({ limits: { max_upload_mb: 10 } }), { headers: { "Content-Type": "application/json" } });
  return { ...original, api: createClient({ baseUrl: location.origin, fetch }) };
});

describe("AddSources: upload a file", () => {
  beforeEach(() => {
    FakeXhr.all = [];
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
  });
  afterEach(() => vi.unstubAllGlobals());

  it("shows the upload's progress, then reports the document and clears the form", async () => {
    const onAdded = vi.fn();
    render(<AddSources datasetId="ds 1" onAdded={onAdded} />);
    fireEvent.click(screen.getByTestId("source-kind-file"));
    expect(await screen.findByTestId("upload-limit")).toHaveTextContent("Up to 10 MB.");
    const file = new File(["0123456789"], "notes.md", { type: "text/markdown" });
    fireEvent.change(screen.getByTestId("source-file-input"), { target: { files: [file] } });
    fireEvent.change(screen.getByLabelText("Name (optional)"), { target: { value: " My notes " } });
    fireEvent.click(screen.getByTestId("source-file-submit"));

    const xhr = FakeXhr.all[0]!;
    expect(xhr.url).toBe("/api/v1/datasets/ds%201/document/create-by-file");
    const form = xhr.body as FormData;
    expect((form.get("file") as File).name).toBe("notes.md");
    expect(form.get("name")).toBe("My notes");
    expect(screen.getByTestId("upload-progress")).toHaveAttribute("aria-valuenow", "0");
    xhr.progress(5, 10);
    expect(screen.getByTestId("upload-progress")).toHaveAttribute("aria-valuenow", "50");
    expect(screen.getByRole("status")).toHaveTextContent("Uploading notes.md: 50%");
    expect(screen.getByTestId("source-file-submit")).toBeDisabled();

    xhr.respond(201, { document: { id: "d1", name: "My notes" }, batch: "b1" });
    await waitFor(() => expect(onAdded).toHaveBeenCalledWith({ id: "d1", name: "My notes" }));
    expect(screen.queryByTestId("upload-progress")).toBeNull();
    expect(screen.getByRole("status")).toHaveTextContent("Added “My notes”");
    expect(screen.getByLabelText("Name (optional)")).toHaveValue("");
    expect(screen.getByTestId("source-file-submit")).toBeDisabled(); // no file chosen any more
  });

  it("says why the upload failed and keeps the file to try again", async () => {
    render(<AddSources datasetId="ds1" onAdded={vi.fn()} />);
    fireEvent.click(screen.getByTestId("source-kind-file"));
    fireEvent.change(screen.getByTestId("source-file-input"), { target: { files: [new File(["x"], "a.pdf")] } });
    fireEvent.click(screen.getByTestId("source-file-submit"));
    FakeXhr.all[0]!.respond(415, { code: "unsupported_media_type", message: "not a document" });
    expect(await screen.findByRole("alert")).toHaveTextContent("This kind of file is not supported");
    expect(screen.queryByTestId("upload-progress")).toBeNull();
    expect(screen.getByTestId("source-file-submit")).toBeEnabled();
  });
});
