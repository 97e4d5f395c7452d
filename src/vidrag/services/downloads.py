"""Download use cases: submit (URL or upload), inspect, cancel, retry, delete, recover after a restart."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import filetype
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vidrag.domain.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from vidrag.domain.tasks import SourceKind, Stage, TaskOptions, TaskStatus
from vidrag.domain.urls import normalize_url
from vidrag.jobs.base import JobRunner, owner_is_gone
from vidrag.jobs.events import EventBus
from vidrag.pipeline import netguard
from vidrag.pipeline.ffmpeg import thumbnail
from vidrag.services.download_job import UPLOAD_STEM, task_event
from vidrag.services.storage import StorageService
from vidrag.settings import Settings
from vidrag.storage.db import Database
from vidrag.storage.media import MediaStore, safe_stem
from vidrag.storage.models import MediaFileRow, TaskRow, utcnow
from vidrag.storage.repositories import MediaFileRepository, TaskFilter, TaskRepository

log = logging.getLogger(__name__)
SNIFF_BYTES = 8192
CHUNK = 1024 * 1024


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Submission:
    task: TaskRow
    created: bool


@dataclass(frozen=True)
class RecoveryReport:
    requeued: list[str]
    failed: list[str]


class DownloadService:
    def __init__(self, settings: Settings, db: Database, media: MediaStore, runner: JobRunner, events: EventBus,
                 storage: StorageService) -> None:
        self.settings = settings
        self.db = db
        self.media = media
        self.runner = runner
        self.events = events
        self.storage = storage

    # --- submit ------------------------------------------------------------------------------------
    def submit_url(self, url: str, options: TaskOptions, idempotency_key: str | None = None) -> Submission:
        """Create a task for ``url``, or return the one already queued/running for the same URL or key."""
        _check_options(options)
        normalized = normalize_url(url)
        fingerprint = _fingerprint(normalized, options)
        existing = self._existing(normalized, idempotency_key, fingerprint)
        if existing is not None:
            return Submission(existing, created=False)
        netguard.check_url(normalized, allow_private=self.settings.allow_private_networks)
        self.storage.ensure_space()
        task = _new_task(SourceKind.URL, options, url=url.strip(), normalized=normalized,
                         idempotency_key=idempotency_key, fingerprint=fingerprint)
        try:
            with self.db.session() as s:
                TaskRepository(s).add(task)
        except IntegrityError:  # a concurrent submit of the same URL or key won the race
            existing = self._existing(normalized, idempotency_key, fingerprint)
            if existing is None:
                raise
            return Submission(existing, created=False)
        self.runner.enqueue(task.id)
        return Submission(task, created=True)

    def submit_upload(self, filename: str | None, stream: Readable, options: TaskOptions,
                      declared_size: int | None = None) -> Submission:
        """Store an uploaded media file (type checked by content) and queue it like a download."""
        _check_options(options)
        limit = self.settings.max_upload_mb * 2**20
        if declared_size is not None and declared_size > limit:
            raise PayloadTooLarge(_too_large(self.settings.max_upload_mb))
        self.storage.ensure_space()
        head = stream.read(SNIFF_BYTES)
        kind = filetype.guess(head)
        if not head or kind is None or not kind.mime.startswith(("video/", "audio/")):
            found = kind.mime if kind else "unknown or empty content"
            raise UnsupportedMediaType(f"the upload is not a video or audio file (detected: {found}); "
                                       "send a media file such as MP4, WebM, MKV, MP3, M4A, WAV")
        task_id = str(uuid.uuid4())
        work = self.media.work_dir(task_id)
        target = work / f"{UPLOAD_STEM}.{kind.extension}"
        try:
            _copy_limited(head, stream, target, limit, self.settings.max_upload_mb)
            title = safe_stem(Path(filename or "upload").stem, "upload")
            task = _new_task(SourceKind.UPLOAD, options, url=None, normalized=None, idempotency_key=None,
                             fingerprint=None, task_id=task_id)
            task.video_info = {"title": title, "extractor": "upload", "id": task_id, "webpage_url": None}
            with self.db.session() as s:
                TaskRepository(s).add(task)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        self.runner.enqueue(task.id)
        return Submission(task, created=True)

    def _existing(self, normalized: str, key: str | None, fingerprint: str) -> TaskRow | None:
        with self.db.session() as s:
            repo = TaskRepository(s)
            if key is not None:
                task = repo.find_by_idempotency_key(key)
                if task is not None:
                    if task.request_fingerprint != fingerprint:
                        raise Conflict("this Idempotency-Key was already used with a different request; "
                                       "use a new key for a new request", code="idempotency_key_reused")
                    return task
            return repo.find_active_by_url(normalized)

    # --- read --------------------------------------------------------------------------------------
    def get(self, task_id: str) -> TaskRow:
        with self.db.session() as s:
            task = TaskRepository(s).get(task_id)
        if task is None:
            raise NotFound(f"task '{task_id}' does not exist (it may have been deleted)", code="task_not_found")
        return task

    def page(self, flt: TaskFilter, offset: int, limit: int) -> tuple[list[TaskRow], int]:
        with self.db.session() as s:
            return TaskRepository(s).page(flt, offset=offset, limit=limit)

    def all(self) -> list[TaskRow]:
        with self.db.session() as s:
            return TaskRepository(s).all()

    def counts(self) -> dict[str, int]:
        with self.db.session() as s:
            return TaskRepository(s).count_by_status()

    def file(self, name: str) -> tuple[Path, MediaFileRow]:
        """Resolve a public file name through the database; nothing else on disk is reachable."""
        if not name or ".." in name or "/" in name or "\\" in name or "\x00" in name:
            raise InvalidInput("invalid file name; use a name exactly as listed in the task's files",
                               code="invalid_file_name")
        with self.db.session() as s:
            row = MediaFileRepository(s).by_name(name)
        path = self.media.absolute(row.rel_path) if row else None
        if row is None or path is None or not path.is_file():
            raise NotFound(f"file '{name}' does not exist (it may have been cleaned up)", code="file_not_found")
        return path, row

    def thumbnail(self, name: str, ffmpeg: str) -> Path:
        """A JPEG frame of a video file, made once and kept beside it (so it goes when the file goes)."""
        path, row = self.file(name)
        if not row.content_type.startswith("video/"):
            raise NotFound(f"'{name}' is not a video, so it has no thumbnail", code="no_thumbnail")
        thumb = path.parent / ".thumbnails" / f"{path.name}.jpg"
        if thumb.is_file() and thumb.stat().st_mtime >= path.stat().st_mtime:
            return thumb
        if not thumbnail(ffmpeg, path, thumb):
            raise NotFound(f"no frame could be read from '{name}'", code="no_thumbnail")
        return thumb

    # --- change ------------------------------------------------------------------------------------
    def cancel(self, task_id: str) -> TaskRow:
        with self.db.session() as s:
            task = _locked(s, task_id)
            if not TaskStatus(task.status).is_active:
                raise Conflict(f"task is already {task.status}; only queued or running tasks can be cancelled",
                               code="task_not_active")
            task.status = TaskStatus.CANCELLED.value
            task.owner = None
            task.active_key = None
            task.message = "Cancelled"
            task.completed_at = utcnow()
        self.runner.cancel(task_id)
        self.events.publish(task_id, task_event(task))
        return task

    def retry(self, task_id: str) -> TaskRow:
        with self.db.session() as s:
            task = _locked(s, task_id)
            if task.status not in (TaskStatus.FAILED.value, TaskStatus.CANCELLED.value):
                raise Conflict(f"task is {task.status}; only failed or cancelled tasks can be retried",
                               code="task_not_retryable")
            if task.normalized_url and TaskRepository(s).find_active_by_url(task.normalized_url):
                raise Conflict("another task for this URL is already queued or running", code="task_duplicate")
            _reset_for_run(task, "Queued for retry")
            task.attempts = 0
        self.runner.enqueue(task_id)
        self.events.publish(task_id, task_event(task))
        return task

    def delete(self, task_id: str) -> None:
        """Cancel the task if it runs, then remove it and its files."""
        with self.db.session() as s:
            TaskRepository(s).delete(_locked(s, task_id))
        self.runner.cancel(task_id)
        self.media.remove_task(task_id)

    def reap_stale(self) -> RecoveryReport:
        """Re-queue running tasks whose owner is gone (same host: pid dead) or silent beyond the lease.

        After ``max_attempts`` such interruptions a task fails with the reason instead.
        """
        cutoff = utcnow() - timedelta(seconds=self.settings.task_lease_seconds)
        requeued, failed = [], []
        with self.db.session() as s:
            for task in TaskRepository(s).with_status(TaskStatus.RUNNING):
                if task.owner == self.runner.worker_id:
                    continue
                silent = task.heartbeat_at is None or task.heartbeat_at < cutoff
                if not silent and not owner_is_gone(task.owner):
                    continue
                if task.attempts >= self.settings.max_attempts:
                    task.status = TaskStatus.FAILED.value
                    task.owner = None
                    task.active_key = None
                    task.error = (f"interrupted (its process stopped) during '{task.stage}' after {task.attempts} "
                                  "attempts, e.g. by a restart or crash; retry it when the cause is fixed")
                    task.error_code = "interrupted"
                    task.message = "Failed: interrupted"
                    task.completed_at = utcnow()
                    failed.append(task.id)
                else:
                    _reset_for_run(task, "Resuming: the process running it stopped", keep_progress=True)
                    requeued.append(task.id)
        if requeued or failed:
            log.warning("took over stale tasks: %d re-queued, %d failed", len(requeued), len(failed))
        return RecoveryReport(requeued, failed)

    def resume_queued(self) -> int:
        """Hand every queued task to this process's runner (it drops the ones it already has)."""
        with self.db.session() as s:
            queued = [t.id for t in TaskRepository(s).with_status(TaskStatus.QUEUED)]
        for task_id in queued:
            self.runner.enqueue(task_id)
        return len(queued)

    def recover(self) -> RecoveryReport:
        """At start and periodically: take over stale tasks, then run what is queued."""
        report = self.reap_stale()
        self.resume_queued()
        return report


def _check_options(options: TaskOptions) -> None:
    if not options.extract_audio and not options.keep_video:
        raise InvalidInput("extract_audio and keep_video are both false, so there is nothing to produce; "
                           "set at least one of them to true", code="nothing_to_do")
    if options.max_height is not None and not 16 <= options.max_height <= 8640:
        raise InvalidInput("max_height must be between 16 and 8640 pixels", code="invalid_option")


def _fingerprint(normalized: str, options: TaskOptions) -> str:
    payload = json.dumps({"url": normalized, **options.to_json()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _new_task(source: SourceKind, options: TaskOptions, *, url: str | None, normalized: str | None,
              idempotency_key: str | None, fingerprint: str | None, task_id: str | None = None) -> TaskRow:
    now = utcnow()
    return TaskRow(id=task_id or str(uuid.uuid4()), source=source.value, url=url, normalized_url=normalized,
                   active_key=normalized, idempotency_key=idempotency_key, request_fingerprint=fingerprint,
                   options=options.to_json(), status=TaskStatus.QUEUED.value, stage=Stage.QUEUED.value,
                   progress=0.0, progress_detail={}, message="Queued", video_info={}, attempts=0,
                   created_at=now, updated_at=now, files=[])


def _locked(session: Session, task_id: str) -> TaskRow:
    """The task, locked for this change, or NotFound."""
    task = TaskRepository(session).get(task_id, for_update=True)
    if task is None:
        raise NotFound(f"task '{task_id}' does not exist", code="task_not_found")
    return task


def _reset_for_run(task: TaskRow, message: str, *, keep_progress: bool = False) -> None:
    task.status = TaskStatus.QUEUED.value
    task.owner = None
    task.active_key = task.normalized_url
    task.stage = Stage.QUEUED.value
    task.message = message
    task.error = None
    task.error_code = None
    task.completed_at = None
    if not keep_progress:
        task.progress = 0.0
        task.progress_detail = {}


def _too_large(limit_mb: int) -> str:
    return f"the upload is larger than the {limit_mb} MB limit (VIDRAG_MAX_UPLOAD_MB); send a smaller file"


def _copy_limited(head: bytes, stream: Readable, target: Path, limit: int, limit_mb: int) -> None:
    written = len(head)
    with target.open("wb") as out:
        out.write(head)
        while chunk := stream.read(CHUNK):
            written += len(chunk)
            if written > limit:
                raise PayloadTooLarge(_too_large(limit_mb))
            out.write(chunk)
