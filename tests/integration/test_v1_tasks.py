"""Native /api/v1 tasks: formats, HLS, SSE progress, concurrency cap, cancel, retry, idempotency."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.media import MediaSet, audio_md5, ffprobe
from tests.support.service import RunningService

SLOW = "/slow/clip.mp4?bps=40000"  # the ~190 KB clip in ~5 s


def create(svc: RunningService, url: str, **body: Any) -> dict[str, Any]:
    r = svc.client.post("/api/v1/tasks", json={"url": url, **body})
    assert r.status_code in (200, 201), r.text
    task: dict[str, Any] = r.json()
    return task


def download_file(svc: RunningService, task: dict[str, Any], kind: str, dest: Path) -> Path:
    (entry,) = [f for f in task["files"] if f["kind"] == kind]
    r = svc.client.get(entry["url"])
    assert r.status_code == 200
    assert r.headers["content-type"] == entry["content_type"]
    dest.write_bytes(r.content)
    assert dest.stat().st_size == entry["size_bytes"]
    return dest


def test_hls_playlist_downloads_and_muxes(service: RunningService, media: MediaSet, media_url: str,
                                          tmp_path: Path) -> None:
    task = service.wait(create(service, f"{media_url}/hls/index.m3u8")["id"])
    assert task["status"] == "completed", task["error"]
    video = ffprobe(download_file(service, task, "video", tmp_path / "v.mp4"))
    assert video.codecs == {"video": "h264", "audio": "aac"}
    assert abs(video.duration - ffprobe(media.mp4).duration) < 0.5
    assert ffprobe(download_file(service, task, "audio", tmp_path / "a.mp3")).codecs == {"audio": "mp3"}


def test_m4a_is_a_stream_copy_of_the_source_aac(service: RunningService, media: MediaSet, media_url: str,
                                                tmp_path: Path) -> None:
    task = service.wait(create(service, f"{media_url}/clip.mp4", keep_video=False, audio_format="m4a")["id"])
    assert task["status"] == "completed", task["error"]
    audio = download_file(service, task, "audio", tmp_path / "a.m4a")
    assert ffprobe(audio).codecs == {"audio": "aac"}
    assert audio_md5(audio) == audio_md5(media.mp4)  # same packets: no re-encode


@pytest.mark.parametrize(("fmt", "codec", "rate", "channels"), [("opus", "opus", None, None),
                                                                ("wav", "pcm_s16le", "16000", 1)])
def test_other_audio_formats(service: RunningService, media_url: str, tmp_path: Path, fmt: str, codec: str,
                             rate: str | None, channels: int | None) -> None:
    task = service.wait(create(service, f"{media_url}/clip.mp4", keep_video=False, audio_format=fmt)["id"])
    assert task["status"] == "completed", task["error"]
    probe = ffprobe(download_file(service, task, "audio", tmp_path / f"a.{fmt}"))
    assert probe.codecs == {"audio": codec}
    if rate:
        assert probe.streams[0]["sample_rate"] == rate
        assert probe.streams[0]["channels"] == channels


def read_events(svc: RunningService, task_id: str, timeout: float = 60) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    with httpx.stream("GET", f"{svc.base_url}/api/v1/tasks/{task_id}/events", timeout=timeout) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        name = "message"
        for line in r.iter_lines():
            if line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line.split(":", 1)[1])))
    return events


def test_sse_streams_progress_to_100_and_ends(service: RunningService, media_url: str) -> None:
    task = create(service, f"{media_url}{SLOW}")
    events = read_events(service, task["id"])
    progress = [e for name, e in events if name == "progress"]
    assert events[0][0] == "status"
    assert len(progress) >= 3
    percents = [e["progress"] for e in progress]
    assert percents == sorted(percents), "progress never goes backwards"
    download = [e["detail"] for e in progress if e["stage"] == "download"]
    assert any(d["downloaded_bytes"] and d["total_bytes"] for d in download)
    assert any(d["speed"] for d in download)
    assert {e["stage"] for e in progress} >= {"download", "extract_audio"}
    name, last = events[-1]
    assert name == "status"
    assert last["status"] == "completed"
    assert last["progress"] == 100
    # the end, not the last download report (whose speed and ETA would read as if it were still going)
    assert last["detail"] == {"stage": "done", "percent": 100.0}
    assert service.client.get(f"/api/v1/tasks/{task['id']}").json()["progress_detail"] == last["detail"]
    # a finished task's stream answers once and closes
    assert [n for n, _ in read_events(service, task["id"], timeout=10)] == ["status"]


def test_concurrency_cap_is_respected(start_service: Callable[..., RunningService], media_url: str) -> None:
    svc = start_service(download_concurrency=2)
    ids = [create(svc, f"{media_url}{SLOW}&n={i}")["id"] for i in range(4)]
    peak_runner, peak_db, stop = 0, 0, threading.Event()

    def sample() -> None:
        nonlocal peak_runner, peak_db
        while not stop.is_set():
            stats = svc.client.get("/api/v1/tasks/stats").json()
            peak_runner = max(peak_runner, stats["running_in_runner"])
            peak_db = max(peak_db, stats["by_status"].get("running", 0))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        finished = [svc.wait(i, timeout=90) for i in ids]
    finally:
        stop.set()
        sampler.join()
    assert [t["status"] for t in finished] == ["completed"] * 4
    assert peak_runner == 2
    assert peak_db == 2


def test_cancel_then_retry(service: RunningService, media_url: str) -> None:
    task = create(service, f"{media_url}{SLOW}")
    service.wait(task["id"], until={"running"})
    time.sleep(0.5)
    r = service.client.post(f"/api/v1/tasks/{task['id']}/cancel")
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    time.sleep(0.5)
    stats = service.client.get("/api/v1/tasks/stats").json()
    assert stats["running_in_runner"] == 0
    again = service.client.post(f"/api/v1/tasks/{task['id']}/cancel")
    assert again.status_code == 409
    assert again.json()["code"] == "task_not_active"
    assert service.client.get(f"/api/v1/tasks/{task['id']}").json()["status"] == "cancelled"
    assert not (service.settings.tmp_dir / task["id"]).exists()
    r = service.client.post(f"/api/v1/tasks/{task['id']}/retry")
    assert r.status_code == 200
    assert r.json()["status"] == "queued"
    done = service.wait(task["id"])
    assert done["status"] == "completed"
    assert {f["kind"] for f in done["files"]} == {"video", "audio"}
    r = service.client.post(f"/api/v1/tasks/{task['id']}/retry")
    assert r.status_code == 409
    assert r.json()["code"] == "task_not_retryable"


def test_idempotency_key(service: RunningService, media_url: str) -> None:
    url = f"{media_url}/clip.mp4"
    headers = {"Idempotency-Key": "order-42"}
    first = service.client.post("/api/v1/tasks", json={"url": url}, headers=headers)
    assert first.status_code == 201
    service.wait(first.json()["id"])
    replay = service.client.post("/api/v1/tasks", json={"url": url}, headers=headers)
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    other = service.client.post("/api/v1/tasks", json={"url": url, "audio_format": "opus"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert service.client.get("/api/v1/tasks").json()["total"] == 1


def test_list_filters_and_pagination(service: RunningService, media_url: str) -> None:
    ok = [create(service, f"{media_url}/clip.mp4?n={i}")["id"] for i in range(3)]
    bad = create(service, f"{media_url}/missing.mp4")["id"]
    for task_id in [*ok, bad]:
        service.wait(task_id)
    page = service.client.get("/api/v1/tasks", params={"limit": 2}).json()
    assert page["total"] == 4
    assert len(page["items"]) == 2
    assert page["items"][0]["id"] == bad
    failed = service.client.get("/api/v1/tasks", params={"status": "failed"}).json()
    assert [t["id"] for t in failed["items"]] == [bad]
    assert service.client.get("/api/v1/tasks", params={"q": "missing"}).json()["total"] == 1
    assert service.client.get("/api/v1/tasks", params={"limit": 0}).status_code == 422
    assert service.client.get("/api/v1/tasks", params={"status": "bogus"}).json()["code"] == "invalid_request"
    assert service.client.get("/api/v1/tasks/stats").json()["by_status"] == {"completed": 3, "failed": 1}


def test_subtitles_offered_by_the_page_are_kept(service: RunningService, media_url: str) -> None:
    task = service.wait(create(service, f"{media_url}/watch.html")["id"])
    assert task["status"] == "completed", task["error"]
    subs = [f for f in task["files"] if f["kind"] == "subtitle"]
    assert len(subs) == 1
    assert subs[0]["details"] == {"language": "en", "automatic": False}
    assert subs[0]["content_type"] == "text/vtt"
    text = service.client.get(subs[0]["url"]).text
    assert text.startswith("WEBVTT")
    assert "lighthouse keeper" in text
    seed = service.client.get(f"/api/status/{task['id']}").json()
    assert set(seed["files"]) == {"video", "audio"}  # the seed's files keep their shape


def test_a_job_past_the_time_limit_fails_with_the_reason(start_service: Callable[..., RunningService],
                                                         media_url: str) -> None:
    svc = start_service(job_time_limit_seconds=5, task_lease_seconds=2)
    task = create(svc, f"{media_url}/slow/clip.mp4?bps=10000")  # ~20 s at this rate
    done = svc.wait(task["id"], timeout=60)
    assert done["status"] == "failed"
    assert done["error"]["code"] == "time_limit"
    assert "time limit" in done["error"]["message"]
    assert done["files"] == []


def test_options_read_from_a_task_can_be_sent_back(service: RunningService, media_url: str) -> None:
    first = service.wait(create(service, f"{media_url}/clip.mp4", format="best", audio_format="m4a")["id"])
    assert first["status"] == "completed", first["error"]
    assert first["options"]["video_format"] == "best"
    again = create(service, f"{media_url}/clip.mp4?again=1", **first["options"])  # video_format, not format
    assert again["options"] == first["options"]
    assert service.wait(again["id"])["status"] == "completed"
    r = service.client.post("/api/v1/tasks", json={"url": f"{media_url}/clip.mp4?n=3", "format": "best",
                                                   "video_format": "worst"})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"
    assert "send one of them" in r.json()["message"]
    schema = service.client.get("/openapi.json").json()["components"]["schemas"]["TaskCreate"]["properties"]
    assert {"format", "video_format"} <= set(schema)
