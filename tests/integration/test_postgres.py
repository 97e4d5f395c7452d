"""PostgreSQL specifics: results agree with the embedded index, Chinese full text, and a bounded pool."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import make_settings
from tests.integration.test_knowledge_text import CHINESE, ENGLISH, add_texts
from tests.support.knowledge import create_dataset
from tests.support.service import RunningService, start_in_thread

QUERIES = ["What pulls the tides?", "how do bees tell where flowers are", "wild yeast bread", "熊猫吃什么",
           "西湖龙井", "长城有多长", "moon gravity", "bacteria"]


def ranked(svc: RunningService, dataset: str, query: str, method: str) -> list[tuple[str, float]]:
    r = svc.client.post(f"/api/v1/datasets/{dataset}/retrieve",
                        json={"query": query, "retrieval_model": {"search_method": method, "top_k": 6}})
    assert r.status_code == 200, r.text
    return [(rec["segment"]["content"], rec["score"]) for rec in r.json()["records"]]


@pytest.fixture
def both(tmp_path: Path, pg_database: str) -> Iterator[list[tuple[RunningService, str]]]:
    services = [start_in_thread(make_settings(tmp_path / "sqlite")),
                start_in_thread(make_settings(tmp_path / "pg", database_url=pg_database))]
    out = []
    for svc in services:
        dataset = create_dataset(svc.client, "same")
        add_texts(svc, dataset, {**ENGLISH, **CHINESE})
        out.append((svc, dataset))
    yield out
    for svc in services:
        svc.stop()


@pytest.mark.parametrize("method", ["keyword_search", "semantic_search", "hybrid_search"])
def test_sqlite_and_postgres_rank_alike(both: list[tuple[RunningService, str]], method: str) -> None:
    """Same chunks, same order, same scores: FTS5's bm25 vs vidrag_bm25, exact cosine vs pgvector."""
    (lite, lite_ds), (pg, pg_ds) = both
    for query in QUERIES:
        a, b = ranked(lite, lite_ds, query, method), ranked(pg, pg_ds, query, method)
        assert [text for text, _ in a] == [text for text, _ in b], query
        for (_, x), (_, y) in zip(a, b, strict=True):
            assert abs(x - y) < 1e-4, (query, a, b)


def test_an_exhausted_pool_is_503_not_a_hang(tmp_path: Path, pg_database: str) -> None:
    svc = start_in_thread(make_settings(tmp_path / "d", database_url=pg_database, database_pool_size=1,
                                        database_max_overflow=0, database_pool_timeout_seconds=0.5))
    try:
        engine: sa.Engine = svc.extra["container"].db.engine
        held = engine.connect()  # the only connection
        try:
            started = time.monotonic()
            r = svc.client.get("/api/v1/tasks")
            assert r.status_code == 503
            assert r.json()["code"] == "database_busy"
            assert r.headers["Retry-After"]
            assert time.monotonic() - started < 5
        finally:
            held.close()
        assert svc.client.get("/api/v1/tasks").status_code == 200
    finally:
        svc.stop()


def test_bm25_scores_are_fts5s(both: list[tuple[RunningService, str]]) -> None:
    """Not only the normalised scores: the raw BM25 of every keyword hit is the same number on both databases."""
    from vidrag.domain.knowledge import RetrievalFilters
    from vidrag.retrieval.terms import query_terms
    from vidrag.storage.knowledge_repo import SegmentRepository

    raw = []
    for svc, dataset in both:
        db = svc.extra["container"].db
        with db.session() as s:
            segments = SegmentRepository(s)
            raw.append({q: [(segments.get(i).content, score) for i, score in  # type: ignore[union-attr]
                            segments.keyword_search(dataset, query_terms(q), RetrievalFilters(), 10)]
                        for q in QUERIES})
    lite, pg = raw
    assert any(lite.values())
    for query in QUERIES:
        assert [t for t, _ in lite[query]] == [t for t, _ in pg[query]], query
        for (_, x), (_, y) in zip(lite[query], pg[query], strict=True):
            assert abs(x - y) < 1e-6 * max(1.0, abs(x)), (query, x, y)


def test_indexed_chunks_need_no_embedding_again(both: list[tuple[RunningService, str]]) -> None:
    """The embed checkpoint: after indexing, no chunk of either database is waiting for a vector."""
    from vidrag.storage.knowledge_repo import DocumentRepository, SegmentRepository

    for svc, dataset in both:
        container = svc.extra["container"]
        with container.db.session() as s:
            docs = DocumentRepository(s).of_dataset(dataset)
            assert docs
            for doc in docs:
                assert SegmentRepository(s).of_document(doc.id)
                assert SegmentRepository(s).needing_embedding(doc.id, container.search.embedder.name) == []
