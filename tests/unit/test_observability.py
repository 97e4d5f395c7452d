"""Log formatting, request IDs, the metrics recorder and the PromQL selector extraction the deploy tests rely on."""

from __future__ import annotations

import json
import logging
import sys
from types import SimpleNamespace

import pytest

from tests.support.prometheus import promql_selectors
from vidrag.api.metrics import UNMATCHED_ROUTE, route_template
from vidrag.domain.errors import StageFailed, TaskCancelled
from vidrag.observability.logs import REQUEST_ID, JsonFormatter, TextFormatter, log_context, valid_request_id
from vidrag.observability.metrics import Metrics, status_class


def _record(name: str = "vidrag.test", msg: str = "hello %s", args: tuple[object, ...] = ("world",),
            level: int = logging.INFO, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)  # type: ignore[arg-type]


def test_json_line_has_the_fields_and_the_ids_of_its_context() -> None:
    token = REQUEST_ID.set("req-1")
    try:
        with log_context(task_id="t-42", job="download"):
            line = JsonFormatter().format(_record())
        outside = json.loads(JsonFormatter().format(_record()))
    finally:
        REQUEST_ID.reset(token)
    entry = json.loads(line)
    assert entry["message"] == "hello world"
    assert (entry["level"], entry["logger"]) == ("info", "vidrag.test")
    assert (entry["request_id"], entry["task_id"], entry["job"]) == ("req-1", "t-42", "download")
    assert entry["timestamp"].endswith("+00:00")
    assert outside["request_id"] == "req-1"
    assert "task_id" not in outside  # the job's context ended with its block
    bare = json.loads(JsonFormatter().format(_record()))
    assert "request_id" not in bare


def test_json_line_stays_one_line_and_carries_the_traceback() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        exc_info = sys.exc_info()
    line = JsonFormatter().format(_record(msg="two\nlines, 中文 %s", level=logging.ERROR, exc_info=exc_info))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "two\nlines, 中文 world"
    assert entry["level"] == "error"
    assert entry["exception"].startswith("Traceback")
    assert "ValueError: bad" in entry["exception"]


def test_uvicorn_access_line_gets_http_fields() -> None:
    record = _record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5000", "GET", "/api/health", "1.1", 200))
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == '127.0.0.1:5000 - "GET /api/health HTTP/1.1" 200'
    assert (entry["client"], entry["method"], entry["path"], entry["status"]) == (
        "127.0.0.1:5000", "GET", "/api/health", 200)


def test_text_line_appends_the_ids() -> None:
    with log_context(task_id="t-1", job="ingest"):
        line = TextFormatter().format(_record())
    assert line.endswith("vidrag.test: hello world [task_id=t-1 job=ingest]")
    assert TextFormatter().format(_record()).endswith("vidrag.test: hello world")


@pytest.mark.parametrize(("value", "ok"), [
    ("abc-123", True), ("4bf92f3577b34da6a3ce929d0e0e4736", True), ("req.1:2/3+4=5@x_y", True),
    ("", False), (None, False), ("a b", False), ('x" level="error', False), ("x\nforged", False),
    ("é", False), ("a" * 128, True), ("a" * 129, False),
])
def test_request_ids_that_could_forge_log_lines_are_refused(value: str | None, ok: bool) -> None:
    assert valid_request_id(value) == (value if ok else None)


def test_stage_outcomes_and_transcription_speed_are_recorded() -> None:
    metrics = Metrics(process=False)
    with metrics.stage("embed"):
        pass
    with pytest.raises(StageFailed), metrics.stage("transcribe"):
        raise StageFailed("no speech", code="no_speech")
    with pytest.raises(TaskCancelled), metrics.stage("download"):
        raise TaskCancelled("stop")
    get = metrics.registry.get_sample_value
    assert get("vidrag_stage_duration_seconds_count", {"stage": "embed", "outcome": "ok"}) == 1
    assert get("vidrag_stage_duration_seconds_count", {"stage": "transcribe", "outcome": "failed"}) == 1
    assert get("vidrag_stage_duration_seconds_count", {"stage": "download", "outcome": "cancelled"}) == 1
    assert get("vidrag_stage_duration_seconds_count", {"stage": "embed", "outcome": "failed"}) is None
    metrics.transcribed(60.0, 4.0)
    metrics.transcribed(0.0, 1.0)  # no audio (captions, silence): not a speed
    assert get("vidrag_transcription_realtime_factor_count") == 1
    assert get("vidrag_transcription_realtime_factor_sum") == 15.0
    assert get("vidrag_transcribed_audio_seconds_total") == 60.0
    assert get("vidrag_jobs_finished_total", {"kind": "ingest", "outcome": "failed"}) == 0  # present before any job
    metrics.request_done("/api/status/{task_id}", "GET", 404, 0.01)
    assert get("vidrag_http_request_duration_seconds_count",
               {"route": "/api/status/{task_id}", "method": "GET", "status": "4xx"}) == 1


def test_status_classes_and_route_templates() -> None:
    assert [status_class(s) for s in (200, 204, 301, 404, 429, 503, 99, 600)] == [
        "2xx", "2xx", "3xx", "4xx", "4xx", "5xx", "other", "other"]
    route = SimpleNamespace(path="/api/status/{task_id}")
    assert route_template({"route": route, "path": "/api/status/abc"}, 200) == "/api/status/{task_id}"
    assert route_template({"path": "/wp-admin/x"}, 404) == UNMATCHED_ROUTE
    assert route_template({"path": "/console/assets/x.js"}, 200) == "other"


def test_promql_selectors_finds_metric_names_and_their_matcher_labels() -> None:
    expr = ('histogram_quantile(0.95, sum by (le, route) (rate(vidrag_http_request_duration_seconds_bucket'
            '{job="vidrag-api", route!~".*/events|x{y}"}[$__rate_interval]))) > 0.5')
    assert promql_selectors(expr) == {"vidrag_http_request_duration_seconds_bucket": {"job", "route"}}
    expr = ('vidrag_task_oldest_age_seconds{state="running"} > ignoring(state) (vidrag_job_time_limit_seconds + 600)'
            ' and on () sum(increase(vidrag_jobs_finished_total[30m])) == 0 or absent(up{job="w"}) unless 1e9')
    assert promql_selectors(expr) == {"vidrag_task_oldest_age_seconds": {"state"},
                                      "vidrag_job_time_limit_seconds": set(), "vidrag_jobs_finished_total": set(),
                                      "up": {"job"}}
    assert promql_selectors("max by (kind) (vidrag_queue_depth) / count without (instance) (x_total)") == {
        "vidrag_queue_depth": set(), "x_total": set()}


def test_an_unhandled_error_is_logged_answered_and_counted_with_the_request_id() -> None:
    import asyncio

    import httpx
    from fastapi import FastAPI

    from vidrag.api import errors
    from vidrag.api.metrics import RequestObserver

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))  # formatted now, inside the request's context

    app = FastAPI()
    metrics = Metrics(process=False)
    app.add_middleware(RequestObserver, metrics=metrics)
    errors.install(app)  # the service's handlers: the catch-all one runs in Starlette's outermost middleware
    log = logging.getLogger("vidrag.api.errors")

    @app.get("/boom/{item}")
    async def boom(item: str) -> None:
        raise RuntimeError(f"broken {item}")

    handler = Collect()
    log.addHandler(handler)
    try:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.get("/boom/1", headers={"X-Request-ID": "req-500"})

        response = asyncio.run(call())
    finally:
        log.removeHandler(handler)
    assert response.status_code == 500
    assert [json.loads(line)["request_id"] for line in lines] == ["req-500"]
    assert "broken 1" in lines[0]  # the traceback is in the log...
    assert response.headers["X-Request-ID"] == "req-500"  # ...and the answer says which lines to look for
    assert response.json()["code"] == "internal_error"
    assert "request ID req-500" in response.json()["message"]
    assert "broken" not in response.text
    assert metrics.registry.get_sample_value("vidrag_http_request_duration_seconds_count", {
        "route": "/boom/{item}", "method": "GET", "status": "5xx"}) == 1


def test_access_log_lines_do_not_carry_api_keys() -> None:
    """The console puts ?api_key= on media, thumbnails and event streams: the access log masks it."""
    import logging

    from vidrag.observability.logs import RedactAccessLog, redact

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/api/v1/files/a.mp4?api_key=s3cret&download=true", "1.1",
                                200), None)
    assert RedactAccessLog().filter(record)
    line = record.getMessage()
    assert "s3cret" not in line
    assert "/api/v1/files/a.mp4?api_key=***&download=true" in line
    assert redact("/x?token=abc&sig=def&keep=1") == "/x?token=***&sig=***&keep=1"
