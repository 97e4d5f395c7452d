"""Scaled-out jobs: Celery with Redis as broker and result backend.

API processes only enqueue (``CeleryRunner``); ``vidrag worker`` processes on any number of machines run the
jobs (``WorkerPool`` inside Celery tasks). The database stays the source of truth, exactly as in-process:

- a job reloads its task by ID and claims it atomically, so a message delivered twice (acks late, a worker
  lost, a visibility timeout) runs the work once;
- a running job's lease is renewed by the worker's heartbeat thread; when a worker dies, any live process
  re-queues its tasks (``DownloadService.recover``) and another worker takes them;
- cancel is a Redis pub/sub message (channel ``vidrag:<db>:control``) that the worker running the task turns
  into its cancel event.

Redis keys (prefix ``vidrag:``): ``queued:<kind>:<id>`` de-duplicates enqueues while a message waits,
``running:<kind>`` (sorted set, score = last heartbeat) counts running jobs, ``workers`` (hash) lists live
workers with their queues and concurrency.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from celery import Celery
from celery.exceptions import CPendingDeprecationWarning
from celery.signals import task_received
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from vidrag.jobs.base import Heartbeat, JobControl, JobHandler, RunnerStats, new_worker_id

log = logging.getLogger(__name__)

PREFIX = "vidrag:"
WORKERS_KEY = f"{PREFIX}workers"
QUEUES = ("download", "transcribe", "index")
DEDUPE_SECONDS = 3600
KIND_QUEUES = {"download": ("download",), "ingest": ("transcribe", "index")}
# Infrastructure failures (database or broker briefly gone) are retried with backoff; a job's own failures
# are recorded on its row by the job and never raised.
RETRY_ON = (OperationalError, PoolTimeout, redis.ConnectionError, redis.TimeoutError)


@dataclass(frozen=True)
class CeleryConfig:
    redis_url: str
    lease_seconds: float = 60.0
    time_limit_seconds: float = 6 * 3600  # one job at most
    max_retries: int = 8


def make_celery(config: CeleryConfig) -> Celery:
    app = Celery("vidrag", broker=config.redis_url, backend=config.redis_url, set_as_current=False)
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_acks_late=True,  # a message is removed only when its job ended: a killed worker's jobs come back
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # long jobs: a worker takes one message per free slot, not a batch
        # Prefork pools would enforce these; our thread pool cannot kill a thread, so WorkerPool stops a job at the
        # limit itself and these are only the backstop
        task_time_limit=config.time_limit_seconds + 120, task_soft_time_limit=config.time_limit_seconds + 60,
        task_default_queue="download", task_create_missing_queues=True,
        task_ignore_result=True, result_expires=3600,
        # Unacked messages come back after this; longer than a job may run (the claim makes a duplicate a no-op).
        broker_transport_options={"visibility_timeout": int(config.time_limit_seconds + 600),
                                  "socket_timeout": 30, "socket_connect_timeout": 5, "health_check_interval": 25},
        broker_connection_retry_on_startup=True, broker_connection_timeout=5,
        task_publish_retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5,
                                   "interval_max": 2},
        worker_hijack_root_logger=False, worker_send_task_events=False, task_send_sent_event=False,
        # A job running when the broker connection drops keeps running: its lease (in the database) is still renewed,
        # it records its own outcome, and the redelivered message finds the claim taken or the task done. Celery
        # warns about this choice on every reconnect; it is ours, so the warning is not shown (under warnings-as-
        # errors, as in the tests, it would otherwise kill the consumer on the first Redis hiccup).
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


warnings.filterwarnings("ignore", message=r"\s*In Celery 5\.1 we introduced an optional breaking change",
                        category=CPendingDeprecationWarning)


def channel(client: redis.Redis, name: str) -> str:
    """A pub/sub channel of this deployment. Channels, unlike keys, are shared by every database of a Redis server,
    so the database number is part of the name: deployments (or test services) on one server never hear each other.
    """
    return f"{PREFIX}{client.connection_pool.connection_kwargs.get('db', 0)}:{name}"


def _queued_key(kind: str, task_id: str) -> str:
    return f"{PREFIX}queued:{kind}:{task_id}"


def _running_key(kind: str) -> str:
    return f"{PREFIX}running:{kind}"


class CeleryRunner:
    """The JobRunner of a process that only enqueues: sends a Celery message per job (``vidrag.<kind>``)."""

    def __init__(self, celery: Celery, client: redis.Redis, kind: str, config: CeleryConfig,
                 route: Callable[[str], str] | None = None) -> None:
        self.worker_id = new_worker_id()
        self.kind = kind
        self.route = route or (lambda _task_id: KIND_QUEUES[kind][0])  # set later by the composition root
        self._celery = celery
        self._redis = client
        self._config = config

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def enqueue(self, task_id: str) -> None:
        """Send the job unless a message for it is already waiting; a broker outage is logged, not raised:
        the task stays queued in the database and the periodic recovery sends it again."""
        try:
            queue = self.route(task_id)
            # Cleared by the worker when the job starts. Recovery re-sends queued work every few seconds; this keeps
            # a backlog from piling up duplicates. Expires so that a message lost alone is sent again.
            if not self._redis.set(_queued_key(self.kind, task_id), queue, nx=True, ex=DEDUPE_SECONDS):
                return
            self._celery.send_task(f"vidrag.{self.kind}", args=[task_id], queue=queue)
        except (redis.RedisError, OSError) as exc:
            log.warning("could not enqueue %s %s (%s); recovery will send it again", self.kind, task_id, exc)
        except Exception as exc:  # kombu's OperationalError and friends
            log.warning("could not enqueue %s %s (%s: %s); recovery will send it again", self.kind, task_id,
                        type(exc).__name__, exc)

    def cancel(self, task_id: str) -> bool:
        """Tell every worker; the one running the task stops it. The database already says cancelled."""
        try:
            self._redis.delete(_queued_key(self.kind, task_id))
            self._redis.publish(channel(self._redis, "control"), json.dumps({"cancel": task_id}))
        except redis.RedisError as exc:
            log.warning("could not broadcast the cancel of %s (%s); its worker sees it at the next write",
                        task_id, exc)
        return True

    def stats(self) -> RunnerStats:
        try:
            pipe = self._redis.pipeline()
            for queue in KIND_QUEUES[self.kind]:
                pipe.llen(queue)
            pipe.zcount(_running_key(self.kind), time.time() - self._config.lease_seconds, "+inf")
            pipe.hgetall(WORKERS_KEY)
            *lengths, running, workers = pipe.execute()
        except redis.RedisError:
            return RunnerStats(queued=0, running=0, concurrency=0)
        return RunnerStats(queued=sum(int(n) for n in lengths), running=int(running),
                           concurrency=sum(w.concurrency for w in live_workers(workers, self._config.lease_seconds)
                                           if set(w.queues) & set(KIND_QUEUES[self.kind])))


@dataclass(frozen=True)
class WorkerInfo:
    worker_id: str
    queues: tuple[str, ...]
    concurrency: int
    seen: float


def live_workers(raw: dict[Any, Any], lease_seconds: float) -> list[WorkerInfo]:
    cutoff = time.time() - lease_seconds
    out = []
    for key, value in raw.items():
        try:
            data = json.loads(value)
            info = WorkerInfo(key.decode() if isinstance(key, bytes) else str(key), tuple(data["queues"]),
                              int(data["concurrency"]), float(data["seen"]))
        except (ValueError, KeyError, TypeError):
            continue
        if info.seen >= cutoff:
            out.append(info)
    return out


@dataclass
class _Kind:
    handler: JobHandler
    heartbeat: Heartbeat
    running: dict[str, JobControl] = field(default_factory=dict)


class WorkerPool:
    """Runs jobs inside Celery tasks of one worker process: leases, cancels, and a graceful stop."""

    def __init__(self, client: redis.Redis, queues: tuple[str, ...], concurrency: int, lease_seconds: float,
                 time_limit_seconds: float = 6 * 3600) -> None:
        self.worker_id = new_worker_id()
        # Celery's thread pool cannot enforce time limits (it cannot kill a thread), so the heartbeat does: a job
        # past the limit is asked to stop and fails with `time_limit`.
        self.time_limit_seconds = time_limit_seconds
        self.queues = queues
        self.concurrency = concurrency
        self._redis = client
        self._lease = lease_seconds
        self._kinds: dict[str, _Kind] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Condition(self._lock)
        # Messages this worker holds but has not started (prefetched): their de-duplication keys are kept short
        # while the worker lives, so if it dies they expire soon and recovery sends the work again.
        self._reserved: set[tuple[str, str]] = set()
        self._on_received: Any = None

    def register(self, kind: str, handler: JobHandler, heartbeat: Heartbeat) -> None:
        self._kinds[kind] = _Kind(handler, heartbeat)

    def install(self, celery: Celery, max_retries: int) -> None:
        """Define ``vidrag.<kind>`` Celery tasks that run the registered handlers."""
        for kind in self._kinds:
            def run(task_id: str, _kind: str = kind) -> None:
                self.run(_kind, task_id)

            celery.task(name=f"vidrag.{kind}", shared=False, acks_late=True, reject_on_worker_lost=True,
                        autoretry_for=RETRY_ON, retry_backoff=2, retry_backoff_max=300, retry_jitter=True,
                        max_retries=max_retries, ignore_result=True)(run)

        def on_received(sender: Any = None, request: Any = None, **_: Any) -> None:
            if getattr(sender, "app", None) is not celery or request is None:
                return
            kind = str(getattr(request, "task_name", "")).removeprefix("vidrag.")
            args = getattr(request, "args", None) or []
            if kind in self._kinds and args:
                with self._lock:
                    self._reserved.add((kind, str(args[0])))
                with contextlib.suppress(redis.RedisError):
                    self._redis.expire(_queued_key(kind, str(args[0])), max(2, int(2 * self._lease)))

        self._on_received = on_received  # signals hold weak references by default
        task_received.connect(on_received)

    def run(self, kind: str, task_id: str) -> None:
        if self._stopping.is_set():  # stopping: leave it queued in the database; recovery sends it again
            with contextlib.suppress(redis.RedisError):
                self._redis.delete(_queued_key(kind, task_id))
            return
        spec = self._kinds[kind]
        control = JobControl(task_id, self.worker_id)
        with self._lock:
            self._reserved.discard((kind, task_id))
            duplicate = task_id in spec.running
            if not duplicate:
                spec.running[task_id] = control
        if duplicate:  # the job runs here already; a later enqueue (or the recovery) may send it again
            with contextlib.suppress(redis.RedisError):
                self._redis.delete(_queued_key(kind, task_id))
            return
        try:
            self._redis.delete(_queued_key(kind, task_id))
            self._redis.zadd(_running_key(kind), {task_id: time.time()})
        except redis.RedisError as exc:
            log.warning("redis bookkeeping failed for %s (%s)", task_id, exc)
        try:
            spec.handler(task_id, control)
        finally:
            with self._lock:
                spec.running.pop(task_id, None)
                self._idle.notify_all()
            with contextlib.suppress(redis.RedisError):
                self._redis.zrem(_running_key(kind), task_id)
            control.run_after()

    # --- the worker's own threads --------------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        self._threads = [threading.Thread(target=self._beat, name="vidrag-heartbeat", daemon=True),
                         threading.Thread(target=self._listen, name="vidrag-control", daemon=True)]
        for thread in self._threads:
            thread.start()

    def stop(self, grace_seconds: float = 10.0) -> None:
        """Ask running jobs to stop (they put their tasks back in the queue), wait for them, quit the threads."""
        self._stopping.set()
        with self._lock:
            for spec in self._kinds.values():
                for control in spec.running.values():
                    control.stop_for_shutdown()
            self._idle.wait_for(lambda: not any(s.running for s in self._kinds.values()), timeout=grace_seconds)
        with contextlib.suppress(redis.RedisError):
            self._redis.hdel(WORKERS_KEY, self.worker_id)

    def running(self) -> int:
        with self._lock:
            return sum(len(s.running) for s in self._kinds.values())

    def _beat(self) -> None:
        interval = max(0.5, self._lease / 4)
        while not self._stopping.is_set():
            now = time.time()
            try:
                self._redis.hset(WORKERS_KEY, self.worker_id, json.dumps(
                    {"queues": list(self.queues), "concurrency": self.concurrency, "seen": now}))
            except redis.RedisError as exc:
                log.warning("worker registration failed (%s); will try again", exc)
            with self._lock:
                reserved = list(self._reserved)
            if reserved:
                try:
                    pipe = self._redis.pipeline()
                    for kind, task_id in reserved:
                        pipe.expire(_queued_key(kind, task_id), max(2, int(2 * self._lease)))
                    pipe.execute()
                except redis.RedisError as exc:
                    log.warning("could not refresh reserved messages (%s)", exc)
            for kind, spec in self._kinds.items():
                with self._lock:
                    ids = list(spec.running)
                    for control in spec.running.values():
                        if time.monotonic() - control.started > self.time_limit_seconds and not control.timed_out:
                            log.warning("%s %s ran past the time limit; stopping it", kind, control.task_id)
                            control.stop_for_time_limit()
                if not ids:
                    continue
                try:
                    spec.heartbeat(ids, self.worker_id)
                    self._redis.zadd(_running_key(kind), dict.fromkeys(ids, now))
                except Exception:
                    log.exception("heartbeat failed; will try again")
            self._stopping.wait(interval)

    def _listen(self) -> None:
        """Cancels from any API process, through Redis pub/sub; reconnects after an outage."""
        while not self._stopping.is_set():
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(channel(self._redis, "control"))
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message and message.get("type") == "message":
                        self._on_control(message["data"])
                pubsub.close()
            except redis.RedisError as exc:
                log.warning("control channel lost (%s); reconnecting", exc)
                self._stopping.wait(1.0)

    def _on_control(self, data: bytes | str) -> None:
        try:
            task_id = json.loads(data).get("cancel")
        except (ValueError, AttributeError):
            return
        with self._lock:
            for spec in self._kinds.values():
                control = spec.running.get(task_id)
                if control is not None:
                    control.cancel_event.set()
