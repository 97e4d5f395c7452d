// Server-Sent Events, two ways: GET streams through the browser's EventSource (the API key rides in ?api_key=,
// since EventSource cannot send headers), and POST streams (chat answers) through fetch with a small parser.
import { authHeaders, errorOf, withKey } from "./client";

export interface SseEvent {
  event: string;
  data: string;
}

/** Subscribe to a GET event stream; returns the function that closes it. */
export function subscribe(
  url: string,
  events: string[],
  onEvent: (event: string, data: unknown) => void,
  onError?: () => void,
): () => void {
  const source = new EventSource(withKey(url));
  for (const name of events) {
    source.addEventListener(name, (e) => onEvent(name, JSON.parse((e as MessageEvent<string>).data)));
  }
  source.onerror = () => {
    // The service ends a stream when its task is done; EventSource would reconnect, so close instead.
    source.close();
    onError?.();
  };
  return () => source.close();
}

/** Splits an SSE byte stream into events (the WHATWG format: `event:`/`data:` lines, blank line ends an event). */
export class SseParser {
  private buffer = "";
  private event = "message";
  private data: string[] = [];

  feed(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    let nl: number;
    while ((nl = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + (this.buffer.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (this.data.length) out.push({ event: this.event, data: this.data.join("\n") });
        this.event = "message";
        this.data = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") this.event = value;
        else if (field === "data") this.data.push(value);
      }
    }
    return out;
  }
}

/** POST a JSON body and yield the response's SSE events as they arrive. Throws ApiError for a failed status. */
export async function* postStream(url: string, body: unknown, signal?: AbortSignal): AsyncGenerator<SseEvent> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...authHeaders() },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok || !response.body) throw await errorOf(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    yield* parser.feed(value);
  }
}
