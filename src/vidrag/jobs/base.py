"""The job-runner contract. A job is a plain function taking a task ID; runners only schedule it.

The in-process runner implements this today; a Celery runner can replace it without touching stages or
services, because everything a job needs is reloaded from the database by ID.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class JobControl:
    """Handed to a running job: lets it notice that it must stop, and why."""

    task_id: str
    cancel_event: threading.Event = field(default_factory=threading.Event)
    shutting_down: bool = False  # stopped because the process is stopping, not because a user cancelled

    def is_cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def stop_for_shutdown(self) -> None:
        self.shutting_down = True
        self.cancel_event.set()


JobHandler = Callable[[str, JobControl], None]


@dataclass(frozen=True)
class RunnerStats:
    queued: int
    running: int
    concurrency: int


class JobRunner(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    def enqueue(self, task_id: str) -> None:
        """Schedule the job; thread-safe; a task ID already queued or running is dropped."""
    def cancel(self, task_id: str) -> bool:
        """Ask a queued or running job to stop; True when it was known to this runner."""
    def stats(self) -> RunnerStats: ...
