"""What every stage gets: where to work, how to report progress, how to notice cancellation.

A stage is a plain function ``stage(ctx, request) -> result`` with typed (dataclass) request and
result; it touches no database and no queue, so the same stage runs under any job runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vidrag.domain.errors import TaskCancelled
from vidrag.domain.tasks import DownloadProgress


@dataclass
class StageContext:
    task_id: str
    work_dir: Path
    report: Callable[[DownloadProgress], None]
    is_cancelled: Callable[[], bool]

    def check_cancelled(self) -> None:
        if self.is_cancelled():
            raise TaskCancelled("the task was cancelled")
