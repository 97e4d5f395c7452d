"""Helpers for knowledge-base tests: a timed talk served on 127.0.0.1, and waiting for indexing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.service import poll_until
from tests.support.speech import make_timed_video

# Distinct topics, so one question has one right sentence.
TALK = [
    "The lighthouse keeper counted seven ships before sunrise.",
    "Fresh basil grows best in warm soil with plenty of water.",
    "Our football team won the championship after a long penalty shootout.",
    "Volcanic eruptions can cool the planet by blocking sunlight with ash.",
    "The museum opens its dinosaur hall every Saturday morning.",
]
QUESTIONS = {
    1: "What soil and how much water do plants need?",  # (tiny.en mishears espeak-ng's "basil")
    3: "What effect do volcanoes have on the climate?",
    4: "When is the dinosaur exhibition open?",
}
# small transcript chunks, so each holds about one sentence and a citation pins a sentence down
FINE_CHUNKS = {"transcript": {"max_tokens": 14, "overlap_tokens": 0, "pause_seconds": 1.0}}


@dataclass(frozen=True)
class Talk:
    path: Path
    times: list[tuple[float, float]]

    @property
    def duration(self) -> float:
        return self.times[-1][1]


def make_talk(directory: Path) -> Talk:
    path, times = make_timed_video(directory, TALK, gap=1.5, name="talk.mp4")
    return Talk(path, times)


def wait_indexed(client: httpx.Client, dataset_id: str, document_id: str, timeout: float = 120,
                 until: tuple[str, ...] = ("completed", "error")) -> dict[str, Any]:
    return poll_until(client, f"/api/v1/datasets/{dataset_id}/documents/{document_id}", "indexing_status", until,
                      timeout, interval=0.2)


def create_dataset(client: httpx.Client, name: str, **extra: Any) -> str:
    r = client.post("/api/v1/datasets", json={"name": name, **extra})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def retrieve(client: httpx.Client, dataset_id: str, query: str, **model: Any) -> list[dict[str, Any]]:
    r = client.post(f"/api/v1/datasets/{dataset_id}/retrieve", json={"query": query, "retrieval_model": model})
    assert r.status_code == 200, r.text
    records: list[dict[str, Any]] = r.json()["records"]
    return records
