"""OpenAIEmbedder against a small OpenAI-compatible /v1/embeddings server on 127.0.0.1, started by the test."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest

from vidrag.domain.errors import ServiceUnavailable
from vidrag.retrieval.embedding import Embedder
from vidrag.retrieval.openai_embedder import OpenAIEmbedder


def raw_vector(text: str, dimension: int) -> list[float]:
    """Deterministic and deliberately not normalised, so the client's normalisation is visible."""
    digest = hashlib.sha256(text.encode()).digest()
    return [float(digest[i % len(digest)] + 1) for i in range(dimension)]


def normalised(text: str, dimension: int) -> np.ndarray:
    vector = np.array(raw_vector(text, dimension), dtype=np.float32)
    return vector / np.linalg.norm(vector)


@dataclass
class Backend:
    """What the server does (set by each test) and what it saw."""

    dimension: int = 8
    fail_first: list[int] = field(default_factory=list)  # statuses to answer before succeeding
    always: int | None = None  # answer every request with this status
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


class _Handler(BaseHTTPRequestHandler):
    backend: Backend

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.backend.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.backend.always is not None:
            self._reply(self.backend.always, {"error": {"message": "backend broken"}})
        elif self.backend.fail_first:
            self._reply(self.backend.fail_first.pop(0), {"error": {"message": "slow down"}}, {"Retry-After": "0"})
        elif self.path != "/v1/embeddings":
            self._reply(404, {"error": {"message": "not found"}})
        else:
            data = [{"object": "embedding", "index": i, "embedding": raw_vector(text, self.backend.dimension)}
                    for i, text in enumerate(body["input"])]
            data.reverse()  # the spec orders by "index", not by position
            self._reply(200, {"object": "list", "model": body["model"], "data": data,
                              "usage": {"prompt_tokens": 1, "total_tokens": 1}})

    def _reply(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def backend() -> Iterator[Backend]:
    state = Backend()
    handler = type("Handler", (_Handler,), {"backend": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@contextmanager
def make(url: str, **kwargs: Any) -> Iterator[OpenAIEmbedder]:
    embedder = OpenAIEmbedder(url, "test-embed", backoff=0.01, timeout=5.0, **kwargs)
    try:
        yield embedder
    finally:
        embedder.close()


@pytest.fixture
def embedder(backend: Backend) -> Iterator[OpenAIEmbedder]:
    with make(backend.url, api_key="sk-test", batch_size=2) as embedder:
        yield embedder


def test_batches_auth_ordering_and_normalisation(backend: Backend, embedder: OpenAIEmbedder) -> None:
    texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
    vectors = embedder.embed_documents(texts)

    assert [r["body"] for r in backend.requests] == [
        {"model": "test-embed", "input": ["alpha", "beta"]},
        {"model": "test-embed", "input": ["gamma", "delta"]},
        {"model": "test-embed", "input": ["epsilon"]},
    ]
    assert {r["path"] for r in backend.requests} == {"/v1/embeddings"}
    assert {r["auth"] for r in backend.requests} == {"Bearer sk-test"}
    assert vectors.shape == (5, 8)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, np.stack([normalised(t, 8) for t in texts]), rtol=1e-6)
    checked: Embedder = embedder
    assert (checked.name, checked.dimension) == ("openai:test-embed", 8)


def test_query_and_no_key_means_no_authorization_header(backend: Backend) -> None:
    with make(backend.url + "/") as embedder:
        vector = embedder.embed_query("where is the cat?")
        np.testing.assert_allclose(vector, normalised("where is the cat?", 8), rtol=1e-6)
        assert embedder.embed_documents([]).shape == (0, 8)
    assert backend.requests[0]["auth"] is None


def test_dimension_is_learned_when_asked_before_any_text(backend: Backend) -> None:
    backend.dimension = 12
    with make(backend.url) as embedder:
        assert embedder.dimension == 12
        assert embedder.embed_documents([]).shape == (0, 12)
    assert len(backend.requests) == 1


def test_rate_limit_and_server_error_are_retried(backend: Backend, embedder: OpenAIEmbedder) -> None:
    backend.fail_first = [429, 503]
    vectors = embedder.embed_documents(["one", "two"])
    assert len(backend.requests) == 3
    assert backend.requests[0]["body"] == backend.requests[2]["body"]
    np.testing.assert_allclose(vectors[1], normalised("two", 8), rtol=1e-6)


def test_a_different_dimension_is_refused(backend: Backend) -> None:
    wanted = "returned 8-dimensional vectors, but this knowledge base uses 16"
    with make(backend.url, dimension=16) as fixed, pytest.raises(ServiceUnavailable, match=wanted):
        fixed.embed_query("hello")
    with make(backend.url) as learned:
        learned.embed_query("hello")
        backend.dimension = 4  # the model behind the URL changed
        with pytest.raises(ServiceUnavailable, match="dimension") as caught:
            learned.embed_documents(["hello again"])
        assert caught.value.code == "embedding_dimension_mismatch"
        assert learned.dimension == 8


def test_a_server_failing_forever_gives_a_backend_error(backend: Backend, embedder: OpenAIEmbedder) -> None:
    backend.always = 500
    with pytest.raises(ServiceUnavailable) as caught:
        embedder.embed_query("hello")
    assert caught.value.code == "embedding_backend_error"
    assert "HTTP 500" in caught.value.message
    assert "backend broken" in caught.value.message
    assert len(backend.requests) == 4  # the first try and 3 retries


def test_a_wrong_key_is_not_retried(backend: Backend, embedder: OpenAIEmbedder) -> None:
    backend.always = 401
    with pytest.raises(ServiceUnavailable, match="check the API key") as caught:
        embedder.embed_query("hello")
    assert caught.value.code == "embedding_backend_error"
    assert len(backend.requests) == 1


def test_a_wrong_path_says_to_check_the_base_url(backend: Backend) -> None:
    with make(backend.url.removesuffix("/v1")) as embedder, pytest.raises(ServiceUnavailable, match="base URL"):
        embedder.embed_query("hello")


def test_an_unreachable_backend_gives_a_backend_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again on exit: nothing listens there
    with make(f"http://127.0.0.1:{port}/v1") as embedder:
        with pytest.raises(ServiceUnavailable, match="cannot reach the embedding backend") as caught:
            embedder.embed_query("hello")
        assert caught.value.code == "embedding_backend_error"
