// The form's contract with the service: invalid lines stop the send; one POST per unique URL with the chosen
// options; each URL's failure in words. fetch is stubbed (a unit test); the e2e tests use the real service.
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";

import "../../i18n";
import { SubmitForm, taskBody } from "./SubmitForm";

// The shared client's baseUrl "" makes relative Requests, which Node's Request (under jsdom) cannot parse: give the
// form a client on jsdom's origin whose fetch this test answers.
const net = vi.hoisted(() => ({ fetch: (async () => new Response(null, { status: 500 })) as (r: Request) => Promise<Response> }));
vi.mock("../../api/client", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api/client")>();
  const { default: createClient } = await import("openapi-fetch");
  return { ...original, api: createClient({ baseUrl: location.origin, fetch: (r: Request) => net.fetch(r) }) };
});

function json(status: number, body: object) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

describe("SubmitForm", () => {
  it("maps the options onto the service's task body", () => {
    expect(taskBody("https://a.example/v", { maxHeight: 720, audio: "m4a", keepVideo: true, subtitles: false }))
      .toEqual({ url: "https://a.example/v", extract_audio: true, audio_format: "m4a", keep_video: true,
        max_height: 720, subtitles: false });
    expect(taskBody("https://a.example/v", { maxHeight: 720, audio: "none", keepVideo: true, subtitles: true }))
      .toMatchObject({ extract_audio: false, max_height: 720 });
    expect(taskBody("https://a.example/v", { maxHeight: 720, audio: "wav", keepVideo: false, subtitles: true }))
      .toMatchObject({ extract_audio: true, audio_format: "wav", keep_video: false, max_height: null });
  });

  it("sends nothing while a line is invalid", () => {
    const fetch = vi.fn();
    net.fetch = fetch;
    render(<SubmitForm onSubmitted={vi.fn()} />);
    fireEvent.change(screen.getByTestId("url-input"), { target: { value: "https://a.example/v\nnot a url" } });
    expect(screen.getByTestId("url-problems")).toHaveTextContent("line 2: “not a url” is not a web address");
    expect(screen.getByTestId("submit-urls")).toBeDisabled();
    fireEvent.submit(screen.getByTestId("submit-urls").closest("form")!);
    expect(fetch).not.toHaveBeenCalled();
  });

  it("posts each unique URL once and says per URL what happened", async () => {
    const bodies: unknown[] = [];
    net.fetch = vi.fn(async (request: Request) => {
      const body = (await request.json()) as { url: string };
      bodies.push(body);
      if (body.url.includes("busy")) return json(429, { code: "rate_limited", message: "slow down" });
      if (body.url.includes("lan")) return json(400, { code: "url_blocked", message: "private address" });
      return json(body.url.includes("again") ? 200 : 201, { id: "x" });
    });
    const onSubmitted = vi.fn();
    render(<SubmitForm onSubmitted={onSubmitted} />);
    fireEvent.change(screen.getByLabelText("Video quality"), { target: { value: "480" } });
    fireEvent.change(screen.getByTestId("url-input"), { target: { value:
      "https://a.example/new\n\nhttps://a.example/new\nhttps://a.example/again\nhttps://a.example/busy\nhttp://lan.example/x" } });
    expect(screen.getByTestId("submit-urls")).toHaveTextContent("Download 4 URLs");
    fireEvent.click(screen.getByTestId("submit-urls"));
    await waitFor(() => expect(onSubmitted).toHaveBeenCalled());
    expect(bodies).toHaveLength(4);
    expect(bodies[0]).toMatchObject({ url: "https://a.example/new", max_height: 480, audio_format: "mp3" });
    expect(screen.getByText(/a\.example\/new/).parentElement).toHaveTextContent("Queued");
    expect(screen.getByText(/a\.example\/again/).parentElement).toHaveTextContent("Already queued or running");
    const errors = screen.getByTestId("submit-errors");
    expect(errors).toHaveTextContent("Too many requests at once");
    expect(errors).toHaveTextContent("That address is not allowed");
    // what failed stays in the box, to fix and send again
    expect(screen.getByTestId("url-input")).toHaveValue("https://a.example/busy\nhttp://lan.example/x");
  });
});
