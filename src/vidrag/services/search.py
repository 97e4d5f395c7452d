"""Retrieval over a knowledge base: semantic, keyword or hybrid, with filters; results carry their place."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from vidrag.domain.errors import Conflict, InvalidInput, NotFound
from vidrag.domain.knowledge import Hit, RetrievalQuery, SearchMethod
from vidrag.retrieval import fusion
from vidrag.retrieval.embedding import Embedder
from vidrag.retrieval.rerank import HttpReranker
from vidrag.retrieval.terms import query_terms, terms
from vidrag.retrieval.vectors import VectorIndex, VectorStore
from vidrag.services.links import player_link, source_link
from vidrag.storage.db import Database
from vidrag.storage.knowledge_repo import DatasetRepository, DocumentRepository, SegmentRepository
from vidrag.storage.kv import KeyValue
from vidrag.storage.models import DatasetRow, DocumentRow, SegmentRow

CANDIDATES = 50  # per retriever, before fusion and the threshold


@dataclass(frozen=True)
class SearchResult:
    segment: SegmentRow
    document: DocumentRow
    hit: Hit

    def citation_fields(self, span: tuple[float, float] | None = None) -> dict[str, Any]:
        """Where the chunk sits (or, given ``span``, the part of it in those seconds): seconds and links for media,
        page and heading for documents."""
        meta = self.document.doc_metadata or {}
        start, end = span if span is not None else (self.segment.start, self.segment.end)
        fields: dict[str, Any] = {"start": start, "end": end, "page": self.segment.page,
                                  "heading": self.segment.heading, "chapter": self.segment.chapter}
        if start is not None:
            fields["url"] = source_link(meta.get("webpage_url") or self.document.source_url, start)
            fields["player_url"] = player_link(self.document.id, start, end)
        return fields


class SearchService:
    def __init__(self, db: Database, vectors: VectorStore, embedder: Embedder,
                 reranker: HttpReranker | None = None, cache: KeyValue | None = None,
                 cache_seconds: float = 0.0) -> None:
        self.db = db
        self.vectors = vectors
        self.embedder = embedder
        self.reranker = reranker
        self.cache = cache
        self.cache_seconds = cache_seconds

    def retrieve(self, dataset_id: str, q: RetrievalQuery) -> list[SearchResult]:
        return self.lookup(dataset_id, q)[0]

    def lookup(self, dataset_id: str, q: RetrievalQuery) -> tuple[list[SearchResult], bool]:
        """The results, and whether they came from the retrieval cache.

        The cache key holds the dataset's ``index_version``: any change to its chunks makes old entries unreachable,
        so a cached answer is never staler than the index (entries expire after ``cache_seconds`` anyway).
        """
        if not q.query.strip():
            raise InvalidInput("query is empty; send the question or words to search for", code="empty_query")
        with self.db.session() as s:
            dataset = DatasetRepository(s).get(dataset_id)
            if dataset is None:
                raise NotFound(f"knowledge base '{dataset_id}' does not exist", code="dataset_not_found")
            self.check_model(dataset)
            segments = SegmentRepository(s)
            key = self._cache_key(dataset, q)
            hits = self._cached(key)
            cached = hits is not None
            if hits is None:
                hits = self._search(s, dataset, q, segments)
                self._remember(key, hits)
            rows = segments.by_ids([h.segment_id for h in hits])
            hits = [h for h in hits if h.segment_id in rows]  # a cached hit whose chunk went meanwhile
            for h in hits:
                rows[h.segment_id].hit_count += 1
            docs = DocumentRepository(s).by_ids({r.document_id for r in rows.values()})
            return [SearchResult(rows[h.segment_id], docs[rows[h.segment_id].document_id], h) for h in hits], cached

    def _search(self, s: Any, dataset: DatasetRow, q: RetrievalQuery, segments: SegmentRepository) -> list[Hit]:
        semantic = self._semantic(s, dataset, q) if q.method is not SearchMethod.KEYWORD else []
        keyword: list[tuple[int, float]] = []
        if q.method is not SearchMethod.SEMANTIC:
            keyword = segments.keyword_search(dataset.id, query_terms(q.query), q.filters, CANDIDATES,
                                              (self.db.keyword_stats, dataset.index_version))
        hits = self._fuse(q, semantic, keyword, segments)
        if q.rerank:
            hits = self._rerank(q.query, hits[:CANDIDATES], segments)
        if q.score_threshold is not None:
            hits = [h for h in hits if h.score >= q.score_threshold]
        return hits[: q.top_k]

    # --- the retrieval cache -----------------------------------------------------------------------
    def _cache_key(self, dataset: DatasetRow, q: RetrievalQuery) -> str | None:
        if self.cache is None or self.cache_seconds <= 0:
            return None
        spec = json.dumps([dataset.id, dataset.index_version, self.embedder.name, asdict(q)], sort_keys=True,
                          default=str)
        return "retrieve:" + hashlib.sha256(spec.encode()).hexdigest()

    def _cached(self, key: str | None) -> list[Hit] | None:
        raw = self.cache.get(key) if self.cache is not None and key else None
        if raw is None:
            return None
        try:
            return [Hit(int(i), float(s), sem, kw) for i, s, sem, kw in json.loads(raw)]
        except (ValueError, TypeError):
            return None

    def _remember(self, key: str | None, hits: list[Hit]) -> None:
        if self.cache is not None and key:
            value = json.dumps([[h.segment_id, h.score, h.semantic_score, h.keyword_score] for h in hits])
            self.cache.set(key, value.encode(), self.cache_seconds)

    def check_model(self, dataset: DatasetRow) -> None:
        if dataset.embedding_model != self.embedder.name:
            raise Conflict(f"knowledge base '{dataset.name}' was embedded with {dataset.embedding_model}, but this "
                           f"service embeds with {self.embedder.name}; re-embed it (POST /api/v1/datasets/"
                           f"{dataset.id}/reembed) or configure the same model", code="embedding_model_mismatch")

    def _semantic(self, session: Any, dataset: DatasetRow, q: RetrievalQuery) -> list[tuple[int, float]]:
        segments = SegmentRepository(session)
        if self.db.postgres:  # pgvector's HNSW index, filters in the same query
            return segments.vector_search(dataset.id, dataset.embedding_model, self.embedder.embed_query(q.query),
                                          q.filters, CANDIDATES, self.db.hnsw.ef_search)
        index = self.vectors.get(dataset.id, dataset.index_version)
        if index is None:
            index = VectorIndex.from_rows(dataset.embedding_dimension, segments.vectors(dataset.id,
                                                                                       dataset.embedding_model))
            self.vectors.put(dataset.id, dataset.index_version, index)
        if q.filters == type(q.filters)():
            allowed = None
        else:
            allowed = np.asarray(segments.allowed_ids(dataset.id, q.filters), dtype=np.int64)
        return index.search(self.embedder.embed_query(q.query), CANDIDATES, allowed)

    def _rerank(self, query: str, hits: list[Hit], segments: SegmentRepository) -> list[Hit]:
        """Order the fused candidates by the cross-encoder; its relevance becomes the score."""
        if self.reranker is None:
            raise InvalidInput("no rerank model is configured (VIDRAG_RERANK_BASE_URL and VIDRAG_RERANK_MODEL); "
                               "send reranking_enable=false", code="rerank_unavailable")
        rows = segments.by_ids([h.segment_id for h in hits])
        scores = self.reranker.rerank(query, [rows[h.segment_id].content for h in hits])
        reranked = [replace(h, score=s) for h, s in zip(hits, scores, strict=True)]
        return sorted(reranked, key=lambda h: -h.score)

    @staticmethod
    def _fuse(q: RetrievalQuery, semantic: list[tuple[int, float]], keyword: list[tuple[int, float]],
              segments: SegmentRepository) -> list[Hit]:
        if q.method is SearchMethod.SEMANTIC:
            return [Hit(i, max(0.0, s), semantic_score=s) for i, s in semantic]
        if q.method is SearchMethod.KEYWORD:
            return fusion.weighted([], keyword, 0.0, 1.0)
        if q.fusion == "rrf":
            return fusion.rrf(semantic, keyword)
        coverage = _coverage(q.query, keyword, segments)  # only the weighted sum uses it
        return fusion.weighted(semantic, keyword, q.semantic_weight, q.keyword_weight, coverage)


def _coverage(query: str, keyword: list[tuple[int, float]], segments: SegmentRepository) -> dict[int, float]:
    """For each keyword hit, the share of the query's meaningful terms it contains (headings included)."""
    wanted = set(query_terms(query))
    if not wanted or not keyword:
        return {}
    rows = segments.by_ids([i for i, _ in keyword])
    return {i: len(wanted & set(terms(f"{row.heading or ''} {row.content}"))) / len(wanted)
            for i, row in rows.items()}
