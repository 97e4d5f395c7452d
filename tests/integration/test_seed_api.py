"""The seed API contract (tmwgsicp/video-download-api): its clients must work unchanged."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.media import MediaSet, ffprobe
from tests.support.service import RunningService

TIMEOUT = 60


def submit(svc: RunningService, url: str, **flags: bool) -> str:
    r = svc.client.post("/api/process", json={"url": url, **flags})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"task_id", "message", "status_url"}
    assert body["status_url"] == f"/api/status/{body['task_id']}"
    return str(body["task_id"])


def wait_seed(svc: RunningService, task_id: str) -> dict[str, object]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        body: dict[str, object] = svc.client.get(f"/api/status/{task_id}").json()
        assert body["status"] in ("processing", "completed", "error")
        assert isinstance(body["progress"], int)
        assert 0 <= body["progress"] <= 100
        if body["status"] != "processing":
            return body
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} still processing after {TIMEOUT}s")


def fetch(svc: RunningService, link: str, dest: Path) -> httpx.Response:
    r = svc.client.get(link)
    assert r.status_code == 200, r.text
    assert int(r.headers["content-length"]) == len(r.content) > 0
    dest.write_bytes(r.content)
    return r


@pytest.mark.parametrize(("flags", "kinds"), [
    ({"extract_audio": True, "keep_video": True}, {"video", "audio"}),
    ({"extract_audio": False, "keep_video": True}, {"video"}),
    ({"extract_audio": True, "keep_video": False}, {"audio"}),
])
def test_seed_scenarios_produce_exactly_the_requested_files(
        service: RunningService, media: MediaSet, media_url: str, tmp_path: Path,
        flags: dict[str, bool], kinds: set[str]) -> None:
    source = ffprobe(media.mp4)
    task_id = submit(service, f"{media_url}/clip.mp4", **flags)
    status = wait_seed(service, task_id)
    assert status["status"] == "completed", status
    assert status["progress"] == 100
    assert status["error"] is None
    assert status["completed_at"]
    files = status["files"]
    assert isinstance(files, dict)
    assert set(files) == kinds
    info = status["video_info"]
    assert isinstance(info, dict)
    assert info["title"] == "clip"
    assert info["extractor"] == "generic"
    assert abs(float(info["duration"]) - source.duration) < 0.5
    for key in ("title", "duration", "uploader", "view_count", "like_count", "description", "upload_date",
                "thumbnail", "webpage_url", "extractor", "id"):
        assert key in info
    if "video" in kinds:
        r = fetch(service, files["video"], tmp_path / "v.mp4")
        assert r.headers["content-type"] == "video/mp4"
        assert "attachment" in r.headers["content-disposition"]
        got = ffprobe(tmp_path / "v.mp4")
        assert got.codecs == {"video": "h264", "audio": "aac"}
        assert abs(got.duration - source.duration) < 0.3
    if "audio" in kinds:
        r = fetch(service, files["audio"], tmp_path / "a.mp3")
        assert r.headers["content-type"] == "audio/mpeg"
        got = ffprobe(tmp_path / "a.mp3")
        assert got.codecs == {"audio": "mp3"}
        assert abs(got.duration - source.stream_duration("audio")) < 0.2
        assert 180_000 <= int(str(got.streams[0]["bit_rate"])) <= 200_000  # the seed's 192 kbps
    if "video" not in kinds:  # audio only: the downloaded source is not kept anywhere
        data = service.settings.data_dir
        assert not [p for p in data.rglob("*") if p.suffix in (".mp4", ".part")]


def test_both_flags_false_is_rejected(service: RunningService, media_url: str) -> None:
    r = service.client.post("/api/process", json={"url": f"{media_url}/clip.mp4", "extract_audio": False,
                                                  "keep_video": False})
    assert r.status_code == 422
    assert r.json()["code"] == "nothing_to_do"
    assert service.client.get("/api/tasks").json()["total_tasks"] == 0


def test_unknown_task_and_file_errors(service: RunningService) -> None:
    r = service.client.get("/api/status/does-not-exist")
    assert r.status_code == 404
    assert r.json()["code"] == "task_not_found"
    assert service.client.delete("/api/tasks/does-not-exist").status_code == 404
    for bad in ("..vidrag.db", "a..b.mp4", "a\\b.mp4"):
        r = service.client.get(f"/api/download/{bad}")
        assert r.status_code == 400, bad
        assert r.json()["code"] == "invalid_file_name"
    # the database and the secret live in the data dir too: no name reaches them
    for name in ("vidrag.db", ".secret_key", "tasks.json"):
        r = service.client.get(f"/api/download/{name}")
        assert r.status_code == 404
        assert r.json()["code"] == "file_not_found"


def test_task_list_and_delete(service: RunningService, media_url: str) -> None:
    task_id = submit(service, f"{media_url}/clip.mp4")
    status = wait_seed(service, task_id)
    listing = service.client.get("/api/tasks").json()
    assert listing["total_tasks"] == 1
    assert listing["active_tasks"] == 0
    assert listing["processing_urls"] == 0
    entry = listing["tasks"][task_id]
    assert set(entry) == {"status", "progress", "message", "created_at", "completed_at", "video_info", "files"}
    assert entry["files"] == status["files"]
    files = status["files"]
    assert isinstance(files, dict)
    r = service.client.delete(f"/api/tasks/{task_id}")
    assert r.status_code == 200
    assert "message" in r.json()
    assert service.client.get(f"/api/status/{task_id}").status_code == 404
    assert service.client.get(files["video"]).status_code == 404
    assert not (service.settings.media_dir / task_id).exists()


def test_same_url_in_progress_returns_the_same_task(service: RunningService, media_url: str) -> None:
    url = f"{media_url}/slow/clip.mp4?bps=60000"
    first = submit(service, url)
    second = submit(service, url.replace("http://127.0.0.1", "HTTP://127.0.0.1") + "&utm_source=x")
    assert first == second
    listing = service.client.get("/api/tasks").json()
    assert listing["total_tasks"] == 1
    assert listing["processing_urls"] == 1
    assert wait_seed(service, first)["status"] == "completed"
    third = submit(service, url)  # finished: a new submit is new work
    assert third != first
    wait_seed(service, third)


def test_storage_info_and_cleanup_shapes(service: RunningService, media_url: str) -> None:
    wait_seed(service, submit(service, f"{media_url}/clip.mp4"))
    info = service.client.get("/api/storage/info").json()
    assert info["status"] == "success"
    assert "timestamp" in info
    storage = info["storage"]
    assert storage["total_files"] == 2
    assert storage["total_size_mb"] > 0
    assert 0 <= storage["newest_file_hours"] <= storage["oldest_file_hours"] < 1
    assert "temp_dir" in storage
    cleanup = service.client.post("/api/storage/cleanup").json()
    result = cleanup["cleanup_result"]
    assert cleanup["status"] == "success"
    assert set(result) == {"total_files", "deleted_files", "freed_space_mb", "preserved_files", "strategy"}
    assert result["total_files"] == 2
    assert result["deleted_files"] == 0
    assert result["preserved_files"] == 2
    assert isinstance(result["strategy"], list)
    assert result["strategy"]


def test_health(service: RunningService) -> None:
    body = service.client.get("/api/health").json()
    assert body["status"] == "healthy"
    assert "timestamp" in body
    assert body["services"]["database"] == "ok"
