"""The seed API (tmwgsicp/video-download-api), kept exact so its clients work unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from vidrag.api.deps import DownloadsDep, StorageDep
from vidrag.api.routes.files import file_response
from vidrag.api.schemas.seed import (
    ProcessRequest,
    ProcessResponse,
    TaskStatusResponse,
    seed_status,
    seed_summary,
)
from vidrag.api.schemas.system import SeedCleanup, SeedStorageInfo
from vidrag.domain.errors import BadRequest, InvalidInput
from vidrag.domain.tasks import SourceKind, TaskOptions, TaskStatus

router = APIRouter(tags=["seed API"])


@router.post("/api/process", response_model=ProcessResponse)
def process(body: ProcessRequest, downloads: DownloadsDep,
            idempotency_key: Annotated[str | None, Header(max_length=255)] = None) -> ProcessResponse:
    """Download a video and/or extract its audio; the same URL already in progress returns that task."""
    options = TaskOptions(extract_audio=body.extract_audio, keep_video=body.keep_video, audio_format=body.audio_format)
    sub = downloads.submit_url(body.url, options, idempotency_key)
    message = "Task created and queued" if sub.created else "This URL is already being processed; existing task"
    return ProcessResponse(task_id=sub.task.id, message=message, status_url=f"/api/status/{sub.task.id}")


@router.get("/api/status/{task_id}", response_model=TaskStatusResponse)
def status(task_id: str, downloads: DownloadsDep) -> TaskStatusResponse:
    """A task's status, progress (0-100), files and video info."""
    return seed_status(downloads.get(task_id))


# `:path`, so an encoded slash (..%2F..%2Fetc%2Fpasswd) reaches the name check instead of missing the route
@router.get("/api/download/{file_name:path}", response_class=FileResponse)
def download(file_name: str, downloads: DownloadsDep) -> FileResponse:
    """Download a produced file by the name given in `files`; 400 for a name with `..`, `/`, `\\` or NUL."""
    try:
        return file_response(downloads, file_name, attachment=True)
    except InvalidInput as exc:
        if exc.code != "invalid_file_name":
            raise
        raise BadRequest(exc.message, code=exc.code) from None  # the seed API's status for a bad name


@router.delete("/api/tasks/{task_id}")
def delete_task(task_id: str, downloads: DownloadsDep) -> dict[str, str]:
    """Cancel a running task and remove it with its files."""
    downloads.delete(task_id)
    return {"message": "Task cancelled and deleted", "task_id": task_id}


@router.get("/api/tasks")
def list_tasks(downloads: DownloadsDep) -> dict[str, Any]:
    """All tasks with counts of active ones."""
    tasks = downloads.all()
    active = [t for t in tasks if TaskStatus(t.status).is_active]
    return {"active_tasks": sum(t.status == TaskStatus.RUNNING.value for t in tasks),
            "processing_urls": sum(t.source == SourceKind.URL.value for t in active),
            "total_tasks": len(tasks),
            "tasks": {t.id: seed_summary(t) for t in tasks}}


@router.get("/api/storage/info", response_model=SeedStorageInfo)
def storage_info(storage: StorageDep) -> dict[str, Any]:
    """Files kept, their size and age, and free disk space."""
    return {"status": "success", "storage": storage.info(), "timestamp": datetime.now(UTC).isoformat()}


@router.post("/api/storage/cleanup", response_model=SeedCleanup)
async def storage_cleanup(storage: StorageDep) -> dict[str, Any]:
    """Apply the retention policy now."""
    result = await run_in_threadpool(storage.cleanup)
    return {"status": "success", "cleanup_result": result.to_json(), "timestamp": datetime.now(UTC).isoformat()}
