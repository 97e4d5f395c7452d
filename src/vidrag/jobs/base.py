"""The job-runner contract. A job is a plain function taking a task ID; runners only schedule it.

The in-process runner implements this today; a Celery runner can replace it without touching stages or
services, because everything a job needs is reloaded from the database by ID.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


def new_worker_id() -> str:
    """``host:pid:nonce`` — names the process that owns a running task."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_gone(owner: str | None) -> bool:
    """True when ``owner`` certainly no longer runs: no owner, or this host and its pid is not alive.

    Owners on other hosts (or a reused pid) are judged by their heartbeat instead.
    """
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


@dataclass
class JobControl:
    """Handed to a running job: who runs it, and a way to notice that it must stop, and why."""

    task_id: str
    worker_id: str
    cancel_event: threading.Event = field(default_factory=threading.Event)
    shutting_down: bool = False  # stopped because the process is stopping, not because a user cancelled
    timed_out: bool = False  # stopped because it ran past the job time limit
    started: float = field(default_factory=time.monotonic)
    # run by the runner once the job has ended and is no longer registered as running (e.g. hand the work to
    # another queue: done earlier, the next job could start while this one still counts as running)
    after: list[Callable[[], None]] = field(default_factory=list)

    def run_after(self) -> None:
        for callback in self.after:
            try:
                callback()
            except Exception:
                log.exception("a follow-up of job %s failed", self.task_id)

    def is_cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def stop_for_shutdown(self) -> None:
        self.shutting_down = True
        self.cancel_event.set()

    def stop_for_time_limit(self) -> None:
        self.timed_out = True
        self.cancel_event.set()

    def time_limit_message(self) -> str:
        return (f"the job ran longer than its time limit ({time.monotonic() - self.started:.0f} s; "
                "VIDRAG_JOB_TIME_LIMIT_SECONDS) and was stopped")


JobHandler = Callable[[str, JobControl], None]
Heartbeat = Callable[[list[str], str], None]  # (running task IDs, worker id), called from a thread


@dataclass(frozen=True)
class RunnerStats:
    queued: int
    running: int
    concurrency: int


class JobRunner(Protocol):
    worker_id: str

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def enqueue(self, task_id: str) -> None:
        """Schedule the job; thread-safe; a task ID already queued or running is dropped."""
    def cancel(self, task_id: str) -> bool:
        """Ask a queued or running job to stop; True when it was known to this runner."""
    def stats(self) -> RunnerStats: ...
