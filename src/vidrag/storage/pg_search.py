"""Search on PostgreSQL: pgvector HNSW for vectors, full text + BM25 for keywords (migration 0004).

The embedded index (SQLite FTS5 + an in-memory matrix) and this one take the same inputs and score alike:

- Keywords are the segmenter's terms (jieba for CJK, diacritics folded), written as a tsvector literal with our
  own positions, so PostgreSQL's parser never re-tokenises them and a lexeme is exactly one of our terms.
  Ranking is Okapi BM25 with FTS5's constants and IDF floor; statistics (rows, mean length, document
  frequency) are those of the knowledge base.
- Vectors are cosine over L2-normalised embeddings (score = 1 - cosine distance), through a partial HNSW index
  per dimension, with ``hnsw.ef_search`` per query and pgvector 0.8's iterative scan so that filters do not
  starve the result.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from pgvector.sqlalchemy import VECTOR
from sqlalchemy import ARRAY, ColumnElement, Engine, Float, Select, Text, bindparam, cast, func, literal_column, text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from vidrag.storage.models import SegmentRow

MAX_POSITION = 16383  # PostgreSQL's limit for a lexeme position
VEC: ColumnElement[Any] = literal_column("segments.embedding_vec")
TSV: ColumnElement[Any] = literal_column("segments.terms_tsv")
TERM_COUNT: ColumnElement[Any] = literal_column("segments.term_count")


def is_postgres(session_or_engine: Session | Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


# --- keywords ---------------------------------------------------------------------------------------
def _quote(term: str) -> str:
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(terms: Sequence[str]) -> str:
    """``'word':1,4 'other':2`` — every term a lexeme, positions counted by us."""
    positions: dict[str, list[int]] = {}
    for i, term in enumerate(terms, start=1):
        positions.setdefault(term, []).append(min(i, MAX_POSITION))
    return " ".join(f"{_quote(t)}:{','.join(map(str, p[:256]))}" for t, p in positions.items())


def tsquery_literal(terms: Sequence[str]) -> str:
    """Any of the terms: ``'a' | 'b'``."""
    return " | ".join(_quote(t) for t in terms)


def put_terms(session: Session, rows: Sequence[tuple[int, Sequence[str]]]) -> None:
    if not rows:
        return
    session.execute(text("UPDATE segments SET terms_tsv = CAST(:tsv AS tsvector), term_count = :n WHERE id = :id"),
                    [{"id": i, "tsv": tsvector_literal(t), "n": len(t)} for i, t in rows])


class KeywordStats:
    """BM25 statistics per (knowledge base, index_version), kept by each process: they change only when the index
    does, and counting them is a scan of the knowledge base (the rest of a keyword query is an index lookup)."""

    def __init__(self, max_terms: int = 50_000) -> None:
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, int], tuple[int, float]] = {}
        self._df: OrderedDict[tuple[str, int, str], int] = OrderedDict()
        self._max_terms = max_terms

    def get(self, session: Session, dataset_id: str, version: int, terms: Sequence[str]
            ) -> tuple[int, float, dict[str, int]]:
        with self._lock:
            totals = self._totals.get((dataset_id, version))
            known = {t: self._df[(dataset_id, version, t)] for t in terms if (dataset_id, version, t) in self._df}
        missing = [t for t in terms if t not in known]
        if totals is None or missing:
            n, avgdl, counted = keyword_stats(session, dataset_id, missing, totals)
            with self._lock:
                if len(self._totals) > 1000:
                    self._totals.clear()
                self._totals[(dataset_id, version)] = (n, avgdl)
                for t, c in counted.items():
                    self._df[(dataset_id, version, t)] = c
                while len(self._df) > self._max_terms:
                    self._df.popitem(last=False)
            totals, known = (n, avgdl), {**known, **counted}
        return totals[0], totals[1], known


def keyword_stats(session: Session, dataset_id: str, terms: Sequence[str],
                  totals: tuple[int, float] | None = None) -> tuple[int, float, dict[str, int]]:
    """(rows with terms, their mean length, document frequency of each term) within the knowledge base."""
    if totals is None:
        totals = session.execute(text(
            "SELECT count(*), coalesce(avg(term_count), 0) FROM segments WHERE dataset_id = :ds AND term_count > 0"),
            {"ds": dataset_id}).one()
    n, avgdl = int(totals[0]), float(totals[1])
    df = dict.fromkeys(terms, 0)
    if terms and n:
        counts = ", ".join(f"count(*) FILTER (WHERE terms_tsv @@ CAST(:t{i} AS tsquery))" for i in range(len(terms)))
        params: dict[str, Any] = {f"t{i}": _quote(t) for i, t in enumerate(terms)}
        row = session.execute(text(f"SELECT {counts} FROM segments WHERE dataset_id = :ds "  # noqa: S608 - placeholders only
                                   "AND terms_tsv @@ CAST(:any AS tsquery)"),
                              {**params, "ds": dataset_id, "any": tsquery_literal(terms)}).one()
        df = {t: int(c) for t, c in zip(terms, row, strict=True)}
    return int(n), float(avgdl), df


def idf(n: int, df: int) -> float:
    """FTS5's IDF: log((N - n + 0.5) / (n + 0.5)), floored at 1e-6 so a very common term still counts a little."""
    value = math.log((n - df + 0.5) / (df + 0.5)) if n else 0.0
    return value if value > 0 else 1e-6


def keyword_search(session: Session, searchable: Select[Any], dataset_id: str, terms: Sequence[str], limit: int,
                   stats: tuple[KeywordStats, int] | None = None) -> list[tuple[int, float]]:
    """(segment id, BM25) of the searchable segments containing any of ``terms``, best first.

    ``stats``: a process's statistics cache and the knowledge base's index_version (else counted for this query).
    """
    if stats is not None:
        n, avgdl, df = stats[0].get(session, dataset_id, stats[1], terms)
    else:
        n, avgdl, df = keyword_stats(session, dataset_id, terms)
    present = [t for t in terms if df.get(t)]
    if not present:
        return []
    score = func.vidrag_bm25(TSV, TERM_COUNT, bindparam("terms", present, type_=ARRAY(Text)),
                             bindparam("idfs", [idf(n, df[t]) for t in present], type_=ARRAY(Float)),
                             avgdl).label("score")
    conditions = searchable.whereclause
    assert conditions is not None
    stmt = (searchable.with_only_columns(SegmentRow.id, score)
            .where(TSV.op("@@")(cast(tsquery_literal(present), TSQUERY)))
            .order_by(score.desc(), SegmentRow.id).limit(limit))
    return [(int(i), float(s)) for i, s in session.execute(stmt)]


# --- vectors ----------------------------------------------------------------------------------------
def set_embeddings(session: Session, rows: Sequence[tuple[int, npt.NDArray[np.float32]]], model: str) -> None:
    if not rows:
        return
    session.execute(text("UPDATE segments SET embedding_vec = CAST(:v AS vector), embedding_model = :m, "
                         "embedding = NULL WHERE id = :id"),
                    [{"id": i, "v": _vector_literal(v), "m": model} for i, v in rows])


def _vector_literal(vector: npt.NDArray[np.float32]) -> str:
    return "[" + ",".join(f"{x:.8g}" for x in np.asarray(vector, dtype=np.float32).tolist()) + "]"


def vectors(session: Session, searchable: Select[Any], model: str) -> list[tuple[int, bytes]]:
    """(id, float32 bytes) of the searchable segments embedded with ``model`` (exports, backups, exact search)."""
    stmt = searchable.with_only_columns(SegmentRow.id, VEC).where(SegmentRow.embedding_model == model, VEC.isnot(None))
    return [(int(i), np.asarray(v, dtype=np.float32).tobytes()) for i, v in session.execute(stmt)]


def vector_search(session: Session, searchable: Select[Any], model: str, query: npt.NDArray[np.float32], k: int,
                  ef_search: int) -> list[tuple[int, float]]:
    """The ``k`` nearest searchable segments by cosine, through the HNSW index of the query's dimension."""
    dim = int(query.shape[-1])
    session.execute(text("SELECT set_config('hnsw.ef_search', :ef, true), "
                         "set_config('hnsw.iterative_scan', 'relaxed_order', true)"), {"ef": str(ef_search)})
    typed = cast(VEC, VECTOR(dim))
    distance = typed.op("<=>", return_type=Float)(bindparam("q", np.asarray(query, dtype=np.float32), VECTOR(dim)))
    same_dim = func.vector_dims(VEC) == literal_column(str(dim))  # the index's predicate, literally, for the planner
    stmt = (searchable.with_only_columns(SegmentRow.id, distance.label("distance"))
            .where(SegmentRow.embedding_model == model, same_dim).order_by(distance).limit(k))
    hits = [(int(i), 1.0 - float(d)) for i, d in session.execute(stmt)]
    return sorted(hits, key=lambda h: -h[1])  # relaxed_order may hand rows back slightly out of order


def vector_index_name(dim: int) -> str:
    return f"ix_segments_hnsw_{dim}"


def ensure_vector_index(engine: Engine, dim: int, m: int, ef_construction: int) -> bool:
    """Create the HNSW index for ``dim``-dimensional vectors if missing; True when it was created.

    Partial (``vector_dims(...) = dim``) on an expression cast to ``vector(dim)``: HNSW needs a fixed dimension,
    and knowledge bases of different embedders share the table.
    """
    name = vector_index_name(dim)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(7252090)"))  # two processes starting at once
        if conn.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None:
            return False
        conn.execute(text(
            f"CREATE INDEX {name} ON segments USING hnsw ((embedding_vec::vector({dim})) vector_cosine_ops) "
            f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) WHERE vector_dims(embedding_vec) = {dim}"))
    return True
