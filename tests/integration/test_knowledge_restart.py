"""A crash (SIGKILL) in the middle of transcription: after restart the document resumes, the media is not
downloaded again, and it ends indexed."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.support.http_server import serve_directory
from tests.support.knowledge import TALK, wait_indexed
from tests.support.service import ServiceProcess
from tests.support.speech import make_timed_video

ENV = {"VIDRAG_ALLOW_PRIVATE_NETWORKS": "true", "VIDRAG_MIN_FREE_DISK_MB": "0", "VIDRAG_ENV": "development",
       "VIDRAG_CLEANUP_INTERVAL_MINUTES": "0", "VIDRAG_ASR_BEAM_SIZE": "5"}  # beam 5: a longer transcription


@pytest.mark.slow
def test_killed_during_transcription_resumes(tmp_path: Path) -> None:
    video, _ = make_timed_video(tmp_path / "media", TALK * 4, gap=1.0, name="long.mp4")  # ~90 s of speech
    data = tmp_path / "data"
    with serve_directory(video.parent) as base:
        proc = ServiceProcess(data, ENV)
        proc.start()
        client = httpx.Client(base_url=proc.base_url, timeout=30)
        try:
            dataset = client.post("/api/v1/datasets", json={"name": "talks"}).json()["id"]
            doc = client.post(f"/api/v1/datasets/{dataset}/document/create-by-url",
                              json={"url": f"{base}/long.mp4"}).json()["document"]
            wait_indexed(client, dataset, doc["id"], timeout=60, until=("transcribe", "completed", "error"))
            time.sleep(0.5)
        finally:
            proc.kill()
            client.close()
        with sqlite3.connect(data / "vidrag.db") as db:
            (status,) = db.execute("SELECT indexing_status FROM documents WHERE id = ?", (doc["id"],)).fetchone()
            (task_id,) = db.execute("SELECT task_id FROM documents WHERE id = ?", (doc["id"],)).fetchone()
        assert status == "transcribe"
        proc = ServiceProcess(data, ENV)
        proc.start()
        client = httpx.Client(base_url=proc.base_url, timeout=30)
        try:
            done = wait_indexed(client, dataset, doc["id"], timeout=120)
            assert done["indexing_status"] == "completed", done
            task = client.get(f"/api/v1/tasks/{task_id}").json()
            assert task["attempts"] == 1  # the media was downloaded once
            assert done["segment_count"] >= 2
            hits = client.post(f"/api/v1/datasets/{dataset}/retrieve", json={"query": "dinosaur hall"}).json()
            assert "dinosaur" in hits["records"][0]["segment"]["content"].lower()
        finally:
            proc.stop()
            client.close()
