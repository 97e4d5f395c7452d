"""Scaled out for real: two API processes, Celery workers as processes, PostgreSQL and Redis, on loopback.

20 tasks go in through API 1 (14 downloads, 6 videos into a knowledge base) while API 2 streams every task's
events. One worker is SIGKILLed in the middle of a download and another in the middle of a transcription;
replacements start. Every task must end completed (or failed with a reason), none lost, none stuck, none done
twice: each task has exactly its files on disk, each document exactly one set of chunks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support.knowledge import create_dataset, wait_indexed
from tests.support.service import TERMINAL, ServiceProcess, kill_group, stop_group, wait_for_task

LEASE = 4  # seconds: a killed worker's jobs are taken over after this
DOWNLOADS, VIDEOS = 14, 6
VIDRAG = Path(sys.executable).parent / "vidrag"


@dataclass
class Worker:
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        self.proc = subprocess.Popen([str(VIDRAG), "worker", "--concurrency", "2", "--loglevel", "warning"],
                                     env={**os.environ, **self.env}, stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        kill_group(self.proc)

    def stop(self) -> None:
        stop_group(self.proc)


@dataclass
class Streams:
    """SSE readers on API 2: the last event each task's stream delivered."""

    base_url: str
    last: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)

    def follow(self, task_id: str) -> None:
        thread = threading.Thread(target=self._read, args=(task_id,), daemon=True)
        thread.start()
        self.threads.append(thread)

    def _read(self, task_id: str) -> None:
        with httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(10, read=180)) as client, \
                client.stream("GET", f"/api/v1/tasks/{task_id}/events") as response:
            for line in response.iter_lines():
                if line.startswith("data:"):
                    self.last[task_id] = json.loads(line[5:])


@pytest.fixture
def cluster(tmp_path: Path, pg_database: str, redis_url: str) -> Iterator[dict[str, Any]]:
    data = tmp_path / "shared"  # the media store every process shares (NFS in a real deployment)
    env = {"VIDRAG_DATABASE_URL": pg_database, "VIDRAG_REDIS_URL": redis_url, "VIDRAG_DATA_DIR": str(data),
           "VIDRAG_ENV": "development", "VIDRAG_ALLOW_PRIVATE_NETWORKS": "true", "VIDRAG_MIN_FREE_DISK_MB": "0",
           "VIDRAG_CLEANUP_INTERVAL_MINUTES": "0", "VIDRAG_TASK_LEASE_SECONDS": str(LEASE),
           "VIDRAG_MAX_ATTEMPTS": "5", "VIDRAG_ASR_THREADS": "1"}
    apis = [ServiceProcess(data, env), ServiceProcess(data, env)]
    workers: list[Worker] = []
    try:
        for api in apis:
            api.start(timeout=60)
        workers += [Worker(env, tmp_path / f"worker{i}.log").start() for i in range(2)]
        yield {"apis": apis, "workers": workers, "env": env, "tmp": tmp_path, "db": pg_database}
    finally:
        for worker in workers:
            worker.stop()
        for api in apis:
            api.stop()


def owned_by(db: sa.Engine, pid: int, query: str) -> str | None:
    """The id of a row that ``query`` selects (id, owner) and whose owner is process ``pid``."""
    with db.connect() as conn:
        for row_id, owner in conn.execute(sa.text(query)):
            if owner and owner.split(":")[1] == str(pid):
                return str(row_id)
    return None


def wait_until(what: str, check: Callable[[], str | None], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(480)  # six transcriptions on 2 cores, two of them restarted; the waits inside bound each phase
def test_two_apis_workers_killed_mid_download_and_mid_transcription(cluster: dict[str, Any], media_url: str,
                                                                    talk_url: str) -> None:
    api1, api2 = cluster["apis"]
    workers: list[Worker] = cluster["workers"]
    db = sa.create_engine(cluster["db"])
    client = httpx.Client(base_url=api1.base_url, timeout=30)
    streams = Streams(api2.base_url)
    try:
        dataset = create_dataset(client, "talks")
        task_ids, doc_ids = [], []
        for i in range(DOWNLOADS):
            r = client.post("/api/process", json={"url": f"{media_url}/slow/clip.mp4?bps=60000&n={i}"})
            assert r.status_code == 200, r.text
            task_ids.append(r.json()["task_id"])
        for i in range(VIDEOS):
            r = client.post(f"/api/v1/datasets/{dataset}/document/create-by-url", json={"url": f"{talk_url}?n={i}"})
            assert r.status_code == 201, r.text
            doc_ids.append(r.json()["document"]["id"])
            task_ids.append(r.json()["document"]["task_id"])
        assert len(set(task_ids)) == DOWNLOADS + VIDEOS == 20
        for task_id in task_ids:
            streams.follow(task_id)

        # 1. SIGKILL a worker in the middle of a download; a replacement starts
        victim = workers[0]
        killed_download = wait_until("a download in progress on worker 1", lambda: owned_by(
            db, victim.pid, "SELECT id, owner FROM tasks WHERE status = 'running' AND progress > 5"))
        victim.kill()
        workers.append(Worker(cluster["env"], cluster["tmp"] / "worker2.log").start())

        # 2. SIGKILL a worker in the middle of a transcription (whichever live one runs one); a replacement starts
        live = [w for w in workers if w is not victim]

        def transcribing() -> str | None:
            for worker in live:
                found = owned_by(db, worker.pid, "SELECT id, owner FROM documents WHERE indexing_status = 'transcribe'")
                if found:
                    cluster["transcribing_pid"] = worker.pid
                    return found
            return None

        killed_document = wait_until("a transcription in progress", transcribing, timeout=120)
        second = next(w for w in live if w.pid == cluster["transcribing_pid"])
        second.kill()
        workers.append(Worker(cluster["env"], cluster["tmp"] / "worker3.log").start())

        # every task ends, with a reason when it failed; none is stuck
        finished = {t: wait_for_task(client, t, timeout=240) for t in task_ids}
        for task in finished.values():
            assert task["status"] in TERMINAL
            assert task["status"] == "completed" or task["error"], task
        assert [t["status"] for t in finished.values()].count("completed") == 20
        assert finished[killed_download]["attempts"] >= 2  # it really was interrupted and taken over

        # none done twice: exactly the task's files, on disk, once
        media_root = Path(cluster["env"]["VIDRAG_DATA_DIR"]) / "media"
        for task_id, task in finished.items():
            names = [f["name"] for f in task["files"]]
            assert len(names) == len(set(names))
            assert {f["kind"] for f in task["files"]} >= {"video", "audio"}
            on_disk = sorted(p.name for p in (media_root / task_id).iterdir() if p.is_file())
            assert on_disk == sorted(names), task_id

        # every document indexed once: one transcript, one set of chunks with positions 0..n-1
        docs = {d: wait_indexed(client, dataset, d, timeout=240) for d in doc_ids}
        assert all(d["indexing_status"] == "completed" for d in docs.values()), docs
        with db.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT document_id, count(*), count(DISTINCT position), max(position) FROM segments "
                "GROUP BY document_id")).all()
            transcripts = conn.execute(sa.text("SELECT count(*) FROM transcripts")).scalar()
        counts = {doc: (n, distinct, top) for doc, n, distinct, top in rows}
        assert set(counts) == set(doc_ids)
        for n, distinct, top in counts.values():
            assert n == distinct == top + 1
        assert len({n for n, _, _ in counts.values()}) == 1  # the same talk: the same chunks, resumed or not
        assert transcripts == VIDEOS
        assert docs[killed_document]["indexing_status"] == "completed"

        # API 2 streamed every task to its end, whichever worker ran it
        for thread in streams.threads:
            thread.join(timeout=30)
        assert {t: e.get("status") for t, e in streams.last.items()} == dict.fromkeys(task_ids, "completed")
        hits = client.post(f"/api/v1/datasets/{dataset}/retrieve", json={"query": "dinosaur"}).json()["records"]
        assert hits, "the knowledge base answers after all that"
    finally:
        client.close()
        db.dispose()
