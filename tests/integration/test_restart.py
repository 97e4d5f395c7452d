"""A crash (SIGKILL of `python start.py`) mid-download: after restart the task ends, never stuck."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.support.media import ffprobe
from tests.support.service import ServiceProcess, wait_for_task

ENV = {"VIDRAG_ALLOW_PRIVATE_NETWORKS": "true", "VIDRAG_MIN_FREE_DISK_MB": "0", "VIDRAG_ENV": "development",
       "VIDRAG_CLEANUP_INTERVAL_MINUTES": "0"}


def start(data_dir: Path, **env: str) -> tuple[ServiceProcess, httpx.Client]:
    proc = ServiceProcess(data_dir, {**ENV, **env})
    proc.start()
    return proc, httpx.Client(base_url=proc.base_url, timeout=30)


def crash_mid_download(tmp_path: Path, media_url: str, **env: str) -> tuple[str, Path]:
    data = tmp_path / "data"
    proc, client = start(data, **env)
    try:
        task_id = client.post("/api/process", json={"url": f"{media_url}/slow/clip.mp4?bps=30000"}).json()["task_id"]
        deadline = time.monotonic() + 30
        while client.get(f"/api/v1/tasks/{task_id}").json()["progress"] <= 5:
            assert time.monotonic() < deadline, "download never made progress"
            time.sleep(0.1)
    finally:
        proc.kill()
        client.close()
    with sqlite3.connect(data / "vidrag.db") as db:
        (status,) = db.execute("SELECT status FROM tasks WHERE id = ?", (task_id,)).fetchone()
    assert status == "running"  # the crash left it mid-flight, as a real one would
    return task_id, data


@pytest.mark.slow
def test_killed_download_resumes_and_completes(tmp_path: Path, media_url: str) -> None:
    task_id, data = crash_mid_download(tmp_path, media_url)
    proc, client = start(data)
    try:
        task = wait_for_task(client, task_id, timeout=60)
        assert task["status"] == "completed", task
        assert task["attempts"] == 2
        video = next(f for f in task["files"] if f["kind"] == "video")
        out = tmp_path / "v.mp4"
        out.write_bytes(client.get(video["url"]).content)
        assert ffprobe(out).codecs == {"video": "h264", "audio": "aac"}
        assert client.get(f"/api/status/{task_id}").json()["status"] == "completed"
    finally:
        proc.stop()
        client.close()


@pytest.mark.slow
def test_killed_download_beyond_max_attempts_fails_with_reason(tmp_path: Path, media_url: str) -> None:
    task_id, data = crash_mid_download(tmp_path, media_url, VIDRAG_MAX_ATTEMPTS="1")
    proc, client = start(data, VIDRAG_MAX_ATTEMPTS="1")
    try:
        task = client.get(f"/api/v1/tasks/{task_id}").json()
        assert task["status"] == "failed"
        assert task["error"]["code"] == "interrupted"
        assert "restart" in task["error"]["message"]
        seed = client.get(f"/api/status/{task_id}").json()
        assert seed["status"] == "error"
        assert "restart" in seed["error"]
        assert client.get("/api/tasks").json()["active_tasks"] == 0
    finally:
        proc.stop()
        client.close()


@pytest.mark.slow
def test_graceful_stop_requeues_and_the_next_start_finishes(tmp_path: Path, media_url: str) -> None:
    proc, client = start(tmp_path / "data")
    try:
        task_id = client.post("/api/process", json={"url": f"{media_url}/slow/clip.mp4?bps=30000"}).json()["task_id"]
        wait_for_task(client, task_id, until={"running"})
        time.sleep(0.5)
    finally:
        proc.stop()  # SIGTERM: a normal restart, not a cancel
        client.close()
    with sqlite3.connect(tmp_path / "data" / "vidrag.db") as db:
        status, attempts = db.execute("SELECT status, attempts FROM tasks WHERE id = ?", (task_id,)).fetchone()
    assert (status, attempts) == ("queued", 0)
    proc, client = start(tmp_path / "data")
    try:
        task = wait_for_task(client, task_id, timeout=60)
        assert task["status"] == "completed"
        assert task["attempts"] == 1
    finally:
        proc.stop()
        client.close()
