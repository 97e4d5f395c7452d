// postForm's contract: the form goes up with the API key, progress arrives in whole percents, the answer is the JSON
// body, and a failure is an ApiError with the service's code (or `network`).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { FakeXhr } from "../test/FakeXhr";
import { ApiError, apiKey } from "./client";
import { postForm } from "./upload";

describe("postForm", () => {
  beforeEach(() => {
    FakeXhr.all = [];
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    apiKey.clear();
  });

  it("sends the form with the API key, reports percents and resolves to the answer", async () => {
    apiKey.set("k1");
    const form = new FormData();
    form.append("name", "talk");
    const progress = vi.fn();
    const sent = postForm<{ id: string }>("/api/v1/uploads", form, progress);
    const xhr = FakeXhr.all[0]!;
    expect(xhr).toMatchObject({ method: "POST", url: "/api/v1/uploads", headers: { Authorization: "Bearer k1" }, body: form });
    xhr.progress(1, 3);
    xhr.progress(3, 3);
    expect(progress.mock.calls).toEqual([[33], [100]]);
    xhr.respond(201, { id: "t1" });
    await expect(sent).resolves.toEqual({ id: "t1" });
  });

  it("rejects with the service's error code, or `network` when the upload never arrived", async () => {
    const refused = postForm("/api/v1/uploads", new FormData(), vi.fn());
    FakeXhr.all[0]!.respond(413, { code: "payload_too_large", message: "at most 10 MB" });
    await expect(refused).rejects.toMatchObject({ status: 413, code: "payload_too_large", message: "at most 10 MB" });

    const lost = postForm("/api/v1/uploads", new FormData(), vi.fn());
    FakeXhr.all[1]!.fail();
    await expect(lost).rejects.toBeInstanceOf(ApiError);
    await expect(lost).rejects.toMatchObject({ code: "network" });
  });
});
