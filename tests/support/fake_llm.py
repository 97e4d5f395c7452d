"""A tiny OpenAI-compatible chat server on 127.0.0.1: records every request and answers deterministically.

The answer repeats the first sentence of source [1] from the last user message, followed by " [1]"; with no
sources it says the sources do not contain the answer. ``stream: true`` is answered with SSE chunks shaped like
OpenAI's (role first, then content pieces, then finish_reason, then ``data: [DONE]``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_SOURCE_ONE = re.compile(r"^\[1\][^\n]*\n(.+?)(?:\n\n\[\d+\]|\n\nQuestion:|\Z)", re.MULTILINE | re.DOTALL)
NO_SOURCES = "The sources do not contain the answer."


@dataclass
class FakeLLM:
    base_url: str  # ends in /v1, as VIDRAG_LLM_BASE_URL does
    requests: list[dict[str, Any]] = field(default_factory=list)  # {"path", "headers", "body"}
    fail_with: int | None = None  # answer every request with this HTTP status
    cut_after: int | None = None  # streaming: hang up after this many content chunks, unfinished

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]


def reply_for(body: dict[str, Any]) -> str:
    users = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
    found = _SOURCE_ONE.search(users[-1]) if users else None
    if not found:
        return NO_SOURCES
    text = " ".join(found.group(1).split())
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return f"{first} [1]"


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
            if fake.fail_with is not None:
                self._json(fake.fail_with, {"error": {"message": "the fake model refuses", "type": "server_error"}})
            elif self.path != "/v1/chat/completions":
                self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            elif body.get("stream"):
                self._stream(body, reply_for(body))
            else:
                self._json(200, {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                                 "model": body.get("model"),
                                 "choices": [{"index": 0, "message": {"role": "assistant", "content": reply_for(body)},
                                              "finish_reason": "stop"}],
                                 "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, body: dict[str, Any], text: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

            def chunk(delta: dict[str, str], finish: str | None = None) -> None:
                payload = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                           "model": body.get("model"),
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

            self.wfile.write(b": keep-alive\n\n")
            chunk({"role": "assistant", "content": ""})
            for i, piece in enumerate(re.findall(r"\S+\s*", text)):
                if i == fake.cut_after:
                    return
                chunk({"content": piece})
            chunk({}, "stop")
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True


@contextmanager
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM("")
    server = _Server(("127.0.0.1", 0), _handler(fake))
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
