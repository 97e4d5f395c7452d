import { describe, expect, it } from "vitest";

import { ApiError, unwrap } from "./client";

// openapi-fetch reads a failed response's body into `error` before we see it: the service's code must survive that.
describe("unwrap", () => {
  it("a 409 whose body was already read still says dataset_name_taken", async () => {
    const response = new Response("", { status: 409, statusText: "Conflict" });
    const failed = unwrap(Promise.resolve({ error: { code: "dataset_name_taken", message: "pick another name" }, response }));
    await expect(failed).rejects.toBeInstanceOf(ApiError);
    await expect(failed).rejects.toMatchObject({ status: 409, code: "dataset_name_taken", message: "pick another name" });
  });
  it("a body with only a message or plain text keeps the words", async () => {
    const response = new Response("", { status: 502, statusText: "Bad Gateway" });
    await expect(unwrap(Promise.resolve({ error: { detail: "upstream down" }, response }))).rejects.toMatchObject({
      code: "http_502",
      message: "upstream down",
    });
    await expect(unwrap(Promise.resolve({ error: "proxy says no", response }))).rejects.toMatchObject({
      message: "proxy says no",
    });
  });
  it("a network failure is code network, and success gives the data", async () => {
    await expect(unwrap(Promise.reject(new TypeError("Failed to fetch")))).rejects.toMatchObject({ code: "network" });
    const ok = new Response("{}", { status: 200 });
    await expect(unwrap(Promise.resolve({ data: { id: 1 }, response: ok }))).resolves.toEqual({ id: 1 });
  });
});
