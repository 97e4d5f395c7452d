"""Observability for real: /metrics of a running service after real work, its request IDs and JSON logs, the
worker's metrics port, and the shipped Prometheus rules and Grafana dashboard checked against what is exposed.

One module-scoped service per backend ingests the talk by URL (a real download through the 127.0.0.1 HTTP
server, FFmpeg, Whisper, embedding, indexing), so every stage histogram has samples; the tests then read its
/metrics with prometheus_client's own parser, and a real Prometheus (Debian's binary) scrapes it and runs every
dashboard query and every alert rule.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.conftest import ModuleBackends, make_settings
from tests.support.knowledge import Talk, create_dataset, wait_indexed
from tests.support.media import MediaSet
from tests.support.prometheus import (
    PROMETHEUS_DIR,
    SYNTHETIC,
    TARGET_LABELS,
    Query,
    alert_queries,
    alert_rules,
    dashboard_queries,
    need,
    promql_selectors,
    running_prometheus,
)
from tests.support.service import RunningService, free_port, poll_until, start_in_thread, stop_group, wait_for_task
from vidrag.api.metrics import memory_limit_bytes

STAGES = ("download", "extract_audio", "transcribe", "chunk", "embed", "index")
VIDRAG = Path(sys.executable).parent / "vidrag"


def scrape(url: str, **kwargs: Any) -> dict[str, list[Sample]]:
    """Sample name -> samples, parsed by the official client's parser (which rejects malformed text)."""
    response = httpx.get(url, timeout=10, **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    """The one sample of ``name`` whose labels include ``labels``."""
    matching = [s for s in samples.get(name, []) if labels.items() <= s.labels.items()]
    assert len(matching) == 1, (name, labels, samples.get(name))
    return float(matching[0].value)


@dataclass
class Observed:
    backend: str
    svc: RunningService
    worker_metrics: str | None  # scaled out: the worker's own /metrics (stages run there)
    task_id: str
    talk: Talk

    @property
    def stage_metrics_url(self) -> str:
        return self.worker_metrics or f"{self.svc.base_url}/metrics"

    def exposed(self) -> dict[str, set[str]]:
        """Every sample name a Prometheus scraping this deployment gets, with the label names it carries."""
        names: dict[str, set[str]] = {}
        for url in filter(None, [f"{self.svc.base_url}/metrics", self.worker_metrics]):
            for name, samples in scrape(url).items():
                for sample in samples:
                    names.setdefault(name, set()).update(sample.labels)
        return names


@pytest.fixture(scope="module")
def observed(module_backends: ModuleBackends, talk: Talk, talk_url: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    backend = module_backends.new()
    worker_port = free_port() if backend.name == "scaled" else 0
    svc = start_in_thread(make_settings(tmp_path_factory.mktemp("observed"), **backend.settings(),
                                        host="127.0.0.1", metrics_port=worker_port))
    try:
        dataset = create_dataset(svc.client, "talks")
        r = svc.client.post(f"/api/v1/datasets/{dataset}/document/create-by-url", json={"url": talk_url})
        assert r.status_code == 201, r.text
        doc = wait_indexed(svc.client, dataset, r.json()["document"]["id"])
        assert doc["indexing_status"] == "completed", doc
        tasks = svc.client.get("/api/tasks").json()["tasks"]
        assert len(tasks) == 1, tasks
        yield Observed(backend.name, svc, f"http://127.0.0.1:{worker_port}/metrics" if worker_port else None,
                       next(iter(tasks)), talk)
    finally:
        svc.stop()


def test_requests_are_counted_under_their_route_template(observed: Observed) -> None:
    client = observed.svc.client
    before = scrape(f"{observed.svc.base_url}/metrics")
    route = {"route": "/api/status/{task_id}", "method": "GET", "status": "2xx"}
    count_before = (value(before, "vidrag_http_request_duration_seconds_count", **route)
                    if any(route.items() <= s.labels.items()
                           for s in before.get("vidrag_http_request_duration_seconds_count", [])) else 0.0)
    for _ in range(3):
        assert client.get(f"/api/status/{observed.task_id}").status_code == 200
    assert client.get("/api/status/no-such-task").status_code == 404
    assert client.get("/no/such/path/anywhere").status_code == 404

    after = scrape(f"{observed.svc.base_url}/metrics")
    assert value(after, "vidrag_http_request_duration_seconds_count", **route) == count_before + 3
    assert value(after, "vidrag_http_request_duration_seconds_count", route="/api/status/{task_id}",
                 status="4xx") >= 1
    # an unknown path is one label value, whatever the path: clients cannot mint series
    assert value(after, "vidrag_http_request_duration_seconds_count", route="unmatched", status="4xx") >= 1
    routes = {s.labels["route"] for s in after["vidrag_http_request_duration_seconds_count"]}
    assert not any(observed.task_id in r or "no-such" in r for r in routes), routes
    # buckets are cumulative and end at the count
    buckets = [s for s in after["vidrag_http_request_duration_seconds_bucket"] if route.items() <= s.labels.items()]
    values = [s.value for s in sorted(buckets, key=lambda s: float(s.labels["le"]))]
    assert values == sorted(values)
    assert values[-1] == value(after, "vidrag_http_request_duration_seconds_count", **route)
    assert value(after, "vidrag_http_request_duration_seconds_sum", **route) > 0


def test_state_queue_and_resource_gauges(observed: Observed) -> None:
    samples = scrape(f"{observed.svc.base_url}/metrics")
    assert value(samples, "vidrag_tasks", state="completed") == 1
    assert value(samples, "vidrag_tasks", state="running") == 0
    assert value(samples, "vidrag_documents", state="completed") == 1
    assert value(samples, "vidrag_task_oldest_age_seconds", state="running") == 0
    assert value(samples, "vidrag_database_up") == 1
    for kind in ("download", "ingest"):
        assert value(samples, "vidrag_queue_depth", kind=kind) == 0
        assert value(samples, "vidrag_jobs_running", kind=kind) == 0
        assert value(samples, "vidrag_job_concurrency", kind=kind) >= 1  # scaled out: the live worker's slots
    if observed.backend == "scaled":
        assert value(samples, "vidrag_workers_alive") == 1
    free, total = value(samples, "vidrag_disk_free_bytes"), value(samples, "vidrag_disk_total_bytes")
    assert 0 < free <= total
    in_use, size, limit = (value(samples, f"vidrag_db_pool_{n}") for n in ("in_use", "size", "limit"))
    assert 0 <= in_use <= limit
    assert size >= 1
    if observed.backend == "scaled":  # PostgreSQL: the configured pool
        assert (size, limit) == (10, 20)
    rss = value(samples, "process_resident_memory_bytes")
    assert 10 * 2**20 < rss < value(samples, "vidrag_memory_limit_bytes")
    assert value(samples, "process_cpu_seconds_total") > 0
    assert "python_gc_collections_total" in samples


def test_every_stage_and_the_transcription_speed_are_recorded(observed: Observed) -> None:
    samples = scrape(observed.stage_metrics_url)
    for stage in STAGES:
        runs = value(samples, "vidrag_stage_duration_seconds_count", stage=stage, outcome="ok")
        seconds = value(samples, "vidrag_stage_duration_seconds_sum", stage=stage, outcome="ok")
        assert runs >= 1, stage
        assert 0 < seconds < 120, (stage, seconds)
    assert value(samples, "vidrag_jobs_finished_total", kind="download", outcome="completed") == 1
    assert value(samples, "vidrag_jobs_finished_total", kind="ingest", outcome="completed") == 1
    assert value(samples, "vidrag_jobs_finished_total", kind="download", outcome="failed") == 0
    audio = value(samples, "vidrag_transcribed_audio_seconds_total")
    wall = value(samples, "vidrag_transcription_wall_seconds_total")
    assert abs(audio - observed.talk.duration) < 2.0, (audio, observed.talk.duration)
    assert 0 < wall < audio  # tiny.en is faster than real time even on 2 busy cores
    assert value(samples, "vidrag_transcription_realtime_factor_count") == 1
    assert value(samples, "vidrag_transcription_realtime_factor_sum") == pytest.approx(audio / wall, rel=0.01)
    # the whole transcribe stage includes loading the audio: at least as long as the Whisper run
    assert value(samples, "vidrag_stage_duration_seconds_sum", stage="transcribe", outcome="ok") >= wall
    if observed.worker_metrics:
        assert value(samples, "vidrag_worker_jobs_running") == 0
        assert value(samples, "vidrag_worker_concurrency") >= 1


def _check_against_exposed(queries: list[Query], exposed: dict[str, set[str]], optional: set[str]) -> None:
    problems = []
    for query in queries:
        selectors = promql_selectors(query.expr)
        assert selectors, query
        for name, labels in selectors.items():
            if name in SYNTHETIC or name in optional:
                continue
            if name not in exposed:
                problems.append(f"{query.where}: {name} is not exposed")
            elif missing := labels - exposed[name] - TARGET_LABELS:
                problems.append(f"{query.where}: {name} has no label {sorted(missing)}")
    assert not problems, "\n".join(problems)


def test_dashboard_and_alerts_name_only_what_metrics_expose(observed: Observed) -> None:
    exposed = observed.exposed()
    # series that only a scaled-out deployment has; the scaled run checks them
    optional = {"vidrag_workers_alive", "vidrag_worker_jobs_running", "vidrag_worker_concurrency"} \
        if observed.backend == "embedded" else set()
    queries = dashboard_queries()
    assert len(queries) >= 20
    _check_against_exposed(queries, exposed, optional)
    _check_against_exposed(alert_queries(), exposed, optional)


def test_the_checker_catches_drift() -> None:
    """A misspelt metric or label in a query is reported (so the test above can fail)."""
    exposed = {"vidrag_tasks": {"state"}}
    with pytest.raises(AssertionError, match="vidrag_task_total is not exposed"):
        _check_against_exposed([Query("x", "sum(vidrag_task_total)")], exposed, set())
    with pytest.raises(AssertionError, match=r"has no label \['status'\]"):
        _check_against_exposed([Query("x", 'max by (state) (vidrag_tasks{status="done"})')], exposed, set())
    _check_against_exposed([Query("x", 'max by (state) (vidrag_tasks{state="completed", job="api"})')], exposed,
                           set())


def test_a_real_prometheus_runs_every_dashboard_query_and_alert(observed: Observed, tmp_path: Path) -> None:
    targets = {"vidrag-api": [observed.svc.base_url.removeprefix("http://")]}
    if observed.worker_metrics:
        targets["vidrag-worker"] = [observed.worker_metrics.removeprefix("http://").removesuffix("/metrics")]
    with running_prometheus(targets, tmp_path / "prometheus") as prometheus:
        prometheus.wait_for_samples(set(targets))
        for _ in range(3):  # some traffic between scrapes, so request rates are not zero
            observed.svc.client.get(f"/api/status/{observed.task_id}")
            observed.svc.client.get("/api/status/nope")
            time.sleep(0.25)
        prometheus.wait_for_samples(set(targets), samples=5)
        empty = []
        for query in dashboard_queries():
            result = prometheus.query(query.expr)  # fails on a PromQL error
            may_be_empty = 'status="5xx"' in query.expr or (
                observed.backend == "embedded" and any(w in query.expr for w in ("vidrag-worker", "vidrag_worker")))
            if not result and not may_be_empty:
                empty.append(query)
        assert not empty, "dashboard queries with no data:\n" + "\n".join(f"{q.where}: {q.expr}" for q in empty)
        # the panels show what happened: the completed task and the p95 of the status route
        states = {r["metric"]["state"]: float(r["value"][1])
                  for r in prometheus.query('max by (state) (vidrag_tasks{job="vidrag-api"})')}
        assert states["completed"] == 1
        # every rule is loaded and evaluates against real series without an error (bad vector matching, say)
        deadline = time.monotonic() + 10
        while True:
            rules = prometheus.rules()
            if all(r.get("lastEvaluation", "").startswith("2") and r["health"] != "unknown" for r in rules):
                break
            assert time.monotonic() < deadline, rules
            time.sleep(0.2)
        assert {r["name"] for r in rules} == {r["alert"] for r in alert_rules()}
        bad = [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"]
        assert not bad, bad


def test_promtool_checks_the_shipped_config_and_rules() -> None:
    promtool = need("promtool")
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"],
                 ["test", "rules", "alerts.test.yml"]):
        result = subprocess.run([promtool, *args], cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "SUCCESS" in result.stdout + result.stderr


def test_every_alert_has_a_unit_test_that_fires_it() -> None:
    import yaml

    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts.test.yml").read_text())["tests"]
    fired = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    quiet = {case["alertname"] for test in tests for case in test["alert_rule_test"] if not case["exp_alerts"]}
    names = {rule["alert"] for rule in alert_rules()}
    assert fired == names
    assert quiet  # and some cases where they must not fire


def test_metrics_need_the_api_key_only_when_configured(tmp_path: Path) -> None:
    key = "k" * 40
    open_svc = start_in_thread(make_settings(tmp_path / "open", api_keys=key))
    closed = start_in_thread(make_settings(tmp_path / "closed", api_keys=key, metrics_require_api_key=True))
    try:
        assert open_svc.client.get("/api/tasks").status_code == 401  # the API is guarded...
        assert open_svc.client.get("/metrics").status_code == 200  # ...the scrape path is not, by default
        r = closed.client.get("/metrics")
        assert r.status_code == 401
        assert r.json()["code"] == "api_key_missing"
        assert closed.client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    finally:
        open_svc.stop()
        closed.stop()


def test_json_logs_carry_request_and_task_ids(tmp_path: Path, media: MediaSet, media_url: str) -> None:
    """`vidrag serve` (what the systemd unit and the containers run) with VIDRAG_LOG_FORMAT=json: every log line
    of the process is one JSON object, uvicorn's access lines included, with the request's ID (the client's
    X-Request-ID, else a generated one, echoed back) and, inside a job, the task's ID."""
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "VIDRAG_DATA_DIR": str(tmp_path / "data"),
           "VIDRAG_LOG_FORMAT": "json", "VIDRAG_ALLOW_PRIVATE_NETWORKS": "true", "VIDRAG_ENV": "development",
           "VIDRAG_CLEANUP_INTERVAL_MINUTES": "0", "VIDRAG_MIN_FREE_DISK_MB": "0"}
    out, err = tmp_path / "serve.out", tmp_path / "serve.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([str(VIDRAG), "serve"], env=env, stdout=stdout, stderr=stderr,
                                start_new_session=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/api/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, err.read_text()[-3000:]
                assert time.monotonic() < deadline, err.read_text()[-3000:]
                time.sleep(0.1)
            r = client.post("/api/v1/tasks", json={"url": f"{media_url}/{media.mp4.name}"},
                            headers={"X-Request-ID": "submit-0001"})
            assert r.status_code == 201, r.text
            assert r.headers["x-request-id"] == "submit-0001"
            task_id = r.json()["id"]
            forged = client.get("/api/health", headers={"X-Request-ID": 'x" level="error'})
            generated = forged.headers["x-request-id"]
            assert len(generated) == 32
            assert '"' not in generated  # a header that could forge log fields is replaced
            assert wait_for_task(client, task_id, 60)["status"] == "completed"
    finally:
        stop_group(proc)
    # the CLI's start-up checks go to stdout; the log, stderr, is JSON from the first line to the last
    lines = err.read_text().splitlines()
    assert lines
    not_json = [line for line in lines if not line.startswith("{")]
    assert not not_json, not_json[:5]
    entries = [json.loads(line) for line in lines]
    for entry in entries:
        assert {"timestamp", "level", "logger", "message"} <= entry.keys(), entry
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    submit = next(e for e in access if e.get("request_id") == "submit-0001")
    assert (submit["method"], submit["path"], submit["status"]) == ("POST", "/api/v1/tasks", 201)
    assert any(e.get("request_id") == generated and e.get("path") == "/api/health" for e in access)
    job_lines = [e for e in entries if e.get("task_id") == task_id]
    assert {e["message"] for e in job_lines} >= {"download completed"}, job_lines
    assert all(e["job"] == "download" and "request_id" not in e for e in job_lines)
    assert any(e["logger"] == "uvicorn.error" and "Uvicorn running" in e["message"] for e in entries)


def test_worker_process_serves_metrics_and_logs_json(tmp_path: Path, pg_database: str, redis_url: str) -> None:
    """`vidrag worker` with VIDRAG_METRICS_PORT: prometheus_client's server on HOST:port, and JSON logs
    (Celery's own lines included)."""
    port = free_port()
    env = {**os.environ, "VIDRAG_DATABASE_URL": pg_database, "VIDRAG_REDIS_URL": redis_url,
           "VIDRAG_DATA_DIR": str(tmp_path / "data"), "VIDRAG_ENV": "development", "HOST": "127.0.0.1",
           "VIDRAG_METRICS_PORT": str(port), "VIDRAG_LOG_FORMAT": "json"}
    out, err = tmp_path / "worker.out", tmp_path / "worker.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([str(VIDRAG), "worker", "--concurrency", "3", "--loglevel", "info"], env=env,
                                stdout=stdout, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                samples = scrape(f"http://127.0.0.1:{port}/metrics")
                break
            except httpx.HTTPError:
                assert proc.poll() is None, err.read_text()[-3000:]
                assert time.monotonic() < deadline, err.read_text()[-3000:]
                time.sleep(0.2)
        assert value(samples, "vidrag_worker_concurrency") == 3
        assert value(samples, "vidrag_worker_jobs_running") == 0
        assert value(samples, "vidrag_db_pool_limit") == 20
        assert value(samples, "process_resident_memory_bytes") > 0
        assert value(samples, "vidrag_jobs_finished_total", kind="ingest", outcome="completed") == 0
        while "ready" not in err.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop_group(proc)
    lines = err.read_text().splitlines()
    assert lines
    entries = [json.loads(line) for line in lines]  # every line: JSON
    assert any(e["logger"].startswith("celery") and "ready" in e["message"] for e in entries), entries[-5:]
    assert any(e["logger"] == "vidrag.api.metrics" and str(port) in e["message"] for e in entries)


def test_memory_limit_is_the_cgroup_limit_else_the_ram(tmp_path: Path) -> None:
    proc, cgroup = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "cgroup").write_text("0::/system.slice/vidrag.service\n")
    (proc / "meminfo").write_text("MemTotal:        4000000 kB\nMemFree:  100 kB\n")
    unit = cgroup / "system.slice" / "vidrag.service"
    unit.mkdir(parents=True)
    (unit / "memory.max").write_text("max\n")  # systemd without MemoryMax
    assert memory_limit_bytes(cgroup, proc) == 4000000 * 1024
    (unit / "memory.max").write_text("1073741824\n")  # MemoryMax=1G
    assert memory_limit_bytes(cgroup, proc) == 2**30
    (proc / "self" / "cgroup").write_text("0::/\n")  # a container: its own namespace root
    (cgroup / "memory.max").write_text("536870912\n")
    assert memory_limit_bytes(cgroup, proc) == 2**29
    real = memory_limit_bytes()
    assert real is not None
    assert real > 2**26


def test_a_cancelled_download_counts_as_cancelled(observed: Observed, media: MediaSet, media_url: str) -> None:
    """The API ends a cancelled task; the job that stops because of it is what counts it (last in this module: it
    adds a task to the state gauges the tests above check)."""
    client = observed.svc.client
    r = client.post("/api/v1/tasks", json={"url": f"{media_url}/slow/{media.mp4.name}?bps=20000"})
    assert r.status_code == 201, r.text
    task_id = r.json()["id"]
    running = poll_until(client, f"/api/v1/tasks/{task_id}", "stage", {"download"}, timeout=30)
    assert running["status"] == "running", running
    assert client.post(f"/api/v1/tasks/{task_id}/cancel").status_code == 200
    deadline = time.monotonic() + 30
    while value(scrape(observed.stage_metrics_url), "vidrag_jobs_finished_total", kind="download",
                outcome="cancelled") != 1:
        assert time.monotonic() < deadline, "the cancelled download was not counted"
        time.sleep(0.1)
    samples = scrape(observed.stage_metrics_url)
    assert value(samples, "vidrag_jobs_finished_total", kind="download", outcome="completed") == 1
    assert client.get(f"/api/v1/tasks/{task_id}").json()["status"] == "cancelled"
