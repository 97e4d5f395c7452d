"""Task leases: a running task whose owner is gone or silent is taken over; a live one is left alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.conftest import make_settings
from vidrag.api.app import build_container
from vidrag.api.deps import Container
from vidrag.domain.tasks import TaskStatus
from vidrag.jobs.base import new_worker_id, owner_is_gone
from vidrag.storage.models import TaskRow, utcnow


def running_task(c: Container, task_id: str, owner: str | None, silent_for: float, attempts: int = 1) -> None:
    beat = utcnow() - timedelta(seconds=silent_for)
    with c.db.session() as s:
        s.add(TaskRow(id=task_id, source="url", url=f"http://x/{task_id}", normalized_url=f"http://x/{task_id}",
                      active_key=f"http://x/{task_id}", options={}, status=TaskStatus.RUNNING.value,
                      stage="download", progress=40.0, progress_detail={}, message="", video_info={},
                      attempts=attempts, owner=owner, heartbeat_at=beat, created_at=beat, updated_at=beat))


@pytest.fixture
def container(tmp_path: Path, database: str | None) -> Container:
    return build_container(make_settings(tmp_path / "data", database_url=database, task_lease_seconds=30,
                                         max_attempts=3))


def test_owner_liveness() -> None:
    assert owner_is_gone(None)
    assert not owner_is_gone(new_worker_id())  # this very process
    host = new_worker_id().split(":")[0]
    assert owner_is_gone(f"{host}:999999999:dead")  # no such pid here
    assert not owner_is_gone("another-host:1:abc")  # can't tell from here: the heartbeat decides


def test_reaper_takes_over_only_what_is_abandoned(container: Container) -> None:
    host = new_worker_id().split(":")[0]
    running_task(container, "live-here", new_worker_id(), silent_for=1)
    running_task(container, "dead-here", f"{host}:999999999:x", silent_for=1)
    running_task(container, "live-elsewhere", "other-host:42:x", silent_for=5)
    running_task(container, "silent-elsewhere", "other-host:42:x", silent_for=120)
    running_task(container, "exhausted", "other-host:42:x", silent_for=120, attempts=3)
    report = container.downloads.reap_stale()
    assert sorted(report.requeued) == ["dead-here", "silent-elsewhere"]
    assert report.failed == ["exhausted"]
    status = {t.id: t.status for t in container.downloads.all()}
    assert status == {"live-here": "running", "dead-here": "queued", "live-elsewhere": "running",
                      "silent-elsewhere": "queued", "exhausted": "failed"}
    requeued = container.downloads.get("dead-here")
    assert requeued.owner is None
    assert requeued.progress == 40.0  # progress is kept for the resumed attempt
    assert container.downloads.get("exhausted").error_code == "interrupted"
