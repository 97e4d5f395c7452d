"""The process-wide embedder: built from settings on first use, then shared by every service."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vidrag.retrieval.embedding import Embedder, Vectors

_lock = threading.Lock()
_loaded: dict[EmbedderConfig, Embedder] = {}


@dataclass(frozen=True)
class EmbedderConfig:
    backend: str  # "local" or "openai"
    model: str | None
    base_url: str | None
    api_key: str | None
    dimension: int | None
    threads: int
    batch_size: int


def _build(c: EmbedderConfig) -> Embedder:
    if c.backend == "openai":
        from vidrag.retrieval.openai_embedder import OpenAIEmbedder

        if not c.base_url or not c.model:
            from vidrag.domain.errors import ServiceUnavailable

            raise ServiceUnavailable("VIDRAG_EMBEDDING_BACKEND=openai needs VIDRAG_EMBEDDING_BASE_URL and "
                                     "VIDRAG_EMBEDDING_MODEL", code="embedding_backend_error")
        return OpenAIEmbedder(base_url=c.base_url, model=c.model, api_key=c.api_key, dimension=c.dimension,
                              batch_size=c.batch_size)
    from vidrag.retrieval.local_embedder import OnnxEmbedder

    return OnnxEmbedder(Path(c.model) if c.model else None, threads=c.threads, batch_size=c.batch_size)


class SharedEmbedder:
    """Loads the configured model at first use (start-up stays fast) and shares it within the process."""

    def __init__(self, config: EmbedderConfig) -> None:
        self.config = config

    def get(self) -> Embedder:
        with _lock:
            if self.config not in _loaded:
                _loaded[self.config] = _build(self.config)
            return _loaded[self.config]

    @property
    def name(self) -> str:
        return self.get().name

    @property
    def dimension(self) -> int:
        return self.get().dimension

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        return self.get().embed_documents(texts)

    def embed_query(self, text: str) -> Vectors:
        return self.get().embed_query(text)
