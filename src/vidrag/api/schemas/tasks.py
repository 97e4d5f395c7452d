"""Native /api/v1 task shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from vidrag.domain.tasks import AudioFormat, TaskOptions, TaskStatus
from vidrag.storage.models import MediaFileRow, TaskRow


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt option is an error, not a silent default

    url: str = Field(max_length=4096, description="Video page, media file or HLS playlist URL (http or https)")
    extract_audio: bool = True
    keep_video: bool = True
    audio_format: AudioFormat = AudioFormat.MP3
    max_height: int | None = Field(None, ge=16, le=8640, description="Highest video height to fetch, e.g. 720")
    format: str | None = Field(None, max_length=512, description="A raw yt-dlp format selector (overrides max_height)")
    video_format: str | None = Field(None, max_length=512, description=(
        "The same as `format`, under the name a task's `options` echo it, so read options can be sent back"))
    subtitles: bool = Field(True, description="Fetch captions and subtitles when the site offers them")

    @model_validator(mode="after")
    def _one_format(self) -> Self:
        if self.format is not None and self.video_format is not None and self.format != self.video_format:
            raise PydanticCustomError("conflicting_format", "format and video_format name the same option and differ "
                                      "here; send one of them")
        return self

    def options(self) -> TaskOptions:
        return TaskOptions(extract_audio=self.extract_audio, keep_video=self.keep_video,
                           audio_format=self.audio_format, max_height=self.max_height,
                           video_format=self.format if self.format is not None else self.video_format,
                           subtitles=self.subtitles)


class FileOut(BaseModel):
    name: str
    kind: str
    url: str
    size_bytes: int
    content_type: str
    details: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, row: MediaFileRow) -> FileOut:
        return cls(name=row.name, kind=row.kind, url=f"/api/v1/files/{row.name}", size_bytes=row.size_bytes,
                   content_type=row.content_type, details=row.details or {}, created_at=row.created_at)


class ErrorOut(BaseModel):
    code: str
    message: str


class TaskOut(BaseModel):
    id: str
    status: TaskStatus
    stage: str
    progress: float
    message: str
    error: ErrorOut | None
    source: str
    url: str | None
    options: dict[str, Any]
    video_info: dict[str, Any]
    progress_detail: dict[str, Any]
    files: list[FileOut]
    attempts: int
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    events_url: str

    @classmethod
    def of(cls, t: TaskRow) -> TaskOut:
        error = ErrorOut(code=t.error_code or "failed", message=t.error) if t.error else None
        return cls(id=t.id, status=TaskStatus(t.status), stage=t.stage, progress=round(t.progress, 1),
                   message=t.message, error=error, source=t.source, url=t.url, options=t.options,
                   video_info=t.video_info or {}, progress_detail=t.progress_detail or {},
                   files=[FileOut.of(f) for f in t.files], attempts=t.attempts, created_at=t.created_at,
                   started_at=t.started_at, completed_at=t.completed_at, events_url=f"/api/v1/tasks/{t.id}/events")


class TaskPage(BaseModel):
    items: list[TaskOut]
    total: int
    offset: int
    limit: int


class TaskStats(BaseModel):
    by_status: dict[str, int]
    queued_in_runner: int
    running_in_runner: int
    concurrency: int
