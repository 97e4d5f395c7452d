"""The optional rerank step: a cross-encoder behind the /rerank API that Jina, Cohere, vLLM and Xinference serve.

Request ``{model, query, documents, top_n}``; response ``{results: [{index, relevance_score}]}``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx

from vidrag.domain.errors import ServiceUnavailable

RETRIES = 3


class HttpReranker:
    def __init__(self, base_url: str, model: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.url = base_url.rstrip("/") + "/rerank"
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = timeout

    def rerank(self, query: str, documents: Sequence[str]) -> list[float]:
        """A relevance score per document, in the documents' order."""
        if not documents:
            return []
        body = {"model": self.model, "query": query, "documents": list(documents), "top_n": len(documents)}
        data = self._post(body)
        scores = [0.0] * len(documents)
        try:
            for item in data["results"]:
                scores[int(item["index"])] = float(item["relevance_score"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ServiceUnavailable(f"the rerank service at {self.url} answered in an unknown shape",
                                     code="rerank_backend_error") from exc
        return scores

    def _post(self, body: dict[str, object]) -> dict[str, Any]:
        last = ""
        for attempt in range(RETRIES):
            try:
                r = httpx.post(self.url, json=body, headers=self.headers, timeout=self.timeout)
                if r.status_code < 400:
                    result: dict[str, Any] = r.json()
                    return result
                last = f"HTTP {r.status_code}: {r.text[:200]}"
                if r.status_code not in (429, 500, 502, 503, 504):
                    break
            except (httpx.HTTPError, ValueError) as exc:
                last = str(exc)
            time.sleep(0.2 * 2**attempt)
        raise ServiceUnavailable(f"the rerank service at {self.url} failed ({last}); check VIDRAG_RERANK_BASE_URL, "
                                 "VIDRAG_RERANK_MODEL and VIDRAG_RERANK_API_KEY", code="rerank_backend_error")
