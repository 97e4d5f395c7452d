"""``vidrag worker``: a Celery worker that runs downloads, transcriptions and indexing for any API replica.

It is built from the same container as the API (same settings, database, media store, jobs), so a job
behaves the same in a worker as in-process. Besides Celery's consumer it keeps three threads: lease
heartbeats for its running jobs, the cancel channel, and the same periodic recovery the API runs (so a
deployment of workers alone still takes over the tasks of a worker that died).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIServer

from celery import Celery
from celery.apps.worker import Worker
from celery.bootsteps import CLOSE
from celery.concurrency.thread import TaskPool as ThreadTaskPool
from celery.signals import setup_logging, worker_shutting_down
from celery.worker import WorkController
from kombu.asynchronous import get_event_loop, set_event_loop

from vidrag.api.app import build_container, recover
from vidrag.api.deps import Container
from vidrag.api.metrics import for_worker, serve_worker_metrics
from vidrag.jobs.celery_runner import KIND_QUEUES, QUEUES, WorkerPool
from vidrag.observability.logs import configure_logging
from vidrag.observability.metrics import Metrics
from vidrag.pipeline.download import warm_up
from vidrag.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class WorkerProcess:
    container: Container
    pool: WorkerPool
    queues: tuple[str, ...]
    concurrency: int
    metrics: Metrics
    _stop: threading.Event = field(default_factory=threading.Event)
    _recovery: threading.Thread | None = None
    _metrics_server: WSGIServer | None = None

    @classmethod
    def build(cls, settings: Settings, queues: tuple[str, ...] = QUEUES, concurrency: int | None = None
              ) -> WorkerProcess:
        """``concurrency`` defaults to VIDRAG_DOWNLOAD_CONCURRENCY, the jobs one process runs at once."""
        concurrency = concurrency or settings.download_concurrency
        unknown = set(queues) - set(QUEUES)
        if unknown:
            raise ValueError(f"unknown queue(s) {', '.join(sorted(unknown))}; use some of {', '.join(QUEUES)}")
        if not settings.redis_url:
            raise ValueError("VIDRAG_REDIS_URL is not set: workers take their jobs from Redis")
        container = build_container(settings)
        assert container.scaled is not None
        pool = WorkerPool(container.scaled.redis, queues, concurrency, settings.task_lease_seconds,
                          settings.job_time_limit_seconds)
        for kind, (handler, heartbeat) in container.jobs.items():
            if set(KIND_QUEUES[kind]) & set(queues):
                pool.register(kind, handler, heartbeat)
        pool.install(container.scaled.celery, container.scaled.config.max_retries)
        return cls(container, pool, queues, concurrency, for_worker(container, pool.running, concurrency))

    def start_background(self) -> None:
        """Heartbeats, cancels, recovery: started before Celery consumes anything."""
        threading.Thread(target=warm_up, name="vidrag-warm-up", daemon=True).start()
        self.pool.start()
        self._stop.clear()
        self._recovery = threading.Thread(target=self._recover_loop, name="vidrag-recovery", daemon=True)
        self._recovery.start()
        settings = self.container.settings
        if settings.metrics_port and self._metrics_server is None:  # Prometheus scrapes workers here
            self._metrics_server = serve_worker_metrics(self.metrics, settings.host, settings.metrics_port)

    def stop_background(self, grace_seconds: float = 10.0) -> None:
        self._stop.set()
        self.pool.stop(grace_seconds)
        if self._recovery is not None:
            self._recovery.join(timeout=5)
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
            self._metrics_server = None
        self.container.events.close()

    def _recover_loop(self) -> None:
        interval = max(1.0, self.container.settings.task_lease_seconds / 3)
        while not self._stop.wait(interval):
            try:
                recover(self.container)
            except Exception:
                log.exception("recovering stale work failed; will try again")

    def _controller_options(self) -> dict[str, object]:
        assert self.container.scaled is not None
        celery = self.container.scaled.celery
        return {"app": celery, "pool_cls": _thread_pool_for(celery),
                "concurrency": self.concurrency, "queues": list(self.queues),
                "hostname": f"vidrag-{self.pool.worker_id.replace(':', '-')}", "without_gossip": True,
                "without_mingle": True, "without_heartbeat": True, "optimization": "fair"}

    def run(self, loglevel: str = "INFO") -> None:
        """Run in the foreground until SIGTERM/SIGINT (warm shutdown: running jobs re-queue themselves)."""
        def on_shutdown(**_: object) -> None:
            self.stop_background()

        def own_logging(**_: object) -> None:  # connected, it stops Celery from replacing the root handlers
            configure_logging("json", loglevel)

        worker_shutting_down.connect(on_shutdown, weak=False)
        if self.container.settings.log_format == "json":  # Celery's own lines included
            own_logging()  # before Celery starts: its start-up warnings too
            setup_logging.connect(own_logging, weak=False)
        self.start_background()
        try:
            Worker(**self._controller_options(), loglevel=loglevel, redirect_stdouts=False,
                   quiet=self.container.settings.log_format == "json").start()  # no banner amid JSON lines
        finally:
            self.stop_background()
            self.container.db.dispose()


def _thread_pool_for(celery: Celery) -> type[ThreadTaskPool]:
    """Celery's thread pool, with ``celery`` as the current app of its threads.

    The pool's threads look tasks up in the thread's current app, which is otherwise the process-wide default;
    with this, several apps (several test services) can share a process.
    """
    class AppThreadPool(ThreadTaskPool):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.executor = ThreadPoolExecutor(max_workers=self.limit, initializer=celery.set_current,
                                               thread_name_prefix="vidrag-job")

    return AppThreadPool


_hub_lock = threading.Lock()


class ThreadedWorker:
    """A real Celery worker consuming in a thread of this process (tests, `vidrag serve --with-worker`).

    Each one gets an event loop (kombu hub) of its own. Celery's worker otherwise takes the process-wide hub, so two
    workers in one process would share an epoll object and stopping one would close it under the other (which then dies
    with "I/O operation on closed epoll object" and leaves its queue unconsumed).
    """

    def __init__(self, process: WorkerProcess) -> None:
        self.process = process
        with _hub_lock:
            shared = get_event_loop()
            set_event_loop(None)  # Celery's Hub step now makes a new hub for this controller...
            try:
                self._controller = WorkController(**process._controller_options(), loglevel="WARNING")
            finally:
                set_event_loop(shared)  # ...and the process-wide one stays what it was
        self._thread = threading.Thread(target=self._controller.start, name="vidrag-celery", daemon=True)

    def start(self) -> ThreadedWorker:
        self.process.start_background()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the jobs, then let the consumer loop leave by itself (its connection is not thread-safe: closing it
        from here while the loop reads it can hang both), then shut the controller down from this thread."""
        self.process.stop_background()
        consumer = getattr(self._controller, "consumer", None)
        if consumer is not None:
            consumer.blueprint.state = CLOSE  # checked by the event loop at least once a second
        self._thread.join(timeout=15)
        if self._thread.is_alive():
            log.warning("the Celery consumer did not stop within 15 s; leaving its thread behind")
        else:
            self._controller.stop(in_sighandler=False)
        self.process.container.db.dispose()
