"""Bad inputs: each a clear 4xx with a stable code, or a task failed with a readable reason; never a 500."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.media import MediaSet
from tests.support.service import RunningService


def assert_healthy(svc: RunningService) -> None:
    assert svc.client.get("/api/health").json()["status"] == "healthy"


@pytest.mark.parametrize(("url", "code"), [
    ("not a url", "unsupported_scheme"),
    ("", "invalid_url"),
    ("ftp://127.0.0.1/video.mp4", "unsupported_scheme"),
    ("file:///etc/passwd", "unsupported_scheme"),
    ("http://", "invalid_url"),
    ("http://host.invalid/video.mp4", "unresolvable_host"),
    ("http://127.0.0.1:99999/x", "invalid_url"),
])
def test_rejected_urls(service: RunningService, url: str, code: str) -> None:
    for path in ("/api/process", "/api/v1/tasks"):
        r = service.client.post(path, json={"url": url})
        assert r.status_code == 422, r.text
        assert r.json()["code"] == code
        assert r.json()["message"]
    assert service.client.get("/api/tasks").json()["total_tasks"] == 0
    assert_healthy(service)


@pytest.mark.parametrize("body", ["not json", '{"url": 5}', "{}", '{"url": "http://x", "keep_video": "maybe"}'])
def test_malformed_bodies(service: RunningService, body: str) -> None:
    r = service.client.post("/api/process", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"


def test_unknown_task_fields_are_refused_by_name(service: RunningService, media_url: str) -> None:
    """A misspelt or nested option must not silently fall back to a default (the native API is strict)."""
    r = service.client.post("/api/v1/tasks", json={"url": f"{media_url}/clip.mp4", "options": {"keep_video": False}})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"
    assert "options" in r.json()["message"]
    assert service.client.get("/api/v1/tasks").json()["total"] == 0


@pytest.mark.parametrize(("path", "code", "words"), [
    ("/missing.mp4", "not_found_upstream", "404"),
    ("/page.html", "unsupported_url", "no video or audio"),
    ("/fake.mp4", "invalid_media", "not readable media"),
])
def test_failing_sources_end_failed_with_a_reason(service: RunningService, media_url: str, path: str,
                                                  code: str | None, words: str) -> None:
    task = service.wait(service.client.post("/api/v1/tasks", json={"url": media_url + path}).json()["id"])
    assert task["status"] == "failed"
    assert task["error"]["message"]
    assert words in task["error"]["message"]
    if code:
        assert task["error"]["code"] == code
    assert task["error"]["code"] != "internal_error"
    seed = service.client.get(f"/api/status/{task['id']}").json()
    assert seed["status"] == "error"
    assert seed["error"] == task["error"]["message"]
    assert seed["files"] == {}
    assert_healthy(service)


def test_media_without_audio_fails_clearly_when_audio_is_asked(service: RunningService, media_url: str) -> None:
    task = service.wait(service.client.post("/api/v1/tasks", json={"url": f"{media_url}/silent.mp4"}).json()["id"])
    assert task["status"] == "failed"
    assert task["error"]["code"] == "no_audio"


def test_ssrf_targets_are_refused(start_service: Callable[..., RunningService], media_url: str) -> None:
    svc = start_service(allow_private_networks=False)
    for url in (f"{media_url}/clip.mp4", "http://169.254.169.254/latest/meta-data/", "http://[::1]/x",
                "http://10.0.0.1/x", "http://localhost/x", "http://0.0.0.0/x"):
        r = svc.client.post("/api/process", json={"url": url})
        assert r.status_code == 422, url
        assert r.json()["code"] == "url_blocked", url
        assert "VIDRAG_ALLOW_PRIVATE_NETWORKS" in r.json()["message"]
    assert svc.client.get("/api/tasks").json()["total_tasks"] == 0
    assert_healthy(svc)


def test_insufficient_disk_refuses_new_work_and_keeps_old(start_service: Callable[..., RunningService],
                                                           media_url: str) -> None:
    svc = start_service()
    done = svc.wait(svc.client.post("/api/v1/tasks", json={"url": f"{media_url}/clip.mp4"}).json()["id"])
    svc.settings.min_free_disk_mb = 10**12  # the same settings object the service reads
    r = svc.client.post("/api/process", json={"url": f"{media_url}/clip.mp4?again=1"})
    assert r.status_code == 507
    assert r.json()["code"] == "insufficient_storage"
    assert "cleanup" in r.json()["message"]
    kept = svc.client.get(f"/api/v1/tasks/{done['id']}").json()
    assert kept["status"] == "completed"
    assert len(kept["files"]) == 2
    assert all(svc.client.get(f["url"]).status_code == 200 for f in kept["files"])


def upload(svc: RunningService, path: Path, name: str, **form: str) -> tuple[int, dict[str, object]]:
    with path.open("rb") as fh:
        r = svc.client.post("/api/v1/uploads", files={"file": (name, fh, "application/octet-stream")}, data=form)
    return r.status_code, r.json()


def test_upload_is_processed_like_a_download(service: RunningService, media: MediaSet) -> None:
    status, body = upload(service, media.mp4, "My Talk.mp4", audio_format="wav")
    assert status == 201, body
    task = service.wait(str(body["id"]))
    assert task["status"] == "completed", task["error"]
    assert task["source"] == "upload"
    assert task["video_info"]["title"] == "My_Talk"
    assert abs(task["video_info"]["duration"] - 10.0) < 0.5
    assert {f["kind"]: f["content_type"] for f in task["files"]} == {"video": "video/mp4", "audio": "audio/wav"}


def test_upload_type_is_checked_by_content_not_name(service: RunningService, media: MediaSet, tmp_path: Path) -> None:
    status, body = upload(service, media.root / "fake.mp4", "video.mp4")
    assert status == 415
    assert body["code"] == "unsupported_media_type"
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert upload(service, empty, "empty.mp4")[0] == 415
    # real media under a misleading name is fine
    assert upload(service, media.mp4, "notes.txt")[0] == 201
    assert_healthy(service)


def test_oversized_upload_is_refused(start_service: Callable[..., RunningService], media: MediaSet,
                                     tmp_path: Path) -> None:
    svc = start_service(max_upload_mb=1)
    big = tmp_path / "big.mp4"
    big.write_bytes(media.mp4.read_bytes() * 10)  # ~2 MB, valid MP4 header
    status, body = upload(svc, big, "big.mp4")
    assert status == 413
    assert body["code"] == "payload_too_large"
    assert svc.client.get("/api/v1/tasks").json()["total"] == 0
    assert not any(svc.settings.tmp_dir.iterdir())
    assert_healthy(svc)


def test_unknown_routes_and_methods_have_codes(service: RunningService) -> None:
    r = service.client.get("/api/nope")
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    r = service.client.put("/api/process")
    assert r.status_code == 405
    assert r.json()["code"] == "method_not_allowed"


def test_oversized_upload_is_refused_before_it_is_read(start_service: Callable[..., RunningService]) -> None:
    svc = start_service(max_upload_mb=1)

    def body() -> Iterator[bytes]:  # chunked: no Content-Length to check up front
        yield (b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
               b"Content-Type: video/mp4\r\n\r\n")
        for _ in range(64):
            yield b"\0" * 65536

    r = svc.client.post("/api/v1/uploads", content=body(),
                        headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"
    # a declared 50 MB body is refused before a byte of it is sent
    host, port = svc.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                     b"Content-Length: 52428800\r\n\r\n")
        assert conn.recv(4096).startswith(b"HTTP/1.1 413")
    assert_healthy(svc)


def test_bad_file_names_are_refused_alike(service: RunningService) -> None:
    """The seed contract: 400 `invalid_file_name` for `..`, `/`, `\\` (encoded or not) and NUL, with one message;
    the native API refuses the same names with its 422."""
    messages = set()
    for name in ("..%2F..%2Fetc%2Fpasswd", "a%2Fb.mp4", "a/b.mp4", "a%5Cb.mp4", "a%00b.mp4", "..vidrag.db"):
        r = service.client.get(f"/api/download/{name}")
        assert r.status_code == 400, (name, r.text)
        assert r.json()["code"] == "invalid_file_name"
        messages.add(r.json()["message"])
        r = service.client.get(f"/api/v1/files/{name}")
        assert r.status_code == 422, (name, r.text)
        assert r.json()["code"] == "invalid_file_name"
        messages.add(r.json()["message"])
    assert len(messages) == 1, messages
    assert "exactly as" in messages.pop()
    for path in ("/api/download/missing.mp4", "/api/v1/files/missing.mp4", "/api/v1/files/missing.mp4/thumbnail"):
        r = service.client.get(path)
        assert r.status_code == 404, path
        assert r.json()["code"] == "file_not_found"
    assert_healthy(service)


@pytest.mark.parametrize("url", ["notaurl", "http://127.0.0.1:9/a\u0000b"])
def test_urls_that_are_not_web_addresses_or_hold_a_nul_are_refused(service: RunningService, url: str) -> None:
    r = service.client.post("/api/v1/tasks", json={"url": url})
    assert 400 <= r.status_code < 500, r.text
    body = r.json()
    assert body["code"] in {"unsupported_scheme", "invalid_url", "invalid_value"}, body
    if url == "notaurl":
        assert "must start with http:// or https://" in body["message"]
    assert service.client.get("/api/v1/tasks").json()["total"] == 0  # nothing stored
