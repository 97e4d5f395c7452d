"""Combining semantic and keyword results: a weighted sum of normalised scores, or reciprocal rank fusion."""

from __future__ import annotations

from vidrag.domain.knowledge import Hit

RRF_K = 60


def weighted(semantic: list[tuple[int, float]], keyword: list[tuple[int, float]], w_semantic: float,
             w_keyword: float, coverage: dict[int, float] | None = None) -> list[Hit]:
    """Cosine (clipped at 0) and BM25 divided by the best BM25 of this query, both in [0, 1], then weighted.

    ``coverage`` (the share of the query's terms a chunk contains) scales the keyword score: without it, the best
    keyword hit earns the whole keyword weight even when it shares one common word with the query.
    """
    sem = {i: max(0.0, s) for i, s in semantic}
    best = max((s for _, s in keyword), default=0.0)
    cover = coverage or {}
    kw = {i: (s / best if best > 0 else 0.0) * cover.get(i, 1.0) for i, s in keyword}
    total = (w_semantic + w_keyword) or 1.0
    hits = [Hit(i, (w_semantic * sem.get(i, 0.0) + w_keyword * kw.get(i, 0.0)) / total, sem.get(i), kw.get(i))
            for i in dict.fromkeys([*sem, *kw])]
    return sorted(hits, key=lambda h: -h.score)


def rrf(semantic: list[tuple[int, float]], keyword: list[tuple[int, float]]) -> list[Hit]:
    """Reciprocal rank fusion, scaled so that first place in both lists scores 1.0."""
    scores: dict[int, float] = {}
    for ranking in (semantic, keyword):
        for rank, (i, _) in enumerate(ranking):
            scores[i] = scores.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
    top = 2.0 / (RRF_K + 1)
    sem, kw = dict(semantic), dict(keyword)
    return sorted((Hit(i, s / top, sem.get(i), kw.get(i)) for i, s in scores.items()), key=lambda h: -h.score)
