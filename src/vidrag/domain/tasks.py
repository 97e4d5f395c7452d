"""Task entities and enums: what a download task is, independent of storage and transport."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        return self in (TaskStatus.QUEUED, TaskStatus.RUNNING)

    @property
    def seed_status(self) -> str:
        """The seed API knows only processing, completed and error."""
        if self.is_active:
            return "processing"
        return "completed" if self is TaskStatus.COMPLETED else "error"


class Stage(StrEnum):
    QUEUED = "queued"
    DOWNLOAD = "download"
    EXTRACT_AUDIO = "extract_audio"
    TRANSCRIBE = "transcribe"
    FINALIZE = "finalize"
    DONE = "done"


class SourceKind(StrEnum):
    URL = "url"
    UPLOAD = "upload"


class AudioFormat(StrEnum):
    MP3 = "mp3"
    M4A = "m4a"
    OPUS = "opus"
    WAV = "wav"  # 16 kHz mono PCM, what speech recognition wants

    @property
    def extension(self) -> str:
        return self.value

    @property
    def content_type(self) -> str:
        return {"mp3": "audio/mpeg", "m4a": "audio/mp4", "opus": "audio/ogg", "wav": "audio/wav"}[self.value]


class FileKind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"
    SUBTITLE = "subtitle"
    THUMBNAIL = "thumbnail"


@dataclass(frozen=True)
class TaskOptions:
    """What the user asked for. Stored as JSON on the task."""

    extract_audio: bool = True
    keep_video: bool = True
    audio_format: AudioFormat = AudioFormat.MP3
    max_height: int | None = None
    video_format: str | None = None  # a raw yt-dlp format selector, for experts
    subtitles: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"extract_audio": self.extract_audio, "keep_video": self.keep_video,
                "audio_format": self.audio_format.value, "max_height": self.max_height,
                "video_format": self.video_format, "subtitles": self.subtitles}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskOptions:
        return cls(extract_audio=bool(data.get("extract_audio", True)), keep_video=bool(data.get("keep_video", True)),
                   audio_format=AudioFormat(data.get("audio_format", "mp3")), max_height=data.get("max_height"),
                   video_format=data.get("video_format"), subtitles=bool(data.get("subtitles", True)))


@dataclass
class DownloadProgress:
    """A snapshot of a running task, kept on the task and streamed as events."""

    stage: Stage
    percent: float
    downloaded_bytes: int | None = None
    total_bytes: int | None = None
    speed: float | None = None  # bytes per second
    eta: float | None = None  # seconds
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage.value, "percent": round(self.percent, 1),
                "downloaded_bytes": self.downloaded_bytes, "total_bytes": self.total_bytes,
                "speed": self.speed, "eta": self.eta, **self.extra}


VIDEO_INFO_FIELDS = ("title", "duration", "uploader", "view_count", "like_count", "description", "upload_date",
                     "thumbnail", "webpage_url", "extractor", "id", "chapters")
