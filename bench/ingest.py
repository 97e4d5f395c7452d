"""Ingestion benchmark: chunks per second through the embed + index stages vs the raw embedding loop.

    .venv/bin/python -m bench.ingest              # 1,000 chunks of ~100 words, 3 rounds
    .venv/bin/python -m bench.ingest --quick      # 100 chunks, 1 round: a smoke run

ours: the real path. build_container() on a temp data dir; a dataset whose process rule makes one chunk per
paragraph ({"document": {"max_tokens": 200, "overlap_tokens": 0}}); KnowledgeService.add_text() with the chunks as
paragraphs; the ingest runner, started in this asyncio loop, runs the document. The embed + index time is read from
the document's ``stages`` record (embed.started_at -> index.completed_at); chunks/s = chunks / that time.
baseline: the same OnnxEmbedder instance embedding the same texts in batches of the same size
(settings.embedding_batch_size), nothing else.

The sides alternate (ours, baseline, baseline, ours, ours, baseline, ...) after one uncounted warm-up of each; both
medians and the ratio ours/baseline in chunks/s are printed (goal >= 0.9), with the median of the per-round ratios.
The time spent inside the embedder during our runs is also recorded, so the job's own time is known even when the
machine's speed drifts between runs (on a shared 2-core machine it does, by 2x and more).
Then where the time goes besides the model: the same path with an embedder that returns precomputed vectors
instantly, and its pieces (SQL writes, FTS terms) timed alone.
Writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import update

from bench._common import bench_settings, english_paragraphs, median, table, write_results
from vidrag.api.app import build_container
from vidrag.api.deps import Container
from vidrag.domain.knowledge import IndexingStage
from vidrag.jobs.inprocess import InProcessRunner
from vidrag.retrieval.embedding import Embedder, Vectors
from vidrag.retrieval.terms import terms as index_terms
from vidrag.retrieval.vectors import VectorStore, to_blob
from vidrag.services.ingest_job import TERMINAL, IngestJob
from vidrag.services.knowledge import KnowledgeService
from vidrag.storage.db import Database
from vidrag.storage.knowledge_repo import DatasetRepository, DocumentRepository, SegmentRepository
from vidrag.storage.media import MediaStore
from vidrag.storage.models import SegmentRow

GOAL = 0.9
RULE = {"document": {"max_tokens": 200, "overlap_tokens": 0}}  # ~100-word paragraphs: one chunk each
WARMUP_CHUNKS = 64
POLL_SECONDS = 0.5  # the stage times come from the document's record, not from polling
TIMEOUT_SECONDS = 1800.0


@dataclass
class OursRun:
    chunks: int
    embed_s: float
    index_s: float
    stages_s: float  # embed.started_at -> index.completed_at
    wall_s: float  # add_text() -> completed seen, chunking included
    model_s: float = 0.0  # inside the embedder's embed_documents during the run
    load_average: float = 0.0  # of the last minute, when the run ended

    @property
    def own_s(self) -> float:
        """The job's own time in the embed + index stages: everything but the model."""
        return self.stages_s - self.model_s

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.stages_s


class FixedEmbedder:
    """The real embedder's name and dimension, but vectors come back at once: the job minus the model."""

    def __init__(self, name: str, dimension: int) -> None:
        self.name = name
        self.dimension = dimension
        rng = np.random.default_rng(0)
        unit = rng.standard_normal((64, dimension)).astype(np.float32)
        self._unit: Vectors = unit / np.linalg.norm(unit, axis=1, keepdims=True)

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        rows: Vectors = self._unit[np.arange(len(texts)) % len(self._unit)]
        return rows

    def embed_query(self, text: str) -> Vectors:
        row: Vectors = self._unit[0]
        return row


class ModelClock:
    """Adds up the time spent inside the shared embedder's embed_documents (the instance's method is wrapped;
    a perf_counter pair per batch of 32 costs nothing measurable), so a run's model time and the job's own
    time can be told apart even when the machine's speed drifts between rounds."""

    def __init__(self, model: Embedder) -> None:
        self.seconds = 0.0
        inner = model.embed_documents

        def timed(texts: Sequence[str]) -> Vectors:
            started = time.perf_counter()
            try:
                return inner(texts)
            finally:
                self.seconds += time.perf_counter() - started

        model.embed_documents = timed  # type: ignore[method-assign]


def _seconds(stage: dict[str, Any], end: dict[str, Any] | None = None) -> float:
    started = datetime.fromisoformat(stage["started_at"])
    return (datetime.fromisoformat((end or stage)["completed_at"]) - started).total_seconds()


async def ingest_once(knowledge: KnowledgeService, db: Database, dataset_id: str, paragraphs: list[str],
                      name: str, clock: ModelClock | None = None) -> OursRun:
    """Add ``paragraphs`` as one text document, wait until the runner has indexed it, then delete it."""
    if clock is not None:
        clock.seconds = 0.0
    started = time.perf_counter()
    doc = knowledge.add_text(dataset_id, name, "\n\n".join(paragraphs))
    deadline = started + TIMEOUT_SECONDS
    while True:
        await asyncio.sleep(POLL_SECONDS)
        with db.session() as s:
            row = DocumentRepository(s).get(doc.id)
            assert row is not None
            if row.indexing_status in TERMINAL:
                segments = SegmentRepository(s).of_document(doc.id)
                break
        if time.perf_counter() > deadline:
            sys.exit(f"document {doc.id} not indexed after {TIMEOUT_SECONDS:.0f} s (status {row.indexing_status})")
    wall = time.perf_counter() - started
    if row.indexing_status != IndexingStage.COMPLETED.value:
        sys.exit(f"ingestion failed: {row.error_code}: {row.error}")
    if len(segments) != len(paragraphs) or any(s.content != p for s, p in zip(segments, paragraphs, strict=False)):
        sys.exit(f"expected one chunk per paragraph ({len(paragraphs)}), got {len(segments)}: check RULE")
    embed, index = row.stages[IndexingStage.EMBED.value], row.stages[IndexingStage.INDEX.value]
    run = OursRun(len(segments), _seconds(embed), _seconds(index), _seconds(embed, index), wall,
                  clock.seconds if clock else 0.0, os.getloadavg()[0])
    knowledge.delete_document(dataset_id, doc.id)  # keeps the database the same size for every round
    return run


def raw_loop(embedder: Embedder, texts: list[str], batch: int) -> float:
    """The baseline: nothing but the embedder over the same texts in the same batches."""
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        embedder.embed_documents(texts[start:start + batch])
    return time.perf_counter() - started


# --- where the time goes besides the model -------------------------------------------------------------
def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def pieces(db: Database, dataset_id: str, document_id: str, model: str, dimension: int, batch: int
           ) -> dict[str, float]:
    """The embed and index stages' database and term work, each timed alone on a stored document's segments."""
    rng = np.random.default_rng(1)
    with db.session() as s:
        segments = SegmentRepository(s).of_document(document_id)
    blobs = [to_blob(v / np.linalg.norm(v)) for v in rng.standard_normal((len(segments), dimension))]
    rows = [(seg.id, blob) for seg, blob in zip(segments, blobs, strict=True)]

    def needing() -> None:
        with db.session() as s:
            SegmentRepository(s).needing_embedding(document_id, model + "-other")

    def per_row() -> None:  # what IngestJob._embed does: a session per batch, one UPDATE statement per row
        for start in range(0, len(rows), batch):
            with db.session() as s:
                for segment_id, blob in rows[start:start + batch]:
                    s.execute(update(SegmentRow).where(SegmentRow.id == segment_id).values(
                        embedding=blob, embedding_model=model))

    def executemany() -> None:  # the alternative: an ORM bulk UPDATE by primary key, one executemany per batch
        for start in range(0, len(rows), batch):
            with db.session() as s:
                s.execute(update(SegmentRow), [{"id": i, "embedding": b, "embedding_model": model}
                                               for i, b in rows[start:start + batch]])

    texts = [f"{seg.heading or ''} {seg.content}" for seg in segments]
    terms: list[list[str]] = []

    def load() -> None:
        with db.session() as s:
            SegmentRepository(s).of_document(document_id)

    def make_terms() -> None:
        terms[:] = [index_terms(t) for t in texts]

    def put_terms() -> None:
        with db.session() as s:
            SegmentRepository(s).put_terms(list(zip([seg.id for seg in segments], terms, strict=True)))
            DatasetRepository(s).bump_version(dataset_id)

    per_row()  # warm: statement caches, pages in memory
    executemany()
    return {"embed: select segments needing a vector": _timed(needing),
            "embed: vectors written, one UPDATE per row (as now)": _timed(per_row),
            "embed: vectors written, one executemany per batch": _timed(executemany),
            "index: load the document's segments": _timed(load),
            "index: index_text() terms (regex; jieba only for CJK)": _timed(make_terms),
            "index: put_terms (FTS5 delete + insert) + bump_version": _timed(put_terms)}


async def overhead(container: Container, paragraphs: list[str], rounds: int, batch: int
                   ) -> tuple[list[OursRun], dict[str, float]]:
    """The real job with FixedEmbedder: what embed + index cost besides the model."""
    settings = container.settings
    real = container.knowledge.embedder
    fixed = FixedEmbedder(real.name, real.dimension)
    job = IngestJob(settings, container.db, MediaStore(settings.media_dir, settings.tmp_dir), container.events,
                    lambda: fixed)
    runner = InProcessRunner(job, 1)
    knowledge = KnowledgeService(settings, container.db, container.downloads, runner, VectorStore(), fixed)
    dataset = knowledge.create_dataset("bench-ingest-no-model", process_rule=RULE)
    await runner.start()
    try:
        runs = [await ingest_once(knowledge, container.db, dataset.id, paragraphs, f"no-model-{i}")
                for i in range(rounds + 1)][1:]
        doc = knowledge.add_text(dataset.id, "pieces", "\n\n".join(paragraphs))
        while True:
            await asyncio.sleep(POLL_SECONDS)
            with container.db.session() as s:
                row = DocumentRepository(s).get(doc.id)
                if row is not None and row.indexing_status in TERMINAL:
                    break
        timed = pieces(container.db, dataset.id, doc.id, fixed.name, fixed.dimension, batch)
    finally:
        await runner.stop()
    return runs, timed


# --- the run ----------------------------------------------------------------------------------------------
async def bench(container: Container, paragraphs: list[str], rounds: int) -> dict[str, Any]:
    batch = container.settings.embedding_batch_size
    embedder = container.knowledge.embedder
    model = embedder.get() if hasattr(embedder, "get") else embedder  # SharedEmbedder -> the OnnxEmbedder
    dataset = container.knowledge.create_dataset("bench-ingest", process_rule=RULE)
    clock = ModelClock(model)
    await container.ingest_runner.start()
    try:
        print(f"embedder {model.name}: {len(paragraphs)} chunks, batches of {batch} "
              f"(the model itself runs {getattr(model, 'batch_size', '?')} text(s) per call)")
        warm = paragraphs[:WARMUP_CHUNKS]
        warm_ours = await ingest_once(container.knowledge, container.db, dataset.id, warm, "warm-up", clock)
        warm_raw = raw_loop(model, warm, batch)
        print(f"warm-up ({len(warm)} chunks): ours {warm_ours.stages_s:.2f} s, raw {warm_raw:.2f} s")
        ours: list[OursRun] = []
        raw: list[float] = []
        for i in range(rounds):  # ours first in odd rounds, raw first in even ones: drift hits both alike
            if i % 2:
                raw.append(raw_loop(model, paragraphs, batch))
            ours.append(await ingest_once(container.knowledge, container.db, dataset.id, paragraphs, f"round-{i}",
                                          clock))
            if not i % 2:
                raw.append(raw_loop(model, paragraphs, batch))
            print(f"round {i + 1}: ours {ours[-1].chunks_per_s:.1f} chunks/s ({ours[-1].stages_s:.2f} s, model "
                  f"{ours[-1].model_s:.2f} s), raw {len(paragraphs) / raw[-1]:.1f} chunks/s ({raw[-1]:.2f} s), "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        await container.ingest_runner.stop()
    no_model, timed = await overhead(container, paragraphs, max(1, rounds), batch)
    return {"ours": ours, "raw": raw, "no_model": no_model, "pieces": timed, "batch": batch,
            "embedder": model.name, "warmup": {"chunks": len(warm), "ours_s": warm_ours.stages_s, "raw_s": warm_raw}}


def report(result: dict[str, Any], chunks: int) -> dict[str, Any]:
    ours: list[OursRun] = result["ours"]
    raw: list[float] = result["raw"]
    rows = [[str(i + 1), f"{o.chunks_per_s:.1f}", f"{o.stages_s:.2f}", f"{o.model_s:.2f}", f"{o.own_s:.2f}",
             f"{chunks / r:.1f}", f"{r:.2f}", f"{o.load_average:.1f}"] for i, (o, r) in enumerate(zip(ours, raw,
                                                                                                      strict=True))]
    ours_cps = median([o.chunks_per_s for o in ours])
    raw_cps = median([chunks / r for r in raw])
    ratio = ours_cps / raw_cps
    paired = median([o.chunks_per_s * r / chunks for o, r in zip(ours, raw, strict=True)])  # round by round
    in_model = median([o.model_s / o.stages_s for o in ours])  # immune to the machine's drift between rounds
    rows.append(["median", f"**{ours_cps:.1f}**", f"{median([o.stages_s for o in ours]):.2f}",
                 f"{median([o.model_s for o in ours]):.2f}", f"{median([o.own_s for o in ours]):.2f}",
                 f"**{raw_cps:.1f}**", f"{median(raw):.2f}", ""])
    print()
    print(table(["round", "ours chunks/s", "ours embed+index s", "of which model s", "job's own s",
                 "raw loop chunks/s", "raw s", "load avg"], rows))
    verdict = "met" if ratio >= GOAL else "NOT met"
    print(f"\nratio ours/raw (of the medians): {ratio:.3f} (goal >= {GOAL}: {verdict}); median of the per-round "
          f"ratios {paired:.3f}; within ours' own runs the model took {in_model:.1%} of the embed + index time (the "
          f"ratio a machine whose speed does not drift would show)")

    no_model: list[OursRun] = result["no_model"]
    nm_embed, nm_index = median([r.embed_s for r in no_model]), median([r.index_s for r in no_model])
    per_chunk_model_ms = 1000 * median(raw) / chunks
    print(f"\nwhere the time goes ({chunks} chunks): the model {median(raw):.2f} s "
          f"({per_chunk_model_ms:.1f} ms/chunk); the same job with instant vectors: embed stage {nm_embed:.3f} s, "
          f"index stage {nm_index:.3f} s ({(nm_embed + nm_index) / median(raw):.1%} of the model's time)")
    pieces_rows = [[k, f"{v:.3f}", f"{1000 * v / chunks:.3f}"] for k, v in result["pieces"].items()]
    print(table(["piece (timed alone)", "s", "ms/chunk"], pieces_rows, [False, True, True]))
    return {"chunks": chunks, "batch": result["batch"], "embedder": result["embedder"], "warmup": result["warmup"],
            "ours": [asdict(o) | {"chunks_per_s": o.chunks_per_s, "own_s": o.own_s} for o in ours],
            "raw_s": raw, "ours_median_chunks_per_s": ours_cps, "raw_median_chunks_per_s": raw_cps,
            "ratio": ratio, "goal": GOAL, "goal_met": ratio >= GOAL, "paired_ratio": paired,
            "model_share_of_ours": in_model,
            "no_model": [asdict(r) for r in no_model], "pieces_s": result["pieces"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--words", type=int, default=100, help="words per chunk (+-10 %%)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="100 chunks, 1 round: a smoke run")
    args = parser.parse_args()
    chunks, rounds = (100, 1) if args.quick else (args.chunks, args.rounds)
    paragraphs = english_paragraphs(chunks, args.words)
    with tempfile.TemporaryDirectory(prefix="vidrag-bench-ingest-") as tmp:
        container = build_container(bench_settings(Path(tmp) / "data"))
        try:
            result = asyncio.run(bench(container, paragraphs, rounds))
        finally:
            container.db.dispose()
    payload = report(result, chunks)
    print(f"wrote {write_results('ingest', {'rule': RULE, 'words': args.words, 'rounds': rounds, **payload})}")


if __name__ == "__main__":
    main()
