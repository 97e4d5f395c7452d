"""The seed API's shapes (tmwgsicp/video-download-api): field names and meanings are a contract."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from vidrag.domain.tasks import AudioFormat, FileKind, TaskStatus
from vidrag.storage.models import TaskRow

SEED_FILE_KINDS = (FileKind.VIDEO.value, FileKind.AUDIO.value)


class ProcessRequest(BaseModel):
    url: str = Field(max_length=4096, description="Video page or media URL (http or https)")
    extract_audio: bool = True
    keep_video: bool = True
    audio_format: AudioFormat = Field(AudioFormat.MP3, description="vidrag extension; the seed always used mp3")


class ProcessResponse(BaseModel):
    task_id: str
    message: str
    status_url: str


class TaskStatusResponse(BaseModel):
    task_id: str
    status: str = Field(description="processing, completed or error")
    progress: int = Field(ge=0, le=100)
    message: str
    created_at: str
    completed_at: str | None = None
    files: dict[str, str] | None = None
    video_info: dict[str, Any] | None = None
    error: str | None = None


def seed_files(task: TaskRow) -> dict[str, str]:
    return {f.kind: f"/api/download/{f.name}" for f in task.files if f.kind in SEED_FILE_KINDS}


def seed_summary(task: TaskRow) -> dict[str, Any]:
    return {"status": TaskStatus(task.status).seed_status, "progress": int(task.progress), "message": task.message,
            "created_at": task.created_at.isoformat(),
            "completed_at": task.completed_at.isoformat() if task.completed_at else None,
            "video_info": task.video_info or {}, "files": seed_files(task)}


def seed_status(task: TaskRow) -> TaskStatusResponse:
    return TaskStatusResponse(task_id=task.id, error=task.error, **seed_summary(task))
