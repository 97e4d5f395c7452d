"""The download job: reloads its task by ID, runs the stages, records every state change on the row.

Every write is conditional on the task still being ``running`` in this attempt, so a task that was
cancelled or deleted meanwhile is never resurrected, and a retried job repeats no finished work
(yt-dlp resumes or skips a finished download; a finished audio file is kept).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from vidrag.domain.errors import StageFailed, TaskCancelled, VidragError
from vidrag.domain.tasks import DownloadProgress, FileKind, SourceKind, Stage, TaskOptions, TaskStatus
from vidrag.jobs.base import JobControl
from vidrag.jobs.events import EventBus
from vidrag.observability.logs import log_context
from vidrag.observability.metrics import NO_METRICS, JobMetrics
from vidrag.pipeline.base import StageContext
from vidrag.pipeline.download import DownloadRequest, DownloadResult, download
from vidrag.pipeline.extract_audio import AudioRequest, extract_audio
from vidrag.pipeline.ffmpeg import probe
from vidrag.settings import Settings
from vidrag.storage.db import Database
from vidrag.storage.media import MediaStore, public_name
from vidrag.storage.models import MediaFileRow, TaskRow, utcnow
from vidrag.storage.repositories import MediaFileRepository, TaskRepository

log = logging.getLogger(__name__)
UPLOAD_STEM = "upload"
_CONTENT_TYPES = {"mp4": "video/mp4", "m4v": "video/mp4", "webm": "video/webm", "mkv": "video/x-matroska",
                  "mov": "video/quicktime", "ts": "video/mp2t", "flv": "video/x-flv", "avi": "video/x-msvideo",
                  "mp3": "audio/mpeg", "m4a": "audio/mp4", "opus": "audio/ogg", "ogg": "audio/ogg",
                  "wav": "audio/wav", "flac": "audio/flac", "aac": "audio/aac", "vtt": "text/vtt",
                  "srt": "application/x-subrip", "jpg": "image/jpeg", "webp": "image/webp", "png": "image/png"}


def content_type_for(path: Path) -> str:
    return _CONTENT_TYPES.get(path.suffix.lower().lstrip("."), "application/octet-stream")


@dataclass(frozen=True)
class _Span:
    """Where a stage's 0-100 lands in the task's overall 0-100."""

    start: float
    end: float

    def at(self, percent: float) -> float:
        return self.start + (self.end - self.start) * max(0.0, min(percent, 100.0)) / 100.0


def _spans(options: TaskOptions) -> dict[Stage, _Span]:
    if not options.extract_audio:
        return {Stage.DOWNLOAD: _Span(0, 99)}
    return {Stage.DOWNLOAD: _Span(0, 85), Stage.EXTRACT_AUDIO: _Span(85, 99)}


STAGE_MESSAGES = {Stage.DOWNLOAD: "Downloading", Stage.EXTRACT_AUDIO: "Extracting audio",
                  Stage.FINALIZE: "Saving files"}


class DownloadJob:
    def __init__(self, settings: Settings, db: Database, media: MediaStore, events: EventBus, ffmpeg: str) -> None:
        self.settings = settings
        self.db = db
        self.media = media
        self.events = events
        self.ffmpeg = ffmpeg
        self.on_finished: list[Callable[[str], None]] = []  # called with the task ID when a task ends
        self.metrics: JobMetrics = NO_METRICS  # stage durations and outcomes; set where metrics are served

    # --- entry point -------------------------------------------------------------------------------
    def __call__(self, task_id: str, control: JobControl) -> None:
        with log_context(task_id=task_id, job="download"):
            self._run(task_id, control)

    def _run(self, task_id: str, control: JobControl) -> None:
        owner = control.worker_id
        task = self._claim(task_id, owner)
        if task is None:
            return
        where = (urlsplit(task.url).hostname or "?") if task.url else "upload"  # no login or signed query in logs
        log.info("download started (attempt %d) from %s", task.attempts, where)
        options = TaskOptions.from_json(task.options)
        reporter = _Reporter(self, task_id, owner, _spans(options))
        ctx = StageContext(task_id, self.media.work_dir(task_id), reporter, control.is_cancelled)
        try:
            with self.metrics.stage(Stage.DOWNLOAD.value):
                source, info, subtitles = self._fetch(ctx, task, options)
            media = probe(self.ffmpeg, source)  # once: refuses non-media early, gives the duration
            info["duration"] = info.get("duration") or media.duration  # direct media URLs carry none
            self._update(task_id, owner, video_info=info)
            audio = None
            if options.extract_audio:
                reporter.enter(Stage.EXTRACT_AUDIO)
                with self.metrics.stage(Stage.EXTRACT_AUDIO.value):
                    audio = extract_audio(ctx, AudioRequest(source, options.audio_format, self.ffmpeg,
                                                            self.settings.mp3_bitrate_kbps,
                                                            self.settings.opus_bitrate_kbps, probe=media)).path
            ctx.check_cancelled()
            reporter.enter(Stage.FINALIZE)
            self._finalize(task_id, owner, info, options, source, audio, subtitles)
        except TaskCancelled:
            if control.shutting_down:
                self._requeue_for_restart(task_id, owner)
            elif control.timed_out:
                message = control.time_limit_message()
                self._finish(task_id, owner, TaskStatus.FAILED, "Failed: time limit", error=message,
                             code="time_limit")
            else:
                self._finish(task_id, owner, TaskStatus.CANCELLED, "Cancelled")
        except (StageFailed, VidragError) as exc:
            self._finish(task_id, owner, TaskStatus.FAILED, f"Failed: {exc.message}", error=exc.message,
                         code=exc.code)
        except Exception as exc:  # a bug or an unforeseen library error: the task still ends, with a reason
            log.exception("task %s failed unexpectedly", task_id)
            self._finish(task_id, owner, TaskStatus.FAILED, "Failed: internal error",
                         error=f"unexpected error: {type(exc).__name__}: {exc}", code="internal_error")
        finally:
            self._cleanup_if_gone(task_id)
            for hook in self.on_finished:
                try:
                    hook(task_id)
                except Exception:
                    log.exception("on_finished hook failed for task %s", task_id)

    # --- stages ------------------------------------------------------------------------------------
    def _fetch(self, ctx: StageContext, task: TaskRow, options: TaskOptions
               ) -> tuple[Path, dict[str, Any], list[tuple[Path, str, bool]]]:
        if task.source == SourceKind.UPLOAD.value:
            source = next(ctx.work_dir.glob(f"{UPLOAD_STEM}.*"), None)
            if source is None:
                raise StageFailed("the uploaded file is gone; upload it again", code="upload_missing")
            ctx.report(DownloadProgress(stage=Stage.DOWNLOAD, percent=100.0))
            return source, dict(task.video_info), []
        assert task.url is not None
        result: DownloadResult = download(ctx, DownloadRequest(
            url=task.url, options=options, ffmpeg=self.ffmpeg, max_bytes=self.settings.max_download_mb * 2**20,
            socket_timeout=self.settings.socket_timeout_seconds,
            allow_private_networks=self.settings.allow_private_networks))
        subs = [(s.path, s.language, s.automatic) for s in result.subtitles]
        return result.media_path, result.video_info, subs

    def _finalize(self, task_id: str, owner: str, info: dict[str, Any], options: TaskOptions, source: Path,
                  audio: Path | None, subtitles: list[tuple[Path, str, bool]]) -> None:
        title = info.get("title")
        wanted: list[tuple[FileKind, Path, str, dict[str, Any]]] = []
        if options.keep_video:
            wanted.append((FileKind.VIDEO, source, "", {}))
        if audio is not None:
            wanted.append((FileKind.AUDIO, audio, "", {"format": options.audio_format.value}))
        wanted += [(FileKind.SUBTITLE, path, lang, {"language": lang, "automatic": auto})
                   for path, lang, auto in subtitles]
        target_dir = self.media.task_dir(task_id)
        with self.db.session() as s:
            task = _owned(s, task_id, owner)
            if task is None:
                return
            files = MediaFileRepository(s)
            for kind, path, suffix, details in wanted:
                name = public_name(kind.value, title, task_id, path.suffix, suffix)
                if files.name_taken(name):  # a file of a previous attempt of this task
                    continue
                final = target_dir / name
                shutil.move(str(path), final)
                task.files.append(MediaFileRow(kind=kind.value, name=name, rel_path=self.media.relative(final),
                                               size_bytes=final.stat().st_size, content_type=content_type_for(final),
                                               details=details))
            self._apply_finish(task, TaskStatus.COMPLETED, "Completed")
        self._ended(TaskStatus.COMPLETED)
        self.media.clear_work_dir(task_id)
        self._publish_state(task_id)

    # --- state -------------------------------------------------------------------------------------
    def _claim(self, task_id: str, owner: str) -> TaskRow | None:
        """Take a queued task atomically: of two processes racing for it, exactly one wins."""
        now = utcnow()
        with self.db.session() as s:
            claimed = s.execute(
                update(TaskRow).where(TaskRow.id == task_id, TaskRow.status == TaskStatus.QUEUED.value)
                .values(status=TaskStatus.RUNNING.value, owner=owner, heartbeat_at=now, updated_at=now,
                        attempts=TaskRow.attempts + 1, started_at=func.coalesce(TaskRow.started_at, now),
                        stage=Stage.DOWNLOAD.value, message=STAGE_MESSAGES[Stage.DOWNLOAD]))
            if not getattr(claimed, "rowcount", 0):
                return None
            task = TaskRepository(s).get(task_id)
        self._publish_state(task_id)
        return task

    def heartbeat(self, task_ids: list[str], owner: str) -> None:
        """Renew the lease of the tasks this process runs."""
        with self.db.session() as s:
            s.execute(update(TaskRow).where(TaskRow.id.in_(task_ids), TaskRow.owner == owner,
                                            TaskRow.status == TaskStatus.RUNNING.value)
                      .values(heartbeat_at=utcnow()))

    def _update(self, task_id: str, owner: str, **values: Any) -> bool:
        """Write ``values`` if this process still runs the task; False when it was cancelled, deleted or taken over."""
        now = utcnow()
        with self.db.session() as s:
            result = s.execute(update(TaskRow).where(TaskRow.id == task_id, TaskRow.owner == owner,
                                                     TaskRow.status == TaskStatus.RUNNING.value)
                               .values(updated_at=now, heartbeat_at=now, **values))
            return bool(getattr(result, "rowcount", 0))

    def _finish(self, task_id: str, owner: str, status: TaskStatus, message: str, *, error: str | None = None,
                code: str | None = None) -> None:
        with self.db.session() as s:
            task = _owned(s, task_id, owner)
            if task is None:  # the API ended it (cancel), or it was deleted or taken over meanwhile
                stopped_by_cancel = status is TaskStatus.CANCELLED and _status(s, task_id) == TaskStatus.CANCELLED
            else:
                self._apply_finish(task, status, message, error, code)
        if task is None:
            if stopped_by_cancel:  # the job ended because of it: count it, nothing else to write
                self._ended(status)
            return
        self._ended(status, error)
        if status is not TaskStatus.CANCELLED:
            self.media.clear_work_dir(task_id)
        self._publish_state(task_id)

    def _ended(self, status: TaskStatus, error: str | None = None) -> None:
        self.metrics.job_finished("download", status.value)
        if status is TaskStatus.FAILED:
            log.warning("download failed: %s", error)
        else:
            log.info("download %s", status.value)

    def _requeue_for_restart(self, task_id: str, owner: str) -> None:
        """A graceful shutdown is not the task's fault: queue it again without spending an attempt."""
        with self.db.session() as s:
            task = _owned(s, task_id, owner)
            if task is None:
                return
            task.status = TaskStatus.QUEUED.value
            task.owner = None
            task.stage = Stage.QUEUED.value
            task.attempts = max(0, task.attempts - 1)
            task.message = "Waiting: the service is restarting"

    @staticmethod
    def _apply_finish(task: TaskRow, status: TaskStatus, message: str, error: str | None = None,
                      code: str | None = None) -> None:
        task.status = status.value
        task.owner = None
        task.active_key = None
        task.message = message
        task.error = error
        task.error_code = code
        task.completed_at = utcnow()
        if status is TaskStatus.COMPLETED:
            task.progress = 100.0
            task.stage = Stage.DONE.value
            # the last download report (its speed, ETA, 90 %) would read as if the task were still going;
            # a failed or cancelled task keeps its last report: it tells how far the task got
            task.progress_detail = {"stage": Stage.DONE.value, "percent": 100.0}

    def _cleanup_if_gone(self, task_id: str) -> None:
        with self.db.session() as s:
            task = TaskRepository(s).get(task_id)
            status = task.status if task else None
        if status is None:
            self.media.remove_task(task_id)
        elif status == TaskStatus.CANCELLED.value:
            self.media.clear_work_dir(task_id)

    def _publish_state(self, task_id: str) -> None:
        with self.db.session() as s:
            task = TaskRepository(s).get(task_id)
            if task is not None:
                self.events.publish(task_id, task_event(task))


def _owned(session: Session, task_id: str, owner: str) -> TaskRow | None:
    """The task, locked, if ``owner`` still runs it."""
    task = TaskRepository(session).get(task_id, for_update=True)
    if task is None or task.status != TaskStatus.RUNNING.value or task.owner != owner:
        return None
    return task


def _status(session: Session, task_id: str) -> TaskStatus | None:
    task = TaskRepository(session).get(task_id)
    return TaskStatus(task.status) if task is not None else None


def task_event(task: TaskRow) -> dict[str, Any]:
    return {"type": "status", "task_id": task.id, "status": task.status, "stage": task.stage,
            "progress": round(task.progress, 1), "message": task.message, "detail": task.progress_detail,
            "error": task.error, "error_code": task.error_code}


class _Reporter:
    """Maps stage progress onto the task's 0-100, publishes every report, writes the row at most once a second."""

    WRITE_INTERVAL = 1.0

    def __init__(self, job: DownloadJob, task_id: str, owner: str, spans: dict[Stage, _Span]) -> None:
        self.job = job
        self.task_id = task_id
        self.owner = owner
        self.spans = spans
        self.last_write = 0.0
        self.stage = Stage.DOWNLOAD
        self.percent = 0.0

    def enter(self, stage: Stage) -> None:
        self.stage = stage
        span = self.spans.get(stage)
        self.percent = max(self.percent, span.start if span else 99.0)
        self._write({"stage": stage.value, "message": STAGE_MESSAGES.get(stage, stage.value)}, force=True)

    def __call__(self, progress: DownloadProgress) -> None:
        span = self.spans.get(progress.stage)
        if span is not None:
            self.percent = max(self.percent, span.at(progress.percent))
        detail = progress.to_json()
        self.job.events.publish(self.task_id, {
            "type": "progress", "task_id": self.task_id, "status": TaskStatus.RUNNING.value,
            "stage": progress.stage.value, "progress": round(self.percent, 1),
            "message": STAGE_MESSAGES.get(progress.stage, ""), "detail": detail, "error": None, "error_code": None})
        self._write({"progress_detail": detail}, force=False)

    def _write(self, values: dict[str, Any], *, force: bool) -> None:
        now = time.monotonic()
        if force or now - self.last_write >= self.WRITE_INTERVAL:
            self.last_write = now
            self.job._update(self.task_id, self.owner, progress=self.percent, **values)
