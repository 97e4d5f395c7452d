"""The embedder contract: texts in, L2-normalised float32 vectors out. One interface, several backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Loaded once per process and shared. ``name`` and ``dimension`` are stored per knowledge base, so
    a query embedded by a different model is refused instead of silently compared."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Shape (len(texts), dimension), rows L2-normalised."""
        ...

    def embed_query(self, text: str) -> Vectors:
        """Shape (dimension,), L2-normalised (models with query/passage prefixes add them here)."""
        ...
