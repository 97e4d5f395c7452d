"""Disk use, retention and admission: what the data dir holds, what may go, whether new work fits."""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime

from vidrag.domain.errors import InsufficientStorage
from vidrag.settings import Settings
from vidrag.storage.db import Database
from vidrag.storage.media import MediaStore
from vidrag.storage.models import MediaFileRow, utcnow
from vidrag.storage.repositories import MediaFileRepository, TaskRepository

MB = 1024 * 1024
ORPHAN_GRACE_SECONDS = 3600


@dataclass(frozen=True)
class RetentionPolicy:
    max_age_hours: float
    max_total_mb: float
    keep_newest: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(settings.retention_max_age_hours, settings.retention_max_total_mb, settings.retention_keep_newest)

    def describe(self) -> list[str]:
        return [f"keep the {self.keep_newest} newest files", f"delete files older than {self.max_age_hours:g} h",
                f"keep the total under {self.max_total_mb:g} MB, oldest first",
                "never touch files of queued or running tasks"]


@dataclass(frozen=True)
class CleanupResult:
    total_files: int
    deleted_files: int
    freed_space_mb: float
    preserved_files: int
    strategy: list[str]

    def to_json(self) -> dict[str, object]:
        return asdict(self)


class StorageService:
    def __init__(self, settings: Settings, db: Database, media: MediaStore) -> None:
        self.settings = settings
        self.db = db
        self.media = media

    def free_disk_mb(self) -> float:
        return shutil.disk_usage(self.settings.data_dir).free / MB

    def ensure_space(self) -> None:
        """Refuse new work while free space is below the threshold; nothing stored is touched."""
        free = self.free_disk_mb()
        if free < self.settings.min_free_disk_mb:
            raise InsufficientStorage(
                f"only {free:.0f} MB free in the data directory, below the {self.settings.min_free_disk_mb:g} MB "
                "threshold (VIDRAG_MIN_FREE_DISK_MB); run POST /api/storage/cleanup or free disk space, then retry")

    def info(self) -> dict[str, object]:
        with self.db.session() as s:
            files = MediaFileRepository(s).all()
        now = utcnow()
        ages = [_hours(now, f.created_at) for f in files]
        total = sum(f.size_bytes for f in files)
        return {"total_files": len(files), "total_size_mb": round(total / MB, 2),
                "oldest_file_hours": round(max(ages), 2) if ages else 0.0,
                "newest_file_hours": round(min(ages), 2) if ages else 0.0,
                "temp_dir": str(self.settings.media_dir.resolve()),
                "free_disk_mb": round(self.free_disk_mb(), 1),
                "min_free_disk_mb": self.settings.min_free_disk_mb,
                "policy": asdict(RetentionPolicy.from_settings(self.settings))}

    def cleanup(self, policy: RetentionPolicy | None = None) -> CleanupResult:
        policy = policy or RetentionPolicy.from_settings(self.settings)
        now = utcnow()
        with self.db.session() as s:
            repo = MediaFileRepository(s)
            every_file = repo.all()
            total_files = len(every_file)
            total_bytes = sum(f.size_bytes for f in every_file)
            candidates = sorted(repo.all_of_finished_tasks(), key=lambda f: f.created_at, reverse=True)
            deletable = candidates[policy.keep_newest:]
            doomed = [f for f in deletable if _hours(now, f.created_at) > policy.max_age_hours]
            remaining = total_bytes - sum(f.size_bytes for f in doomed)
            for f in reversed([f for f in deletable if f not in doomed]):  # oldest first
                if remaining <= policy.max_total_mb * MB:
                    break
                doomed.append(f)
                remaining -= f.size_bytes
            freed = sum(self._delete(f) for f in doomed)
        self._remove_orphan_dirs()
        return CleanupResult(total_files=total_files, deleted_files=len(doomed), freed_space_mb=round(freed / MB, 2),
                             preserved_files=total_files - len(doomed), strategy=policy.describe())

    def _delete(self, row: MediaFileRow) -> int:
        path = self.media.absolute(row.rel_path)
        size = row.size_bytes
        path.unlink(missing_ok=True)
        (path.parent / ".thumbnails" / f"{path.name}.jpg").unlink(missing_ok=True)  # see DownloadService.thumbnail
        row.task.files.remove(row)
        return size

    def _remove_orphan_dirs(self) -> None:
        """Task folders whose task no longer exists (a crash between delete and rmtree).

        Only folders idle for an hour: an upload is written before its task row exists.
        """
        cutoff = time.time() - ORPHAN_GRACE_SECONDS
        with self.db.session() as s:
            repo = TaskRepository(s)
            for root in (self.settings.media_dir, self.settings.tmp_dir):
                for child in root.iterdir() if root.exists() else ():
                    if child.is_dir() and child.stat().st_mtime < cutoff and repo.get(child.name) is None:
                        shutil.rmtree(child, ignore_errors=True)


def _hours(now: datetime, then: datetime) -> float:
    return (now - then).total_seconds() / 3600
