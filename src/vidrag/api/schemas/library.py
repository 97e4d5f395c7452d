"""What the web console's library, player and system pages read."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field

from vidrag.api.schemas.knowledge import DocumentOut
from vidrag.domain.transcripts import Transcript
from vidrag.services.knowledge import LibraryEntry


class LibraryDocument(DocumentOut):
    dataset_id: str
    dataset_name: str
    media_url: str | None = Field(description="the video (else audio) file, streamed with range requests")
    media_type: str | None
    thumbnail_url: str | None = Field(description="a JPEG frame, for video documents")

    @classmethod
    def of_entry(cls, e: LibraryEntry) -> LibraryDocument:
        base = DocumentOut.of(e.document, e.segment_count).model_dump()
        name = quote(e.media_name) if e.media_name else None
        video = bool(e.media_type and e.media_type.startswith("video/"))
        return cls(**base, dataset_id=e.document.dataset_id, dataset_name=e.dataset_name,
                   media_url=f"/api/v1/files/{name}" if name else None, media_type=e.media_type,
                   thumbnail_url=f"/api/v1/files/{name}/thumbnail" if name and video else None)


class TranscriptLine(BaseModel):
    start: float
    end: float
    text: str

    @classmethod
    def lines_of(cls, transcript: Transcript | None) -> list[TranscriptLine]:
        """The transcript line by line, as both players show it (none until it is transcribed)."""
        return [cls(start=s.start, end=s.end, text=s.text.strip()) for s in transcript.segments] if transcript else []


class PlayerOut(BaseModel):
    document: DocumentOut
    dataset_id: str
    media_url: str
    media_type: str
    thumbnail_url: str | None
    segments: list[TranscriptLine] = Field(description="the transcript, line by line (empty until transcribed)")


class ModelInfo(BaseModel):
    name: str
    detail: dict[str, Any] = Field(default_factory=dict)


class SystemOut(BaseModel):
    version: str
    deployment: str = Field(description="embedded (one process) or scaled (PostgreSQL + Redis + Celery workers)")
    database: str = Field(description="sqlite or postgresql")
    ffmpeg: str
    api_keys_required: bool
    models: dict[str, ModelInfo] = Field(description="transcription, embedding, answers, rerank")
    limits: dict[str, int | float] = Field(description="upload size, download size, retention and disk thresholds")
