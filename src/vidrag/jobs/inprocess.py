"""In-process runner: an asyncio queue feeding N worker coroutines that run jobs in threads.

The cap on concurrent jobs is the number of workers. Blocking work (yt-dlp, FFmpeg) runs in a thread
so the event loop keeps serving requests; job state lives in the database, not here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time

import anyio.to_thread
from anyio import CapacityLimiter

from vidrag.jobs.base import Heartbeat, JobControl, JobHandler, RunnerStats, new_worker_id

log = logging.getLogger(__name__)


class InProcessRunner:
    def __init__(self, handler: JobHandler, concurrency: int, *, heartbeat: Heartbeat | None = None,
                 heartbeat_seconds: float = 10.0, time_limit_seconds: float | None = None) -> None:
        self._time_limit = time_limit_seconds
        self.worker_id = new_worker_id()
        self._handler = handler
        self._heartbeat = heartbeat
        self._heartbeat_seconds = heartbeat_seconds
        self._concurrency = concurrency
        self._queue: asyncio.Queue[str] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._lock = threading.Lock()
        self._pending: set[str] = set()  # queued, not yet started
        self._running: dict[str, JobControl] = {}
        self._limiter = CapacityLimiter(concurrency)
        self._idle = asyncio.Event()  # set whenever no job is running

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        with self._lock:
            for task_id in sorted(self._pending):  # enqueued before start
                self._queue.put_nowait(task_id)
        self._workers = [asyncio.create_task(self._work(), name=f"vidrag-worker-{i}")
                         for i in range(self._concurrency)]
        if self._heartbeat is not None:
            self._workers.append(asyncio.create_task(self._beat(), name="vidrag-heartbeat"))

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Ask running jobs to stop (they re-queue their tasks for the next start), wait for them, then quit."""
        with self._lock:
            for control in self._running.values():
                control.stop_for_shutdown()
        if self.stats().running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace_seconds)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    def enqueue(self, task_id: str) -> None:
        with self._lock:
            if task_id in self._pending or task_id in self._running:
                return
            self._pending.add(task_id)
        if self._loop is not None and self._queue is not None:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, task_id)

    def cancel(self, task_id: str) -> bool:
        with self._lock:
            if task_id in self._pending:
                self._pending.discard(task_id)  # the worker skips it when it comes up
                return True
            control = self._running.get(task_id)
        if control is None:
            return False
        control.cancel_event.set()
        return True

    def stats(self) -> RunnerStats:
        with self._lock:
            return RunnerStats(queued=len(self._pending), running=len(self._running), concurrency=self._concurrency)

    async def _beat(self) -> None:
        """Tell the database, now and then, that this process still runs its tasks (their lease)."""
        assert self._heartbeat is not None
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            with self._lock:
                running = list(self._running)
                for control in self._running.values():
                    if (self._time_limit and time.monotonic() - control.started > self._time_limit
                            and not control.timed_out):
                        log.warning("job %s ran past the time limit; stopping it", control.task_id)
                        control.stop_for_time_limit()
            if running:
                try:
                    await anyio.to_thread.run_sync(self._heartbeat, running, self.worker_id)
                except Exception:
                    log.exception("heartbeat failed; will try again")

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            task_id = await self._queue.get()
            with self._lock:
                if task_id not in self._pending:
                    continue  # cancelled while queued
                self._pending.discard(task_id)
                control = JobControl(task_id, self.worker_id)
                self._running[task_id] = control
                self._idle.clear()
            try:
                await anyio.to_thread.run_sync(self._handler, task_id, control, limiter=self._limiter,
                                               abandon_on_cancel=True)
            except Exception:  # the handler records failures on the task; this is a bug in the handler
                log.exception("job %s crashed outside its own error handling", task_id)
            finally:
                with self._lock:
                    self._running.pop(task_id, None)
                    if not self._running:
                        self._idle.set()
                control.run_after()
