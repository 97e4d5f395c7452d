"""Retention: keep newest N, drop old files, cap total size, never touch running tasks' files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.conftest import make_settings
from vidrag.api.app import build_container
from vidrag.domain.tasks import TaskStatus
from vidrag.services.storage import RetentionPolicy
from vidrag.storage.db import Database
from vidrag.storage.models import MediaFileRow, TaskRow, utcnow


def add_task(db: Database, media_dir: Path, name: str, status: TaskStatus, age_hours: float,
             size: int = 1000) -> None:
    created = utcnow() - timedelta(hours=age_hours)
    task_id = f"task-{name}"
    folder = media_dir / task_id
    folder.mkdir(parents=True)
    (folder / f"{name}.mp3").write_bytes(b"x" * size)
    with db.session() as s:
        s.add(TaskRow(id=task_id, source="url", url="http://x", options={}, status=status.value, stage="done",
                      progress=100.0, progress_detail={}, message="", video_info={}, attempts=1,
                      created_at=created, updated_at=created,
                      files=[MediaFileRow(kind="audio", name=f"{name}.mp3", rel_path=f"{task_id}/{name}.mp3",
                                          size_bytes=size, content_type="audio/mpeg", details={},
                                          created_at=created)]))


def test_policy_keeps_newest_drops_old_and_caps_size(tmp_path: Path, database: str | None) -> None:
    c = build_container(make_settings(tmp_path / "data", database_url=database))
    media = c.settings.media_dir
    for i, age in enumerate([1, 2, 30, 40, 50]):  # hours
        add_task(c.db, media, f"done{i}", TaskStatus.COMPLETED, age, size=2 * 2**20)
    add_task(c.db, media, "running", TaskStatus.RUNNING, 100, size=2 * 2**20)
    result = c.storage.cleanup(RetentionPolicy(max_age_hours=24, max_total_mb=5, keep_newest=2))
    left = sorted(p.name for p in media.rglob("*.mp3"))
    # done2..4 are old; then the cap (5 MB) leaves done0, done1 (kept newest) and the running task's file
    assert left == ["done0.mp3", "done1.mp3", "running.mp3"]
    assert result.deleted_files == 3
    assert result.preserved_files == 3
    assert result.total_files == 6
    assert abs(result.freed_space_mb - 6.0) < 0.01
    info = c.storage.info()
    assert info["total_files"] == 3


def test_size_cap_deletes_oldest_first_beyond_keep_newest(tmp_path: Path, database: str | None) -> None:
    c = build_container(make_settings(tmp_path / "data", database_url=database))
    for i, age in enumerate([1, 2, 3, 4]):
        add_task(c.db, c.settings.media_dir, f"f{i}", TaskStatus.COMPLETED, age, size=2**20)
    result = c.storage.cleanup(RetentionPolicy(max_age_hours=24, max_total_mb=2.5, keep_newest=1))
    assert sorted(p.name for p in c.settings.media_dir.rglob("*.mp3")) == ["f0.mp3", "f1.mp3"]
    assert result.deleted_files == 2
