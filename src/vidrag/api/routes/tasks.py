"""Native task API under /api/v1: create, upload, list, get, cancel, retry, delete, files, events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from sse_starlette import EventSourceResponse

from vidrag.api.deps import ContainerDep, DownloadsDep
from vidrag.api.schemas.tasks import FileOut, TaskCreate, TaskOut, TaskPage, TaskStats
from vidrag.domain.errors import NotFound
from vidrag.domain.tasks import AudioFormat, TaskOptions, TaskStatus
from vidrag.services.download_job import task_event
from vidrag.storage.repositories import TaskFilter

router = APIRouter(prefix="/api/v1", tags=["tasks"])
EVENT_POLL_SECONDS = 10.0


@router.post("/tasks", status_code=201, response_model=TaskOut)
def create_task(body: TaskCreate, downloads: DownloadsDep, response: Response,
                idempotency_key: Annotated[str | None, Header(max_length=255)] = None) -> TaskOut:
    """Queue a download; 200 with the existing task when the URL is already queued or running."""
    sub = downloads.submit_url(body.url, body.options(), idempotency_key)
    if not sub.created:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/tasks/{sub.task.id}"
    return TaskOut.of(sub.task)


@router.post("/uploads", status_code=201, response_model=TaskOut)
def upload(request: Request, downloads: DownloadsDep, file: Annotated[UploadFile, File()],
           extract_audio: Annotated[bool, Form()] = True, keep_video: Annotated[bool, Form()] = True,
           audio_format: Annotated[AudioFormat, Form()] = AudioFormat.MP3) -> TaskOut:
    """Upload a local media file as a source (type checked by content; size limited)."""
    length = request.headers.get("content-length")
    options = TaskOptions(extract_audio=extract_audio, keep_video=keep_video, audio_format=audio_format)
    sub = downloads.submit_upload(file.filename, file.file, options,
                                  declared_size=file.size if file.size is not None else
                                  (int(length) if length and length.isdigit() else None))
    return TaskOut.of(sub.task)


@router.get("/tasks", response_model=TaskPage)
def list_tasks(downloads: DownloadsDep, status: Annotated[list[TaskStatus] | None, Query()] = None,
               source: Annotated[str | None, Query(pattern="^(url|upload)$")] = None,
               q: Annotated[str | None, Query(max_length=200, description="Substring of URL or title")] = None,
               in_knowledge_base: Annotated[bool | None, Query(
                   description="true: tasks some knowledge-base document was made from; false: the others")] = None,
               offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
               limit: Annotated[int, Query(ge=1, le=200)] = 50) -> TaskPage:
    """Tasks, newest first, filtered by status, source and text."""
    rows, total = downloads.page(TaskFilter(status=status or (), source=source, search=q,
                                 in_knowledge_base=in_knowledge_base), offset, limit)
    return TaskPage(items=[TaskOut.of(t) for t in rows], total=total, offset=offset, limit=limit)


@router.get("/tasks/stats", response_model=TaskStats)
def task_stats(c: ContainerDep) -> TaskStats:
    """Task counts by status and the runner's queue."""
    stats = c.runner.stats()
    return TaskStats(by_status=c.downloads.counts(), queued_in_runner=stats.queued,
                     running_in_runner=stats.running, concurrency=stats.concurrency)


@router.get("/tasks/{task_id}", response_model=TaskOut)
def get_task(task_id: str, downloads: DownloadsDep) -> TaskOut:
    """One task with progress, files and video info."""
    return TaskOut.of(downloads.get(task_id))


@router.post("/tasks/{task_id}/cancel", response_model=TaskOut)
def cancel_task(task_id: str, downloads: DownloadsDep) -> TaskOut:
    """Stop a queued or running task; its record stays."""
    return TaskOut.of(downloads.cancel(task_id))


@router.post("/tasks/{task_id}/retry", response_model=TaskOut)
def retry_task(task_id: str, downloads: DownloadsDep) -> TaskOut:
    """Run a failed or cancelled task again."""
    return TaskOut.of(downloads.retry(task_id))


@router.delete("/tasks/{task_id}", status_code=204)
def delete_task(task_id: str, downloads: DownloadsDep) -> Response:
    """Cancel if running, then delete the task and its files."""
    downloads.delete(task_id)
    return Response(status_code=204)


@router.get("/tasks/{task_id}/files", response_model=list[FileOut])
def task_files(task_id: str, downloads: DownloadsDep) -> list[FileOut]:
    """The files a task produced."""
    return [FileOut.of(f) for f in downloads.get(task_id).files]


@router.get("/tasks/{task_id}/events", response_class=EventSourceResponse)
async def task_events(task_id: str, c: ContainerDep) -> EventSourceResponse:
    """Server-Sent Events: `status` now and on every state change, `progress` while running; ends when done."""
    await run_in_threadpool(c.downloads.get, task_id)  # 404 before the stream starts
    return EventSourceResponse(_stream(c, task_id), ping=15)


async def _stream(c: ContainerDep, task_id: str) -> AsyncIterator[dict[str, str]]:
    async with c.events.subscribe(task_id) as queue:  # subscribe first: no event falls between
        try:
            snapshot = task_event(await run_in_threadpool(c.downloads.get, task_id))
        except NotFound:
            return
        yield {"event": "status", "data": json.dumps(snapshot)}
        event = snapshot
        while TaskStatus(event["status"]).is_active:
            try:
                event = await asyncio.wait_for(queue.get(), EVENT_POLL_SECONDS)
            except TimeoutError:  # nothing heard: re-read, in case the task was deleted or finished elsewhere
                try:
                    event = task_event(await run_in_threadpool(c.downloads.get, task_id))
                except NotFound:
                    return
                if TaskStatus(event["status"]).is_active:
                    continue
            yield {"event": event["type"], "data": json.dumps(event)}
