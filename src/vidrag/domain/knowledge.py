"""Knowledge-base entities: document kinds, indexing stages, retrieval settings (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DocumentSource(StrEnum):
    URL = "url"  # a video page or media URL, downloaded by a task
    TASK = "task"  # an already finished download task
    FILE = "upload_file"
    TEXT = "text"


class DocumentKind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    PDF = "pdf"
    DOCX = "docx"
    HTML = "html"
    MARKDOWN = "markdown"
    TEXT = "text"
    CAPTIONS = "captions"

    @property
    def is_media(self) -> bool:
        return self in (DocumentKind.VIDEO, DocumentKind.AUDIO)


class IndexingStage(StrEnum):
    WAITING = "waiting"
    DOWNLOAD = "download"
    TRANSCRIBE = "transcribe"
    PARSE = "parse"
    CHUNK = "chunk"
    EMBED = "embed"
    INDEX = "index"
    COMPLETED = "completed"
    ERROR = "error"


MEDIA_STAGES = (IndexingStage.DOWNLOAD, IndexingStage.TRANSCRIBE, IndexingStage.CHUNK, IndexingStage.EMBED,
                IndexingStage.INDEX)
DOCUMENT_STAGES = (IndexingStage.PARSE, IndexingStage.CHUNK, IndexingStage.EMBED, IndexingStage.INDEX)


class SearchMethod(StrEnum):
    SEMANTIC = "semantic_search"
    KEYWORD = "keyword_search"  # Dify calls it full_text_search; both names are accepted
    HYBRID = "hybrid_search"


@dataclass(frozen=True)
class RetrievalFilters:
    document_ids: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()  # DocumentKind values ("source type")
    uploader: str | None = None
    upload_date_from: str | None = None  # YYYYMMDD, as yt-dlp gives it
    upload_date_to: str | None = None
    time_from: float | None = None  # seconds inside a video: chunks overlapping [time_from, time_to]
    time_to: float | None = None


@dataclass(frozen=True)
class RetrievalQuery:
    query: str
    method: SearchMethod = SearchMethod.HYBRID
    top_k: int = 5
    score_threshold: float | None = None
    semantic_weight: float = 0.7  # hybrid: weighted sum of the normalised scores
    keyword_weight: float = 0.3
    fusion: str = "weighted"  # or "rrf" (reciprocal rank fusion)
    rerank: bool = False
    filters: RetrievalFilters = field(default_factory=RetrievalFilters)


@dataclass(frozen=True)
class Hit:
    segment_id: int
    score: float
    semantic_score: float | None = None
    keyword_score: float | None = None
