"""Prometheus metrics that code records as it runs (requests, stages, transcription speed, job outcomes).

Each API app and each worker process owns a ``Metrics`` with its own ``CollectorRegistry`` (no module-level
registry: a test process runs many services). Jobs receive a ``JobMetrics``; it defaults to ``NO_METRICS``, so
the CLI and tests that build jobs directly record nothing. Gauges read at scrape time (tasks by state, queues,
disk, DB pool) are collectors added by the API layer, which knows the database and the runners.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from vidrag.domain.errors import TaskCancelled

# Stages run from a fraction of a second (chunking a page) to hours (a long download or transcription).
STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
# API answers: the p95 alert's threshold (0.5 s) is a bucket boundary, so the quantile is exact there.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# audio seconds per wall second: < 1 cannot keep up with real time; the bundled tiny.en runs ~10-25x on 2 cores
RTF_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
JOB_KINDS = ("download", "ingest")
JOB_OUTCOMES = ("completed", "failed", "cancelled")


class JobMetrics(Protocol):
    """What jobs record. Stage names are IndexingStage / Stage values (download, extract_audio, transcribe, ...)."""

    def stage(self, name: str) -> AbstractContextManager[None]:
        """Time the block as one run of stage ``name``; its outcome is ok, cancelled or failed (by exception)."""

    def transcribed(self, audio_seconds: float, wall_seconds: float) -> None:
        """A speech-to-text run over ``audio_seconds`` of audio took ``wall_seconds``."""

    def job_finished(self, kind: str, outcome: str) -> None:
        """A job of ``kind`` (download, ingest) ended as ``outcome`` (completed, failed, cancelled)."""


class _NoMetrics:
    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        yield

    def transcribed(self, audio_seconds: float, wall_seconds: float) -> None:
        return None

    def job_finished(self, kind: str, outcome: str) -> None:
        return None


NO_METRICS: JobMetrics = _NoMetrics()


def status_class(status: int) -> str:
    """200 -> "2xx": bounded label values, and what alerts and dashboards group by anyway."""
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class Metrics:
    """The metrics of one API app or one worker process, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None, *, process: bool = True) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # process-wide; Prometheus 2 stores *_created as series
        self.registry = registry or CollectorRegistry()
        if process:  # the client's default collectors: process_*, python_info, python_gc_*
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        reg = self.registry
        self.request_seconds = Histogram(
            "vidrag_http_request_duration_seconds", "HTTP requests by route template, method and status class, "
            "until the response ends (streams included)", ["route", "method", "status"],
            buckets=REQUEST_BUCKETS, registry=reg)
        self.stage_seconds = Histogram(
            "vidrag_stage_duration_seconds", "Pipeline stage runs by stage and outcome (ok, failed, cancelled)",
            ["stage", "outcome"], buckets=STAGE_BUCKETS, registry=reg)
        self.transcription_rtf = Histogram(
            "vidrag_transcription_realtime_factor", "Speech-to-text speed of each run: audio seconds per wall "
            "second (above 1 is faster than real time)", buckets=RTF_BUCKETS, registry=reg)
        self.audio_seconds = Counter("vidrag_transcribed_audio_seconds", "Audio transcribed by Whisper, seconds",
                                     registry=reg)
        self.transcription_seconds = Counter("vidrag_transcription_wall_seconds",
                                             "Wall time spent transcribing with Whisper, seconds", registry=reg)
        self.jobs_finished = Counter("vidrag_jobs_finished", "Jobs ended, by kind (download, ingest) and outcome",
                                     ["kind", "outcome"], registry=reg)
        for kind in JOB_KINDS:  # present at 0 from the start, so "nothing finished lately" is a query, not an absence
            for outcome in JOB_OUTCOMES:
                self.jobs_finished.labels(kind, outcome)

    # --- JobMetrics ---------------------------------------------------------------------------------
    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        outcome = "failed"
        try:
            yield
            outcome = "ok"
        except TaskCancelled:
            outcome = "cancelled"
            raise
        finally:
            self.stage_seconds.labels(name, outcome).observe(time.perf_counter() - started)

    def transcribed(self, audio_seconds: float, wall_seconds: float) -> None:
        if audio_seconds <= 0 or wall_seconds <= 0:
            return
        self.audio_seconds.inc(audio_seconds)
        self.transcription_seconds.inc(wall_seconds)
        self.transcription_rtf.observe(audio_seconds / wall_seconds)

    def job_finished(self, kind: str, outcome: str) -> None:
        self.jobs_finished.labels(kind, outcome).inc()

    # --- HTTP -------------------------------------------------------------------------------------------
    def request_done(self, route: str, method: str, status: int, seconds: float) -> None:
        self.request_seconds.labels(route, method, status_class(status)).observe(seconds)
