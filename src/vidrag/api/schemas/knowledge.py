"""Knowledge-base shapes, following Dify's dataset API where it fits, with vidrag's time fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from vidrag.domain.chunks import (
    MAX_CHUNK_TOKENS,
    MAX_PAUSE_SECONDS,
    MAX_SEPARATOR_LENGTH,
    MIN_CHUNK_TOKENS,
    ProcessRule,
    TranscriptChunkRule,
)
from vidrag.domain.knowledge import DocumentKind, RetrievalFilters, RetrievalQuery, SearchMethod
from vidrag.services.search import SearchResult
from vidrag.storage.models import DatasetRow, DocumentRow, SegmentRow

T = TypeVar("T")


def _in_range(allowed: str) -> WrapValidator:
    """Replaces pydantic's one-sided message ("greater than or equal to 10") with the whole allowed range."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler, _: ValidationInfo) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("out_of_range", "must be {allowed}; got {got}",
                                      {"allowed": allowed, "got": repr(value)[:40]}) from None

    return WrapValidator(check)


ChunkTokens = Annotated[int, Field(ge=MIN_CHUNK_TOKENS, le=MAX_CHUNK_TOKENS),
                        _in_range(f"a whole number of tokens from {MIN_CHUNK_TOKENS} to {MAX_CHUNK_TOKENS}")]
OverlapTokens = Annotated[int, Field(ge=0, le=MAX_CHUNK_TOKENS // 2),
                          _in_range(f"a whole number of tokens from 0 to half of max_tokens "
                                    f"(at most {MAX_CHUNK_TOKENS // 2})")]
Seconds = Annotated[float, Field(ge=0, le=MAX_PAUSE_SECONDS, allow_inf_nan=False),
                    _in_range(f"a number of seconds from 0 to {MAX_PAUSE_SECONDS:g}")]


def no_nul(value: Any) -> Any:
    """Text bound for the database must not hold NUL: PostgreSQL refuses it (a 500), SQLite would store it."""
    if (isinstance(value, str) and "\x00" in value) or (isinstance(value, list) and any(
            isinstance(v, str) and "\x00" in v for v in value)):
        raise PydanticCustomError("nul_character", "must not contain a NUL character (\\u0000)")
    return value


class _Input(BaseModel):
    """A request body whose text fields are checked by ``no_nul``."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return no_nul(value)


class _OwnKeys(_Input):
    """vidrag's own objects: a misspelt key is refused by name (with the keys there are), not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and (unknown := sorted(set(data) - set(cls.model_fields))):
            raise PydanticCustomError("unknown_key", "unknown key {unknown}; the keys are {known}",
                                      {"unknown": ", ".join(map(repr, unknown)), "known": ", ".join(cls.model_fields)})
        return data


class _ChunkRule(_OwnKeys):
    # Every key may be left out or null: the ingest job then uses the chunker's default (named in the description).
    max_tokens: int | None
    overlap_tokens: int | None

    @model_validator(mode="after")
    def _overlap_fits(self) -> Self:
        # the chunker keeps the overlap within half a chunk; a value asked for is refused rather than cut down
        max_tokens = self.max_tokens or self.defaults().max_tokens
        if self.overlap_tokens is not None and self.overlap_tokens > max_tokens // 2:
            raise PydanticCustomError(
                "overlap_too_large", "overlap_tokens ({overlap}) must be at most half of max_tokens ({max_tokens})",
                {"overlap": self.overlap_tokens, "max_tokens": max_tokens})
        return self

    @classmethod
    def defaults(cls) -> ProcessRule | TranscriptChunkRule:
        raise NotImplementedError


class DocumentRule(_ChunkRule):
    """How documents (PDF, DOCX, HTML, Markdown, text) are chunked."""

    separator: str | None = Field(None, max_length=MAX_SEPARATOR_LENGTH, description=(
        f"Split here first, then at sentence ends; empty: sentence ends only (default {ProcessRule.separator!r})"))
    max_tokens: ChunkTokens | None = Field(None, description=f"default {ProcessRule.max_tokens}")
    overlap_tokens: OverlapTokens | None = Field(None, description=f"default {ProcessRule.overlap_tokens}")
    remove_extra_spaces: bool | None = Field(None, description=f"default {ProcessRule.remove_extra_spaces}")
    remove_urls_emails: bool | None = Field(None, description=f"default {ProcessRule.remove_urls_emails}")

    @classmethod
    def defaults(cls) -> ProcessRule:
        return ProcessRule()


class TranscriptRule(_ChunkRule):
    """How transcripts and caption files are chunked (by time: cuts fall at pauses and sentence ends)."""

    max_tokens: ChunkTokens | None = Field(None, description=f"default {TranscriptChunkRule.max_tokens}")
    overlap_tokens: OverlapTokens | None = Field(None, description=f"default {TranscriptChunkRule.overlap_tokens}")
    pause_seconds: Seconds | None = Field(None, description=(
        f"A silence this long is a good cut (default {TranscriptChunkRule.pause_seconds:g})"))
    max_gap_seconds: Seconds | None = Field(None, description=(
        f"A silence this long always ends a chunk (default {TranscriptChunkRule.max_gap_seconds:g})"))

    @classmethod
    def defaults(cls) -> TranscriptChunkRule:
        return TranscriptChunkRule()


class ChunkingRules(BaseModel):
    """vidrag's `document` and `transcript` rules. Dify's keys (`mode`, `rules`) are accepted and kept, unused."""

    model_config = ConfigDict(extra="allow")

    document: DocumentRule | None = None
    transcript: TranscriptRule | None = None

    def stored(self) -> dict[str, Any]:
        """What the ingest job reads: only the keys given a value, already checked."""
        return self.model_dump(mode="json", exclude_unset=True, exclude_none=True)


class DatasetCreate(_Input):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=5000)
    process_rule: ChunkingRules | None = None
    retrieval_model: RetrievalModel | None = Field(None, description="Default retrieval settings, stored and echoed")


class DatasetUpdate(_Input):
    name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=5000)
    retrieval_model: RetrievalModel | None = None


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


class ByText(_Input):
    name: str = Field(min_length=1, max_length=500)
    text: str = Field(min_length=1)


class ByUrl(_Input):
    url: str = Field(max_length=4096, description="A video page, media file or HLS playlist")
    name: str | None = Field(None, max_length=500)


class FromTask(_Input):
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


class SegmentUpdate(_Input):
    content: str | None = Field(None, min_length=1, max_length=100_000)
    enabled: bool | None = None


class SegmentUpdateBody(BaseModel):
    segment: SegmentUpdate


MAX_RETRIEVE_TOP_K = 100
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False), _in_range("a number from 0 to 1")]
TimePoint = Annotated[float, Field(ge=0, allow_inf_nan=False), _in_range("a number of seconds, 0 or more")]


def _known_kind(kind: str) -> str:
    if kind not in DocumentKind.__members__.values():
        raise PydanticCustomError("unknown_kind", "unknown kind '{kind}'; the kinds are {kinds}",
                                  {"kind": kind, "kinds": ", ".join(DocumentKind)})
    return kind


class Weights(BaseModel):
    vector_weight: Fraction = 0.7
    keyword_weight: Fraction = 0.3


class Filters(_OwnKeys):
    # a misspelt filter (say `time_range`) must not return the hits it was meant to exclude
    document_ids: list[str] = Field(default_factory=list, max_length=1000)
    kinds: list[Annotated[str, AfterValidator(_known_kind)]] = Field(
        default_factory=list, description=", ".join(DocumentKind))
    uploader: str | None = None
    upload_date_from: str | None = Field(None, pattern=r"^\d{8}$", description="YYYYMMDD")
    upload_date_to: str | None = Field(None, pattern=r"^\d{8}$", description="YYYYMMDD")
    time_from: TimePoint | None = Field(None, description="seconds: chunks overlapping [time_from, time_to]")
    time_to: TimePoint | None = None

    @model_validator(mode="after")
    def _ranges_in_order(self) -> Self:
        for low, high in (("time_from", "time_to"), ("upload_date_from", "upload_date_to")):
            a, b = getattr(self, low), getattr(self, high)
            if a is not None and b is not None and a > b:
                raise PydanticCustomError("range_reversed", "{low} ({a}) is after {high} ({b}); swap them",
                                          {"low": low, "high": high, "a": a, "b": b})
        return self


class RetrievalModel(BaseModel):
    """Dify's retrieval_model: its other keys (reranking_model, reranking_mode, ...) are accepted and kept."""

    model_config = ConfigDict(extra="allow")

    search_method: Literal["semantic_search", "keyword_search", "full_text_search", "hybrid_search"] = "hybrid_search"
    top_k: Annotated[int, Field(ge=1, le=MAX_RETRIEVE_TOP_K),
                     _in_range(f"a whole number from 1 to {MAX_RETRIEVE_TOP_K}")] = 5
    score_threshold_enabled: bool = False
    score_threshold: Fraction | None = None
    weights: Weights | None = Field(default_factory=Weights, description="null (as Dify sends) means the default")
    fusion: Literal["weighted", "rrf"] = "weighted"
    reranking_enable: bool = False
    filters: Filters = Field(default_factory=Filters)

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)

    def query(self, text: str) -> RetrievalQuery:
        method = SearchMethod.KEYWORD if self.search_method == "full_text_search" else SearchMethod(self.search_method)
        f = self.filters
        w = self.weights or Weights()
        return RetrievalQuery(
            query=text, method=method, top_k=self.top_k,
            score_threshold=self.score_threshold if self.score_threshold_enabled else None,
            semantic_weight=w.vector_weight, keyword_weight=w.keyword_weight,
            fusion=self.fusion, rerank=self.reranking_enable,
            filters=RetrievalFilters(tuple(f.document_ids), tuple(f.kinds), f.uploader,
                                     f.upload_date_from, f.upload_date_to, f.time_from, f.time_to))


class RetrieveRequest(_Input):
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
