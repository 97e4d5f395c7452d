"""Queries over datasets, documents, transcripts and segments, and the keyword and vector indexes.

SQLite: FTS5 for keywords, vectors as float32 blobs (searched in memory by the retrieval layer).
PostgreSQL: full text + BM25 and pgvector, in ``pg_search``. The methods below choose by dialect.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, and_, bindparam, column, delete, func, insert, literal_column, or_, select, table, update
from sqlalchemy.orm import Session

from vidrag.domain.knowledge import IndexingStage, RetrievalFilters
from vidrag.storage import pg_search
from vidrag.storage.models import DatasetRow, DocumentRow, SegmentRow, TranscriptRow

# The FTS5 table (made by migration 0003, SQLite only): rowid = segments.id, terms = segmenter output.
FTS = table("segments_fts", column("rowid"), column("terms"))


class DatasetRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, dataset_id: str) -> DatasetRow | None:
        return self.session.get(DatasetRow, dataset_id)

    def by_name(self, name: str) -> DatasetRow | None:
        return self.session.scalars(select(DatasetRow).where(DatasetRow.name == name)).first()

    def page(self, offset: int, limit: int) -> tuple[list[DatasetRow], int]:
        total = self.session.scalar(select(func.count()).select_from(DatasetRow)) or 0
        rows = self.session.scalars(select(DatasetRow).order_by(DatasetRow.created_at.desc()).offset(offset)
                                    .limit(limit))
        return list(rows), total

    def dimensions(self) -> set[int]:
        return set(self.session.scalars(select(DatasetRow.embedding_dimension).distinct()))

    def bump_version(self, dataset_id: str) -> int:
        self.session.execute(update(DatasetRow).where(DatasetRow.id == dataset_id)
                             .values(index_version=DatasetRow.index_version + 1))
        return int(self.session.scalar(select(DatasetRow.index_version).where(DatasetRow.id == dataset_id)) or 0)

    def by_ids(self, ids: Iterable[str]) -> dict[str, DatasetRow]:
        return {d.id: d for d in self.session.scalars(select(DatasetRow).where(DatasetRow.id.in_(list(ids))))}

    def document_counts(self, dataset_ids: Sequence[str]) -> dict[str, int]:
        rows = self.session.execute(select(DocumentRow.dataset_id, func.count()).where(
            DocumentRow.dataset_id.in_(dataset_ids)).group_by(DocumentRow.dataset_id))
        return {dataset_id: count for dataset_id, count in rows}


class DocumentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, document_id: str, *, for_update: bool = False) -> DocumentRow | None:
        stmt = select(DocumentRow).where(DocumentRow.id == document_id)
        return self.session.scalars(stmt.with_for_update() if for_update else stmt).first()

    def page(self, dataset_id: str | None, offset: int, limit: int, keyword: str | None = None,
             kinds: Sequence[str] = ()) -> tuple[list[DocumentRow], int]:
        """Documents newest first: of one knowledge base, or of all (``dataset_id`` None); ``kinds`` filters."""
        stmt = select(DocumentRow)
        if dataset_id is not None:
            stmt = stmt.where(DocumentRow.dataset_id == dataset_id)
        if kinds:
            stmt = stmt.where(DocumentRow.kind.in_(list(kinds)))
        if keyword:
            stmt = stmt.where(func.lower(DocumentRow.name).like(f"%{keyword.lower()}%"))
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(stmt.order_by(DocumentRow.created_at.desc()).offset(offset).limit(limit))
        return list(rows), total

    def by_ids(self, ids: Iterable[str]) -> dict[str, DocumentRow]:
        return {d.id: d for d in self.session.scalars(select(DocumentRow).where(DocumentRow.id.in_(list(ids))))}

    def with_status(self, *statuses: str) -> list[DocumentRow]:
        return list(self.session.scalars(select(DocumentRow).where(DocumentRow.indexing_status.in_(statuses))
                                         .order_by(DocumentRow.created_at)))

    def waiting_for_task(self, task_id: str) -> list[DocumentRow]:
        waiting = DocumentRow.indexing_status == IndexingStage.DOWNLOAD.value
        return list(self.session.scalars(select(DocumentRow).where(DocumentRow.task_id == task_id, waiting)))

    def of_dataset(self, dataset_id: str) -> list[DocumentRow]:
        return list(self.session.scalars(select(DocumentRow).where(DocumentRow.dataset_id == dataset_id)))

    def segment_counts(self, document_ids: Sequence[str]) -> dict[str, int]:
        rows = self.session.execute(select(SegmentRow.document_id, func.count()).where(
            SegmentRow.document_id.in_(document_ids)).group_by(SegmentRow.document_id))
        return {document_id: count for document_id, count in rows}


class TranscriptRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, document_id: str) -> TranscriptRow | None:
        return self.session.get(TranscriptRow, document_id)

    def put(self, row: TranscriptRow) -> None:
        self.session.merge(row)


MAX_ROW_ID = 2**63 - 1  # row IDs are signed 64-bit integers in SQLite and PostgreSQL


class SegmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.postgres = pg_search.is_postgres(session)

    def get(self, segment_id: int) -> SegmentRow | None:
        if not 0 < segment_id <= MAX_ROW_ID:  # names no row, and would overflow the database driver
            return None
        return self.session.get(SegmentRow, segment_id)

    def by_ids(self, ids: Sequence[int]) -> dict[int, SegmentRow]:
        return {s.id: s for s in self.session.scalars(select(SegmentRow).where(SegmentRow.id.in_(ids)))}

    def of_document(self, document_id: str) -> list[SegmentRow]:
        return list(self.session.scalars(select(SegmentRow).where(SegmentRow.document_id == document_id)
                                         .order_by(SegmentRow.position)))

    def page(self, document_id: str, offset: int, limit: int, keyword: str | None = None,
             enabled: bool | None = None) -> tuple[list[SegmentRow], int]:
        stmt = select(SegmentRow).where(SegmentRow.document_id == document_id)
        if keyword:
            stmt = stmt.where(func.lower(SegmentRow.content).like(f"%{keyword.lower()}%"))
        if enabled is not None:
            stmt = stmt.where(SegmentRow.enabled == enabled)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(stmt.order_by(SegmentRow.position).offset(offset).limit(limit))
        return list(rows), total

    def needing_embedding(self, document_id: str, model: str) -> list[SegmentRow]:
        return list(self.session.scalars(select(SegmentRow).where(
            SegmentRow.document_id == document_id,
            # embedding_model is written with the vector (blob on SQLite, pgvector on PostgreSQL), so it tells both
            or_(SegmentRow.embedding_model.is_(None), SegmentRow.embedding_model != model))
            .order_by(SegmentRow.position)))

    def delete_of_document(self, document_id: str) -> list[int]:
        ids = list(self.session.scalars(select(SegmentRow.id).where(SegmentRow.document_id == document_id)))
        self.remove_terms(ids)
        self.session.execute(delete(SegmentRow).where(SegmentRow.document_id == document_id))
        return ids

    def vectors(self, dataset_id: str, model: str) -> Iterable[tuple[int, bytes]]:
        """(id, float32 bytes) of the dataset's searchable segments: enabled, in an enabled document."""
        if self.postgres:
            return pg_search.vectors(self.session, searchable(dataset_id, RetrievalFilters()), model)
        stmt = (select(SegmentRow.id, SegmentRow.embedding).join(DocumentRow)
                .where(SegmentRow.dataset_id == dataset_id, SegmentRow.embedding_model == model,
                       SegmentRow.embedding.is_not(None), SegmentRow.enabled.is_(True),
                       DocumentRow.enabled.is_(True)))
        return ((i, e) for i, e in self.session.execute(stmt) if e is not None)

    def set_embeddings(self, rows: Sequence[tuple[int, npt.NDArray[np.float32]]], model: str) -> None:
        """Store the vectors of segments (one statement for the batch)."""
        if self.postgres:
            pg_search.set_embeddings(self.session, rows, model)
        elif rows:
            stmt = (update(SegmentRow).where(SegmentRow.id == bindparam("segment_id"))
                    .values(embedding=bindparam("blob"), embedding_model=model))
            self.session.connection().execute(stmt, [
                {"segment_id": i, "blob": np.ascontiguousarray(v, dtype=np.float32).tobytes()} for i, v in rows])

    def vector_search(self, dataset_id: str, model: str, query: npt.NDArray[np.float32], filters: RetrievalFilters,
                      k: int, ef_search: int) -> list[tuple[int, float]]:
        """PostgreSQL only: nearest segments through pgvector's HNSW index."""
        assert self.postgres, "SQLite vectors are searched in memory (retrieval.vectors)"
        return pg_search.vector_search(self.session, searchable(dataset_id, filters), model, query, k, ef_search)

    # --- keyword index: SQLite FTS5, or PostgreSQL full text ---------------------------------------
    def put_terms(self, rows: Sequence[tuple[int, Sequence[str]]]) -> None:
        """Index each segment under its terms (the segmenter's output, see retrieval.terms)."""
        if not rows:
            return
        if self.postgres:
            pg_search.put_terms(self.session, rows)
            return
        self.remove_terms([i for i, _ in rows])
        self.session.execute(insert(FTS), [{"rowid": i, "terms": " ".join(t)} for i, t in rows])

    def remove_terms(self, ids: Sequence[int]) -> None:
        if self.postgres:
            return  # the terms live on the segment row
        for start in range(0, len(ids), 500):
            self.session.execute(delete(FTS).where(FTS.c.rowid.in_(ids[start:start + 500])))

    def keyword_search(self, dataset_id: str, terms: Sequence[str], filters: RetrievalFilters, limit: int,
                       stats: tuple[pg_search.KeywordStats, int] | None = None) -> list[tuple[int, float]]:
        """(segment id, BM25 score: higher is better) for segments containing any of ``terms``, filters applied."""
        if not terms:
            return []
        if self.postgres:
            return pg_search.keyword_search(self.session, searchable(dataset_id, filters), dataset_id, terms, limit,
                                            stats)
        match = fts5_match(terms)
        # A join, not `rowid IN (searchable ids)`: SQLite hands an IN list to FTS5 as a rowid constraint and runs
        # one MATCH per allowed id (measured: 14.7 s at 100k chunks, against 0.1 s joined; bench/retrieval_latency).
        score = (-func.bm25(literal_column("segments_fts"))).label("score")
        conditions = searchable(dataset_id, filters).whereclause
        assert conditions is not None
        stmt = (select(FTS.c.rowid, score).join_from(FTS, SegmentRow, SegmentRow.id == FTS.c.rowid)
                .join(DocumentRow, DocumentRow.id == SegmentRow.document_id)
                .where(FTS.c.terms.match(match), conditions)
                .order_by(score.desc()).limit(limit))
        return [(int(i), float(s)) for i, s in self.session.execute(stmt)]

    def allowed_ids(self, dataset_id: str, filters: RetrievalFilters) -> list[int]:
        return list(self.session.scalars(searchable(dataset_id, filters)))


def fts5_match(terms: Sequence[str]) -> str:
    """An FTS5 MATCH expression for any of ``terms`` (BM25 ranks rows with more of them higher)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def searchable(dataset_id: str, f: RetrievalFilters) -> Select[int]:
    """IDs of segments a query may return: enabled, in an enabled document, matching the filters."""
    conds = [SegmentRow.dataset_id == dataset_id, SegmentRow.enabled.is_(True), DocumentRow.enabled.is_(True)]
    if f.document_ids:
        conds.append(SegmentRow.document_id.in_(f.document_ids))
    if f.kinds:
        conds.append(DocumentRow.kind.in_(f.kinds))
    if f.uploader:
        conds.append(DocumentRow.doc_metadata["uploader"].as_string() == f.uploader)
    if f.upload_date_from:
        conds.append(DocumentRow.doc_metadata["upload_date"].as_string() >= f.upload_date_from)
    if f.upload_date_to:
        conds.append(DocumentRow.doc_metadata["upload_date"].as_string() <= f.upload_date_to)
    if f.time_from is not None:
        conds.append(SegmentRow.end >= f.time_from)
    if f.time_to is not None:
        conds.append(SegmentRow.start <= f.time_to)
    return select(SegmentRow.id).join(DocumentRow).where(and_(*conds))
