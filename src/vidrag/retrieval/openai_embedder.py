"""An embedder over any OpenAI-compatible ``POST {base_url}/embeddings`` (OpenAI, vLLM, Ollama, TEI, LiteLLM...)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from vidrag.domain.errors import ServiceUnavailable
from vidrag.retrieval.embedding import Vectors

RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 30.0


class OpenAIEmbedder:
    """``dimension`` is given or learned from the first response, then fixed: a backend that starts answering
    with another size (a changed model behind the same URL) is refused rather than mixed into the index."""

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, dimension: int | None = None,
                 batch_size: int = 64, timeout: float = 30.0, retries: int = 3, backoff: float = 0.5) -> None:
        self.name = f"openai:{model}"
        self.model = model
        self.url = base_url.rstrip("/") + "/embeddings"
        self.batch_size = batch_size
        self.retries = retries
        self.backoff = backoff
        self._dimension = dimension
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers, timeout=timeout)

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self.embed_query("dimension probe")  # learns it from the response
        assert self._dimension is not None
        return self._dimension

    @dimension.setter
    def dimension(self, value: int) -> None:
        self._dimension = value

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        batches = [self._embed_batch(list(texts[i:i + self.batch_size])) for i in range(0, len(texts), self.batch_size)]
        return np.concatenate(batches)

    def embed_query(self, text: str) -> Vectors:
        vector: Vectors = self._embed_batch([text])[0]
        return vector

    def close(self) -> None:
        self._client.close()

    def _embed_batch(self, texts: list[str]) -> Vectors:
        data: Any = self._post({"model": self.model, "input": texts}).get("data")
        try:
            rows = sorted(data, key=lambda item: item["index"])  # the spec does not promise input order
            if [item["index"] for item in rows] != list(range(len(texts))):
                raise ValueError(f"expected indexes 0..{len(texts) - 1}")
            vectors = np.array([item["embedding"] for item in rows], dtype=np.float32)
            if vectors.ndim != 2 or vectors.shape[1] == 0:
                raise ValueError("embeddings are not lists of numbers")
        except (TypeError, KeyError, ValueError) as exc:
            raise ServiceUnavailable(
                f"the embedding backend at {self.url} sent a malformed response ({exc}); check that it implements "
                "the OpenAI /embeddings API", code="embedding_backend_error") from exc
        self._check_dimension(vectors.shape[1])
        norms = np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        normalised: Vectors = (vectors / norms).astype(np.float32)
        return normalised

    def _check_dimension(self, got: int) -> None:
        if self._dimension is None:
            self._dimension = got
        elif got != self._dimension:
            raise ServiceUnavailable(
                f"the embedding model {self.model!r} at {self.url} returned {got}-dimensional vectors, but this "
                f"knowledge base uses {self._dimension}; point vidrag back at the original model, or re-index with "
                "the new one", code="embedding_dimension_mismatch")

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._client.post(self.url, json=body)
            except httpx.TransportError as exc:
                if last:
                    raise ServiceUnavailable(
                        f"cannot reach the embedding backend at {self.url} ({type(exc).__name__}: {exc}); check the "
                        "base URL and that the server is running", code="embedding_backend_error") from exc
                self._sleep(attempt, None)
                continue
            if response.status_code in RETRYABLE and not last:
                self._sleep(attempt, response.headers.get("Retry-After"))
                continue
            if response.is_success:
                try:
                    payload: dict[str, Any] = response.json()
                    return payload
                except ValueError as exc:
                    raise ServiceUnavailable(f"the embedding backend at {self.url} answered with non-JSON; check the "
                                             "base URL (it should end in /v1)", code="embedding_backend_error") from exc
            raise ServiceUnavailable(self._describe(response), code="embedding_backend_error")
        raise AssertionError("unreachable")

    def _describe(self, response: httpx.Response) -> str:
        status = response.status_code
        hint = {401: "check the API key", 403: "check the API key and its permissions",
                404: "check the base URL (it should end in /v1) and the model name",
                429: "the backend is rate-limiting; lower the load or raise its limits"}.get(
            status, "check the model name and the backend's logs" if status < 500 else "check the backend's logs")
        return (f"the embedding backend at {self.url} answered HTTP {status} for model {self.model!r}: "
                f"{response.text[:200]!r}; {hint}")

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff * 2**attempt
        if retry_after is not None:
            with contextlib.suppress(ValueError):  # an HTTP date: keep our own backoff
                delay = min(max(delay, float(retry_after)), MAX_RETRY_AFTER)
        time.sleep(delay)
