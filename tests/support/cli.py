"""Running the `vidrag` console script as a user does: a real process, settings only from its environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from vidrag.storage.db import Database
from vidrag.storage.models import TaskRow
from vidrag.storage.repositories import TaskRepository

VIDRAG = Path(sys.executable).with_name("vidrag")
TIMEOUT = 90


@dataclass(frozen=True)
class Result:
    code: int
    output: str


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Cli:
    """Runs `vidrag` with settings only from this environment; cwd is the tmp dir, so no stray .env is read."""

    def __init__(self, tmp_path: Path) -> None:
        self.cwd = tmp_path
        self.data_dir = tmp_path / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIDRAG_") and k not in ("HOST", "PORT")}
        self.env = {**env, "VIDRAG_DATA_DIR": str(self.data_dir), "VIDRAG_ALLOW_PRIVATE_NETWORKS": "true",
                    "VIDRAG_MIN_FREE_DISK_MB": "0", "VIDRAG_ENV": "development"}

    def __call__(self, *args: str) -> Result:
        proc = subprocess.run([str(VIDRAG), *args], cwd=self.cwd, env=self.env, capture_output=True, text=True,
                              timeout=TIMEOUT)
        return Result(proc.returncode, proc.stdout + proc.stderr)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """In the background, with Ctrl+C working as in a terminal: a shell without job control starts background
        jobs (`./scripts/test &`, some CI runners) with SIGINT ignored, and children would inherit that."""
        return subprocess.Popen([str(VIDRAG), *args], cwd=self.cwd, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=_default_sigint)

    def tasks_in_db(self) -> list[TaskRow]:
        db = Database(f"sqlite:///{self.data_dir / 'vidrag.db'}")
        try:
            with db.session() as s:
                return TaskRepository(s).all()
        finally:
            db.dispose()
