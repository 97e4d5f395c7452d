"""A real vidrag (uvicorn, HTTP on 127.0.0.1) on a fresh data dir, in this process or as a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from vidrag.api.app import create_app
from vidrag.api.worker import ThreadedWorker, WorkerProcess
from vidrag.settings import Settings

TERMINAL = {"completed", "failed", "cancelled"}
REPO = Path(__file__).resolve().parents[2]


@dataclass
class RunningService:
    settings: Settings
    base_url: str
    client: httpx.Client
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def wait(self, task_id: str, timeout: float = 60.0, until: set[str] = TERMINAL) -> dict[str, Any]:
        return wait_for_task(self.client, task_id, timeout, until)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
        self.extra.pop("container", None)
        if (worker := self.extra.pop("worker", None)) is not None:
            worker.stop()
        self.client.close()


def poll_until(client: httpx.Client, path: str, field: str, until: Collection[str], timeout: float,
               interval: float = 0.1) -> dict[str, Any]:
    """GET ``path`` until its JSON ``field`` is one of ``until``; fail with the last body after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(path).json()
        if body.get(field) in until:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: {field} not in {until} after {timeout}s: {json.dumps(body)[:800]}")
        time.sleep(interval)


def wait_for_task(client: httpx.Client, task_id: str, timeout: float = 60.0,
                  until: set[str] = TERMINAL) -> dict[str, Any]:
    return poll_until(client, f"/api/v1/tasks/{task_id}", "status", until, timeout)


def start_in_thread(settings: Settings) -> RunningService:
    """The API on a free port; scaled out (settings.redis_url), also a real Celery worker in this process."""
    worker = ThreadedWorker(WorkerProcess.build(settings)).start() if settings.redis_url else None
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("vidrag did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    return RunningService(settings, base, httpx.Client(base_url=base, timeout=30), server, thread,
                          extra={"worker": worker, "container": app.state.container} if worker
                          else {"container": app.state.container})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServiceProcess:
    """vidrag started the way operators start it: `python start.py` with HOST/PORT in the environment."""

    data_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, **self.env, "HOST": "127.0.0.1", "PORT": str(self.port),
               "VIDRAG_DATA_DIR": str(self.data_dir)}
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, str(REPO / "start.py")], cwd=REPO, env=env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"start.py did not come up: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        kill_group(self.proc)

    def stop(self) -> None:
        stop_group(self.proc)


def kill_group(proc: subprocess.Popen[Any] | None) -> None:
    """SIGKILL the whole process group (started with start_new_session): no shutdown hooks run, as in a crash."""
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def stop_group(proc: subprocess.Popen[Any] | None, timeout: float = 20) -> None:
    """SIGTERM the process group, as a service manager does; SIGKILL if it has not stopped within ``timeout``."""
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
