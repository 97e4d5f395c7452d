"""`/metrics` (Prometheus text format), request IDs and request timing for the API; the same metrics for workers.

``install(app, container)`` (from create_app) wires it all: a ``Metrics`` registry for this app, the jobs'
recorders, scrape-time collectors, the middleware and the route. ``for_worker`` and ``serve_worker_metrics`` do the
same for a `vidrag worker` process (no HTTP app there: prometheus_client's own server on VIDRAG_METRICS_PORT).

Scrape-time gauges cost one grouped query per table (tasks, documents), the runners' stats (Redis when scaled
out), a statvfs and the pool's counters: cheap enough for a 15 s scrape interval on every replica.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vidrag import __version__
from vidrag.api.deps import Container, require_api_key
from vidrag.domain.knowledge import IndexingStage
from vidrag.domain.tasks import TaskStatus
from vidrag.jobs.celery_runner import WORKERS_KEY, live_workers
from vidrag.observability.logs import REQUEST_ID, configure_logging, valid_request_id
from vidrag.observability.metrics import JobMetrics, Metrics
from vidrag.services.download_job import DownloadJob
from vidrag.services.ingest_job import IngestJob
from vidrag.storage.models import DocumentRow, TaskRow, utcnow

log = logging.getLogger(__name__)
METRICS_PATH = "/metrics"
REQUEST_ID_HEADER = "x-request-id"
UNMATCHED_ROUTE = "unmatched"  # 404s: the raw path would let any client mint label values


def install(app: FastAPI, container: Container) -> Metrics:
    """Logging format, metrics, the request middleware and GET /metrics for this app."""
    settings = container.settings
    configure_logging(settings.log_format, settings.log_level)
    metrics = Metrics()
    wire_jobs(container, metrics)
    metrics.registry.register(ResourceCollector(container))
    metrics.registry.register(StateCollector(container))
    app.add_middleware(RequestObserver, metrics=metrics)
    app.state.metrics = metrics

    async def scrape(request: Request) -> Response:
        if settings.metrics_require_api_key:
            require_api_key(request, container)
        # the format Prometheus asks for (OpenMetrics, else text 0.0.4), as the workers' server does
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        body = await run_in_threadpool(encode, metrics.registry)  # the state collector queries the DB
        return Response(body, headers={"Content-Type": content_type})

    app.add_api_route(METRICS_PATH, scrape, methods=["GET"], include_in_schema=False)
    return metrics


def wire_jobs(container: Container, metrics: JobMetrics) -> None:
    """Give the container's jobs their recorder (they default to recording nothing)."""
    for handler, _heartbeat in container.jobs.values():
        if isinstance(handler, DownloadJob | IngestJob):
            handler.metrics = metrics


# --- workers ------------------------------------------------------------------------------------------------
def for_worker(container: Container, running: Callable[[], int], concurrency: int) -> Metrics:
    """The metrics of a `vidrag worker` process: stages, transcription, jobs, resources, its own load."""
    metrics = Metrics()
    wire_jobs(container, metrics)
    metrics.registry.register(ResourceCollector(container))
    metrics.registry.register(_WorkerLoad(running, concurrency))
    return metrics


def serve_worker_metrics(metrics: Metrics, host: str, port: int) -> WSGIServer:
    """prometheus_client's HTTP server (a daemon thread) on ``host:port``; ``shutdown()`` stops it."""
    server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    log.info("worker metrics on http://%s:%d/metrics", host, server.server_port)
    return server


class _WorkerLoad(Collector):
    def __init__(self, running: Callable[[], int], concurrency: int) -> None:
        self.running = running
        self.concurrency = concurrency

    def collect(self) -> Iterator[Metric]:
        yield _gauge("vidrag_worker_jobs_running", "Jobs this worker process runs now", self.running())
        yield _gauge("vidrag_worker_concurrency", "Jobs this worker process runs at most at once", self.concurrency)


# --- scrape-time collectors ---------------------------------------------------------------------------------
def _gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels) if labels else None)
    if labels:
        family.add_metric(list(labels.values()), value)
    else:
        family.add_metric([], value)
    return family


def memory_limit_bytes(cgroup_root: Path = Path("/sys/fs/cgroup"), proc: Path = Path("/proc")) -> float | None:
    """The memory this process may use: its cgroup's limit (container, systemd MemoryMax) if any, else the RAM."""
    limits: list[float] = []
    try:
        for line in (proc / "self" / "cgroup").read_text().splitlines():
            hierarchy, _, path = line.partition("::")
            if hierarchy == "0":  # cgroup v2: the process's own group, then the namespace root (containers)
                for candidate in (cgroup_root / path.lstrip("/") / "memory.max", cgroup_root / "memory.max"):
                    if candidate.is_file():
                        raw = candidate.read_text().strip()
                        if raw.isdigit():
                            limits.append(float(raw))
                        break
        v1 = cgroup_root / "memory" / "memory.limit_in_bytes"
        if v1.is_file() and (raw := v1.read_text().strip()).isdigit() and int(raw) < 2**60:
            limits.append(float(raw))
    except OSError:
        pass
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                limits.append(float(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    return min(limits) if limits else None


class ResourceCollector(Collector):
    """Disk of the data dir, the database pool, the memory limit, the build: in the API and in workers."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.memory_limit = memory_limit_bytes()  # fixed for the life of the process

    def collect(self) -> Iterator[Metric]:
        settings = self.container.settings
        yield _gauge("vidrag_build_info", "vidrag's version", 1, {"version": __version__})
        try:
            usage = shutil.disk_usage(settings.data_dir)
        except OSError:
            usage = None
        if usage is not None:
            yield _gauge("vidrag_disk_free_bytes", "Free bytes on the data directory's file system", usage.free)
            yield _gauge("vidrag_disk_total_bytes", "Size of the data directory's file system", usage.total)
        yield _gauge("vidrag_disk_min_free_bytes", "Below this free space new work is refused with 507 "
                     "(VIDRAG_MIN_FREE_DISK_MB)", settings.min_free_disk_mb * 2**20)
        if self.memory_limit is not None:
            yield _gauge("vidrag_memory_limit_bytes", "Memory this process may use: its cgroup limit, else the "
                         "machine's RAM", self.memory_limit)
        yield from self._pool()

    def _pool(self) -> Iterator[Metric]:
        pool = self.container.db.engine.pool
        if not isinstance(pool, QueuePool):
            return
        size = pool.size()
        # SQLAlchemy has no public accessor for max_overflow; -1 means unbounded
        overflow = int(getattr(pool, "_max_overflow", 0))
        yield _gauge("vidrag_db_pool_size", "Connections the pool keeps open", size)
        yield _gauge("vidrag_db_pool_in_use", "Connections checked out now", pool.checkedout())
        if overflow >= 0:
            yield _gauge("vidrag_db_pool_limit", "Connections the pool may open at most (size + overflow); past "
                         "it requests wait, then get 503 database_busy", size + overflow)


class StateCollector(Collector):
    """Tasks and documents by state, the age of the oldest waiting / running work, queues and workers."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def collect(self) -> Iterator[Metric]:
        c = self.container
        try:
            yield from self._database()
            up = 1.0
        except SQLAlchemyError as exc:
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            up = 0.0
        yield _gauge("vidrag_database_up", "1 when the last scrape could read the database", up)
        yield _gauge("vidrag_job_time_limit_seconds", "A job running longer is stopped (VIDRAG_JOB_TIME_LIMIT_SECONDS)",
                     c.settings.job_time_limit_seconds)
        depth = GaugeMetricFamily("vidrag_queue_depth", "Jobs waiting to run, by kind", labels=["kind"])
        running = GaugeMetricFamily("vidrag_jobs_running", "Jobs running, by kind", labels=["kind"])
        slots = GaugeMetricFamily("vidrag_job_concurrency", "Jobs that can run at once, by kind (scaled out: "
                                  "the live workers that take that kind; 0 = nobody will run them)",
                                  labels=["kind"])
        for kind, runner in (("download", c.runner), ("ingest", c.ingest_runner)):
            stats = runner.stats()
            depth.add_metric([kind], stats.queued)
            running.add_metric([kind], stats.running)
            slots.add_metric([kind], stats.concurrency)
        yield from (depth, running, slots)
        if c.scaled is not None:
            try:
                workers = len(live_workers(c.scaled.redis.hgetall(WORKERS_KEY), c.settings.task_lease_seconds))
            except Exception:  # redis down: the runners already report 0 concurrency
                workers = 0
            yield _gauge("vidrag_workers_alive", "Workers whose heartbeat is within the lease", workers)

    def _database(self) -> Iterable[Metric]:
        now = utcnow()
        with self.container.db.session() as s:
            tasks: dict[str, int] = {status: count for status, count in s.execute(
                select(TaskRow.status, func.count()).group_by(TaskRow.status))}
            oldest_queued = s.scalar(select(func.min(TaskRow.created_at))
                                     .where(TaskRow.status == TaskStatus.QUEUED.value))
            oldest_running = s.scalar(select(func.min(TaskRow.started_at))
                                      .where(TaskRow.status == TaskStatus.RUNNING.value))
            docs: dict[str, int] = {state: count for state, count in s.execute(
                select(DocumentRow.indexing_status, func.count()).group_by(DocumentRow.indexing_status))}
            oldest_doc = s.scalar(select(func.min(DocumentRow.created_at)).where(DocumentRow.indexing_status.notin_(
                (IndexingStage.COMPLETED.value, IndexingStage.ERROR.value))))
        by_state = GaugeMetricFamily("vidrag_tasks", "Download tasks by state", labels=["state"])
        for status in TaskStatus:
            by_state.add_metric([status.value], tasks.get(status.value, 0))
        docs_by_state = GaugeMetricFamily("vidrag_documents", "Knowledge-base documents by indexing state",
                                          labels=["state"])
        for stage in IndexingStage:
            docs_by_state.add_metric([stage.value], docs.get(stage.value, 0))
        oldest = GaugeMetricFamily("vidrag_task_oldest_age_seconds", "Age of the oldest queued task (since "
                                   "created) and running task (since started); 0 when there is none",
                                   labels=["state"])
        oldest.add_metric([TaskStatus.QUEUED.value], _age(now, oldest_queued))
        oldest.add_metric([TaskStatus.RUNNING.value], _age(now, oldest_running))
        return [by_state, docs_by_state, oldest,
                _gauge("vidrag_document_oldest_pending_age_seconds", "Age of the oldest document not yet indexed "
                       "(nor failed); 0 when there is none", _age(now, oldest_doc))]


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


# --- request middleware -------------------------------------------------------------------------------------
class RequestObserver:
    """Pure ASGI (streams pass through untouched): a request ID for the logs and the X-Request-ID response header,
    and the request's duration under its route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((value.decode("latin-1") for key, value in scope.get("headers", ())
                         if key == REQUEST_ID_HEADER.encode()), None)
        request_id = valid_request_id(incoming) or uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # Left set: Starlette's outermost error middleware logs the traceback and sends the 500 after this
            # returns, and those lines need the ID. Each request runs in a task (a context) of its own.
            self._done(scope, status, started)  # 500 unless the response had started
            raise
        self._done(scope, status, started)
        REQUEST_ID.reset(token)

    def _done(self, scope: Scope, status: int, started: float) -> None:
        self.metrics.request_done(route_template(scope, status), scope.get("method", ""), status,
                                  time.perf_counter() - started)


def route_template(scope: dict[str, Any] | Scope, status: int) -> str:
    """``/api/status/{task_id}``, not the raw path: the router records the route it matched in the scope."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    return UNMATCHED_ROUTE if status == 404 else "other"
