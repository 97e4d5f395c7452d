"""Knowledge-base shapes, following Dify's dataset API where it fits, with vidrag's time fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

from vidrag.domain.knowledge import RetrievalFilters, RetrievalQuery, SearchMethod
from vidrag.services.search import SearchResult
from vidrag.storage.models import DatasetRow, DocumentRow, SegmentRow

T = TypeVar("T")


class DatasetCreate(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=5000)
    process_rule: dict[str, Any] | None = Field(None, description="{document: {...ProcessRule}, transcript: {...}}")
    retrieval_model: dict[str, Any] | None = None


class DatasetUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=5000)
    retrieval_model: dict[str, Any] | None = None


class DatasetOut(BaseModel):
    id: str
    name: str
    description: str
    embedding_model: str
    embedding_model_dimension: int
    document_count: int
    retrieval_model: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, d: DatasetRow, document_count: int = 0) -> DatasetOut:
        return cls(id=d.id, name=d.name, description=d.description, embedding_model=d.embedding_model,
                   embedding_model_dimension=d.embedding_dimension, document_count=document_count,
                   retrieval_model=d.retrieval or {}, created_at=d.created_at, updated_at=d.updated_at)


class Page(BaseModel, Generic[T]):
    data: list[T]
    has_more: bool
    limit: int
    total: int
    page: int


class ByText(BaseModel):
    name: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1)


class ByUrl(BaseModel):
    url: str = Field(max_length=4096, description="A video page, media file or HLS playlist")
    name: str | None = Field(None, max_length=500)


class FromTask(BaseModel):
    task_id: str = Field(max_length=64, description="A download task (finished or still running)")


class DocumentOut(BaseModel):
    id: str
    name: str
    source: str
    kind: str | None
    source_url: str | None
    task_id: str | None
    enabled: bool
    indexing_status: str
    progress: float
    error: str | None
    error_code: str | None
    stages: dict[str, Any]
    metadata: dict[str, Any]
    word_count: int
    tokens: int
    segment_count: int
    created_at: datetime
    completed_at: datetime | None
    player_url: str | None

    @classmethod
    def of(cls, d: DocumentRow, segment_count: int = 0) -> DocumentOut:
        meta = {k: v for k, v in (d.doc_metadata or {}).items() if k != "text"}
        media = d.kind in ("video", "audio")
        return cls(id=d.id, name=d.name, source=d.source, kind=d.kind, source_url=d.source_url, task_id=d.task_id,
                   enabled=d.enabled, indexing_status=d.indexing_status, progress=round(d.progress, 1),
                   error=d.error, error_code=d.error_code, stages=d.stages or {}, metadata=meta,
                   word_count=d.word_count, tokens=d.tokens, segment_count=segment_count, created_at=d.created_at,
                   completed_at=d.completed_at, player_url=f"/media/{d.id}" if media else None)


class DocumentCreated(BaseModel):
    document: DocumentOut
    batch: str


class IndexingStatus(BaseModel):
    """Dify's indexing-status item, plus the per-stage record."""

    id: str
    indexing_status: str
    progress: float
    processing_started_at: str | None
    parsing_completed_at: str | None
    splitting_completed_at: str | None
    completed_at: str | None
    error: str | None
    error_code: str | None
    stages: dict[str, Any]
    completed_segments: int
    total_segments: int

    @classmethod
    def of(cls, d: DocumentRow, segments: int) -> IndexingStatus:
        st = d.stages or {}
        started = min((v.get("started_at") for v in st.values() if v.get("started_at")), default=None)
        parsed = (st.get("transcribe") or st.get("parse") or {}).get("completed_at")
        done = segments if d.indexing_status == "completed" else 0
        return cls(id=d.id, indexing_status=d.indexing_status, progress=round(d.progress, 1),
                   processing_started_at=started, parsing_completed_at=parsed,
                   splitting_completed_at=(st.get("chunk") or {}).get("completed_at"),
                   completed_at=d.completed_at.isoformat() if d.completed_at else None, error=d.error,
                   error_code=d.error_code, stages=st, completed_segments=done, total_segments=segments)


class SegmentOut(BaseModel):
    id: int
    position: int
    document_id: str
    content: str
    tokens: int
    start: float | None
    end: float | None
    page: int | None
    heading: str | None
    chapter: str | None
    enabled: bool
    hit_count: int

    @classmethod
    def of(cls, s: SegmentRow) -> SegmentOut:
        return cls(id=s.id, position=s.position, document_id=s.document_id, content=s.content, tokens=s.tokens,
                   start=s.start, end=s.end, page=s.page, heading=s.heading, chapter=s.chapter, enabled=s.enabled,
                   hit_count=s.hit_count)


class SegmentUpdate(BaseModel):
    content: str | None = Field(None, min_length=1, max_length=100_000)
    enabled: bool | None = None


class SegmentUpdateBody(BaseModel):
    segment: SegmentUpdate


class Weights(BaseModel):
    vector_weight: float = Field(0.7, ge=0, le=1)
    keyword_weight: float = Field(0.3, ge=0, le=1)


class Filters(BaseModel):
    document_ids: list[str] = Field(default_factory=list, max_length=1000)
    kinds: list[str] = Field(default_factory=list, description="video, audio, pdf, docx, html, markdown, text")
    uploader: str | None = None
    upload_date_from: str | None = Field(None, pattern=r"^\d{8}$")
    upload_date_to: str | None = Field(None, pattern=r"^\d{8}$")
    time_from: float | None = Field(None, ge=0, description="seconds: chunks overlapping [time_from, time_to]")
    time_to: float | None = Field(None, ge=0)


class RetrievalModel(BaseModel):
    search_method: Literal["semantic_search", "keyword_search", "full_text_search", "hybrid_search"] = "hybrid_search"
    top_k: int = Field(5, ge=1, le=100)
    score_threshold_enabled: bool = False
    score_threshold: float | None = Field(None, ge=0, le=1)
    weights: Weights = Field(default_factory=Weights)
    fusion: Literal["weighted", "rrf"] = "weighted"
    reranking_enable: bool = False
    filters: Filters = Field(default_factory=Filters)

    def query(self, text: str) -> RetrievalQuery:
        method = SearchMethod.KEYWORD if self.search_method == "full_text_search" else SearchMethod(self.search_method)
        f = self.filters
        return RetrievalQuery(
            query=text, method=method, top_k=self.top_k,
            score_threshold=self.score_threshold if self.score_threshold_enabled else None,
            semantic_weight=self.weights.vector_weight, keyword_weight=self.weights.keyword_weight,
            fusion=self.fusion, rerank=self.reranking_enable,
            filters=RetrievalFilters(tuple(f.document_ids), tuple(f.kinds), f.uploader, f.upload_date_from,
                                     f.upload_date_to, f.time_from, f.time_to))


class RetrieveRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    retrieval_model: RetrievalModel = Field(default_factory=RetrievalModel)


class RecordSegment(SegmentOut):
    url: str | None = None
    player_url: str | None = None
    document: dict[str, Any]


class Record(BaseModel):
    segment: RecordSegment
    score: float
    semantic_score: float | None
    keyword_score: float | None

    @classmethod
    def of(cls, r: SearchResult) -> Record:
        links = r.citation_fields()
        seg = RecordSegment(**SegmentOut.of(r.segment).model_dump(), url=links.get("url"),
                            player_url=links.get("player_url"),
                            document={"id": r.document.id, "name": r.document.name, "kind": r.document.kind,
                                      "source_url": r.document.source_url})
        return cls(segment=seg, score=round(r.hit.score, 4), semantic_score=r.hit.semantic_score,
                   keyword_score=r.hit.keyword_score)


class RetrieveResponse(BaseModel):
    query: dict[str, str]
    records: list[Record]
