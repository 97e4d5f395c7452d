"""The shipped Nginx config (deploy/nginx) on a real Debian nginx, with a self-signed certificate, in front of vidrag.

One nginx and one vidrag (embedded) for the module; the burst test runs last because the submit limit's bucket is
shared by every request from 127.0.0.1.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import ssl
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import make_settings
from tests.support.media import MediaSet
from tests.support.nginx import NGINX, TEMPLATE, Nginx, template_names
from tests.support.service import REPO, RunningService, start_in_thread

pytestmark = pytest.mark.skipif(not NGINX.exists(), reason="needs Debian's nginx (apt-get install -y nginx; "
                                                           "./scripts/test installs it)")
NGINX_UPLOAD_MB = 2  # nginx's limit in this module; the service keeps its default (2048), so a 413 is nginx's


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    svc = start_in_thread(make_settings(tmp_path_factory.mktemp("behind-nginx")))
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def proxy(upstream: RunningService) -> Iterator[Nginx]:
    nginx = Nginx(upstream.base_url.removeprefix("http://"), max_upload_mb=NGINX_UPLOAD_MB)
    checked = nginx.check()
    assert checked.returncode == 0, checked.stderr
    nginx.start()
    yield nginx
    nginx.stop()


@pytest.fixture
def https(proxy: Nginx) -> Iterator[httpx.Client]:
    tls = ssl.create_default_context(cafile=str(proxy.cert))  # verified: the certificate nginx serves is ours
    with httpx.Client(base_url=proxy.https_url, verify=tls, timeout=15,
                      limits=httpx.Limits(max_connections=8)) as client:
        yield client


def test_nginx_t_accepts_the_rendered_config(proxy: Nginx) -> None:
    result = proxy.check()
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    assert "test is successful" in result.stderr


def test_access_log_is_json_without_query_strings(https: httpx.Client, proxy: Nginx) -> None:
    """The console passes ?api_key= where the browser fetches by itself: no key may reach the access log."""
    r = https.get("/api/v1/tasks", params={"api_key": "s3cret-key-0123", "limit": 5},
                  headers={"X-Request-ID": "access-log-check"})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 10
    while not (entries := [e for e in proxy.access_log() if e["request_id"] == "access-log-check"]):
        assert time.monotonic() < deadline, proxy.access_log_path.read_text()[-2000:]
        time.sleep(0.05)
    (entry,) = entries
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/v1/tasks"
    assert entry["status"] == 200
    assert float(entry["request_time"]) >= 0
    assert "s3cret-key-0123" not in proxy.access_log_path.read_text()


def test_every_template_variable_is_documented_in_its_header() -> None:
    text = TEMPLATE.read_text()
    header = text.split("upstream vidrag_api")[0]
    for name in template_names(text):
        assert f"#   {name} " in header, f"{name} is used by the template but not described at its top"


def test_workers_drop_root(proxy: Nginx) -> None:
    """As root the master keeps root (ports, keys) and its workers run as nobody; else all run as the user."""
    uids = proxy.worker_uids()
    expected = 65534 if os.geteuid() == 0 else os.getuid()
    assert uids == {expected}


def burst(proxy: Nginx, requests: list[tuple[str, str]]) -> list[tuple[int, bytes]]:
    """Open one TLS connection per request first, then send them all within a few ms: nginx judges rates on
    arrival, so the result does not depend on how fast the API (or this machine, under load) answers."""
    tls = ssl.create_default_context(cafile=str(proxy.cert))
    conns = [tls.wrap_socket(socket.create_connection(("127.0.0.1", proxy.https_port), timeout=30),
                             server_hostname="127.0.0.1") for _ in requests]
    try:
        for conn, (method, path) in zip(conns, requests, strict=True):
            body = "{}" if method == "POST" else ""
            conn.sendall((f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                          f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode())
        answers = []
        for conn in conns:
            raw = b""
            while chunk := conn.recv(65536):  # Connection: close, so the answer ends at EOF
                raw += chunk
            answers.append((int(raw.split(b" ", 2)[1]), raw))
        return answers
    finally:
        for conn in conns:
            conn.close()


def test_health_passes_while_the_api_zone_is_exhausted(proxy: Nginx) -> None:
    """120 API requests and 20 health probes at once: the API zone (20 r/s, burst 40) refuses some; never health."""
    requests = [("GET", "/api/v1/tasks/stats")] * 120 + [("GET", "/api/health")] * 20
    statuses = [status for status, _ in burst(proxy, requests)]
    limited, health = statuses[:120], statuses[120:]
    assert limited.count(429) >= 40, limited  # the zone was exhausted while the probes arrived...
    assert set(limited) == {200, 429}
    assert health == [200] * 20  # ...and every probe went through
    time.sleep(2.5)  # let the zone refill for the next tests


def test_http_redirects_to_https_keeping_path_and_query(proxy: Nginx) -> None:
    r = httpx.get(f"{proxy.http_url}/api/v1/tasks?limit=3", follow_redirects=False)
    assert r.status_code in {301, 308}
    assert r.headers["location"] == f"{proxy.https_url}/api/v1/tasks?limit=3"
    tls = ssl.create_default_context(cafile=str(proxy.cert))
    followed = httpx.get(f"{proxy.http_url}/api/v1/tasks?limit=3", follow_redirects=True, verify=tls)
    assert followed.status_code == 200
    assert followed.json()["limit"] == 3
    assert httpx.get(f"{proxy.http_url}/nginx-health").text == "ok\n"


def test_json_is_gzipped_by_nginx(https: httpx.Client, upstream: RunningService) -> None:
    direct = upstream.client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in direct.headers  # the API does not compress: the gzip below is nginx's
    with https.stream("GET", "/openapi.json", headers={"Accept-Encoding": "gzip"}) as r:
        raw = b"".join(r.iter_raw())
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in r.headers["vary"]
    assert json.loads(gzip.decompress(raw))["info"]["title"] == "vidrag"
    assert len(raw) < len(direct.content) / 3


def test_metrics_are_not_served_to_the_public(https: httpx.Client) -> None:
    assert https.get("/metrics").status_code == 404


def test_hashed_console_assets_are_cached_for_a_year(https: httpx.Client) -> None:
    assets = sorted((REPO / "src" / "vidrag" / "console" / "assets").glob("*.js"))
    if not assets:
        pytest.skip("the web console is not built (cd web && npm ci && npm run build)")
    r = https.get(f"/assets/{assets[0].name}", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert "max-age=31536000" in r.headers["cache-control"]
    if assets[0].stat().st_size > 1024:
        assert r.headers["content-encoding"] == "gzip"


def test_sse_events_arrive_unbuffered(https: httpx.Client, upstream: RunningService, media: MediaSet,
                                      media_url: str) -> None:
    """The first event of a running download's stream is read while the download still runs (and gzip is off)."""
    task = upstream.client.post("/api/v1/tasks", json={"url": f"{media_url}/slow/{media.mp4.name}?bps=20000"}).json()
    try:
        started = time.monotonic()
        with https.stream("GET", f"/api/v1/tasks/{task['id']}/events", headers={"Accept-Encoding": "gzip"},
                          timeout=httpx.Timeout(15, read=8)) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            assert "content-encoding" not in r.headers
            lines = r.iter_lines()
            first = next(line for line in lines if line.startswith("event:"))
            first_at = time.monotonic() - started
            status = upstream.client.get(f"/api/v1/tasks/{task['id']}").json()["status"]
            assert status in {"pending", "queued", "running", "downloading"}, status  # the stream is still open
            assert first == "event: status"
            assert first_at < 5
            upstream.client.post(f"/api/v1/tasks/{task['id']}/cancel")
            rest = [line for line in lines if line.startswith("data:")]
        assert json.loads(rest[-1].split(":", 1)[1])["status"] == "cancelled"
    finally:
        upstream.client.post(f"/api/v1/tasks/{task['id']}/cancel")


def test_oversized_upload_gets_413_from_nginx(https: httpx.Client, media: MediaSet) -> None:
    big = os.urandom((NGINX_UPLOAD_MB + 1) * 2**20)
    r = https.post("/api/v1/uploads", files={"file": ("big.mp4", big, "video/mp4")})
    assert r.status_code == 413
    body = r.json()
    assert body["code"] == "payload_too_large"
    assert f"larger than {NGINX_UPLOAD_MB} MB" in body["message"]  # nginx's message: the API's limit is 2048 MB
    small = https.post("/api/v1/uploads", files={"file": ("clip.mp4", media.mp4.read_bytes(), "video/mp4")})
    assert small.status_code == 201, small.text  # under the limit, through nginx to the API


def test_burst_beyond_submit_limit_gets_429_but_reads_go_on(https: httpx.Client, proxy: Nginx) -> None:
    """Last: drains the submit bucket (1 r/s, burst 10): of 30 POSTs at once, 11 pass; GETs have their own zone."""
    time.sleep(2)  # refill after the uploads above
    answers = burst(proxy, [("POST", "/api/v1/tasks")] * 30)
    statuses = [status for status, _ in answers]
    passed = [s for s in statuses if s != 429]
    assert set(passed) == {422}, statuses  # reached the API, which refused the empty body
    assert 11 <= len(passed) <= 12, statuses
    head, body = next(raw for status, raw in answers if status == 429).split(b"\r\n\r\n", 1)
    assert json.loads(body)["code"] == "rate_limited"
    assert b"Retry-After: 1" in head.split(b"\r\n")
    assert https.get("/api/v1/tasks").status_code == 200  # reads have their own, larger zone
    assert https.get("/api/health").status_code == 200
