"""Retrieval quality: keyword (BM25, the baseline), semantic and hybrid search side by side on a labelled set.

    .venv/bin/python -m bench.quality [--details]

The set (bench/data/quality.json, described in bench/data/README.md) holds ~60 short passages, ~60 queries with
graded relevance (2 = answers it, 1 = related) and a spoken "talk" whose questions are each answered by one
sentence. Everything goes through the real services on a fresh data dir: each passage is a text document cut into
exactly one chunk; the talk becomes an espeak-ng video served from 127.0.0.1, downloaded, transcribed (bundled
tiny.en) and cut into small transcript chunks. Every query then runs through ``SearchService.retrieve`` (top 10)
with each method, and is scored:

- nDCG@10, gains 2^grade - 1 over both grades;
- recall@1/5/10 and MRR over the passages that answer (grade 2);
- citation-in-span (talk): the top hit's [start, end] holds the middle of the answering sentence's true time.

The baseline is keyword-only search; each method is printed next to it with the difference.

Answers with the default chunk rule: the same talk goes into a second knowledge base with the default transcript
rule (chunks of up to 160 tokens, several sentences each), and each talk question through ``AnswerService.answer``
(extractive: no model is configured). Its first source is scored twice in the same run: ours, the citation's
[start, end] (the answering sentence's seconds), against the baseline, the chunk's own span (what the citation was
before): |start - true sentence start| and whether the true sentence's middle lies inside. Also the share answered
``supported`` (baseline: the rule before, the best whole chunk's cosine reaching the threshold) and the median
latency (baseline: the hybrid retrieval alone that the answer starts with).

Writes bench/results/quality.json (summaries, every query's ranking and scores, the talk's chunks and citations,
each answer's spans).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from tests.conftest import make_settings
from tests.support.http_server import serve_directory
from tests.support.speech import make_timed_video

from vidrag.api.app import build_container
from vidrag.api.deps import Container
from vidrag.domain.knowledge import IndexingStage, RetrievalQuery, SearchMethod
from vidrag.pipeline.transcribe import model_label
from vidrag.retrieval.fusion import RRF_K
from vidrag.services.knowledge import KnowledgeService

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "quality.json"
RESULTS = ROOT / "bench" / "results"
TOP_K = 10
RECALL_AT = (1, 5, 10)
METRICS = ("ndcg@10", *(f"recall@{k}" for k in RECALL_AT), "mrr")
WEIGHTS = (0.7, 0.3)  # hybrid: semantic, keyword
PASSAGE_RULE = {"document": {"max_tokens": 120, "overlap_tokens": 0}}  # one chunk per passage
TALK_RULE = {"transcript": {"max_tokens": 20, "overlap_tokens": 0}}  # about one sentence per chunk
ANSWER_TOP_K = 5  # AnswerService.answer's default
INDEX_TIMEOUT_S = 150.0
console = Console(width=None if sys.stdout.isatty() else 120)  # logs and pipes get the whole table


# --- the labelled set --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Passage:
    id: str
    lang: str
    text: str


@dataclass(frozen=True)
class Query:
    id: str
    lang: str
    kind: str  # paraphrase (other words), exact (names, numbers, codes), homonym (same word, other sense nearby)
    text: str
    relevant: dict[str, int]  # passage id -> 2 (answers it) or 1 (related)

    @property
    def answers(self) -> set[str]:
        return {p for p, grade in self.relevant.items() if grade >= 2}


@dataclass(frozen=True)
class TalkQuestion:
    id: str
    text: str
    answer: int  # index of the sentence that answers it


@dataclass(frozen=True)
class Talk:
    sentences: list[str]
    gap_seconds: float
    questions: list[TalkQuestion]


@dataclass(frozen=True)
class LabelledSet:
    passages: list[Passage]
    queries: list[Query]
    talk: Talk

    def groups(self) -> dict[str, list[Query]]:
        """All queries, then by language, then by kind."""
        out: dict[str, list[Query]] = {"all": self.queries}
        for key in ("lang", "kind"):
            for value in dict.fromkeys(getattr(q, key) for q in self.queries):
                out[value] = [q for q in self.queries if getattr(q, key) == value]
        return out


def load_set(path: Path) -> LabelledSet:
    raw = json.loads(path.read_text(encoding="utf-8"))
    talk = raw["talk"]
    data = LabelledSet([Passage(**p) for p in raw["passages"]], [Query(**q) for q in raw["queries"]],
                       Talk(talk["sentences"], talk["gap_seconds"], [TalkQuestion(**q) for q in talk["questions"]]))
    check_set(data)
    return data


def check_set(data: LabelledSet) -> None:
    ids = [p.id for p in data.passages]
    if len(set(ids)) != len(ids) or len({q.id for q in data.queries}) != len(data.queries):
        raise ValueError("passage and query ids must be unique")
    for q in data.queries:
        if set(q.relevant) - set(ids) or not q.answers or set(q.relevant.values()) - {1, 2}:
            raise ValueError(f"query {q.id}: labels must be known passages graded 1 or 2, with at least one 2")
    if any(not 0 <= t.answer < len(data.talk.sentences) for t in data.talk.questions):
        raise ValueError("every talk question must name one of the talk's sentences")


# --- metrics -----------------------------------------------------------------------------------------------------
def dcg(grades: Sequence[int]) -> float:
    return sum((2.0**g - 1) / math.log2(rank + 2) for rank, g in enumerate(grades))


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    ideal = dcg(sorted(relevant.values(), reverse=True)[:k])
    return dcg([relevant.get(p, 0) for p in ranked[:k]]) / ideal if ideal else 0.0


def recall_at(ranked: Sequence[str], answers: set[str], k: int) -> float:
    return len(answers & set(ranked[:k])) / len(answers)


def reciprocal_rank(ranked: Sequence[str], answers: set[str]) -> float:
    return next((1.0 / (rank + 1) for rank, p in enumerate(ranked) if p in answers), 0.0)


def score(q: Query, ranked: Sequence[str]) -> dict[str, float]:
    scores = {"ndcg@10": ndcg_at(ranked, q.relevant, TOP_K)}
    scores.update({f"recall@{k}": recall_at(ranked, q.answers, k) for k in RECALL_AT})
    scores["mrr"] = reciprocal_rank(ranked, q.answers)
    return scores


# --- the knowledge base ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Knowledge:
    corpus_id: str
    talk_id: str
    talk_doc_id: str
    passage_of: dict[str, str]  # document id -> passage id
    long_talk_id: str  # the same talk under the default chunk rule
    long_talk_doc_id: str
    times: list[tuple[float, float]]  # each talk sentence's true [start, end) in seconds
    seconds: float  # first document added to the last one indexed


async def build_knowledge(c: Container, data: LabelledSet, work: Path) -> Knowledge:
    """Both knowledge bases, indexed by the real runners (downloads and ingestion), as the service does it."""
    c.events.bind(asyncio.get_running_loop())
    await c.runner.start()
    await c.ingest_runner.start()
    try:
        return await _ingest(c, data, work)
    finally:
        await c.ingest_runner.stop()
        await c.runner.stop()


async def _ingest(c: Container, data: LabelledSet, work: Path) -> Knowledge:
    talk_dir = work / "talk"
    video, times = await asyncio.to_thread(make_timed_video, talk_dir, data.talk.sentences, data.talk.gap_seconds,
                                           "talk.mp4")
    kb = c.knowledge
    with serve_directory(talk_dir) as base:
        started = time.perf_counter()
        corpus = kb.create_dataset("quality-passages", process_rule=PASSAGE_RULE)
        talk = kb.create_dataset("quality-talk", process_rule=TALK_RULE)
        long_talk = kb.create_dataset("quality-talk-default-rule")  # no process_rule: the default chunks
        talk_doc = await asyncio.to_thread(kb.add_url, talk.id, f"{base}/{video.name}", "talk")
        long_doc = await asyncio.to_thread(kb.add_url, long_talk.id, f"{base}/{video.name}", "talk")
        passage_of = {kb.add_text(corpus.id, p.id, p.text).id: p.id for p in data.passages}
        await wait_indexed(kb, {**dict.fromkeys(passage_of, corpus.id), talk_doc.id: talk.id,
                                long_doc.id: long_talk.id})
        seconds = time.perf_counter() - started
    check_one_chunk_each(kb, corpus.id, passage_of)
    return Knowledge(corpus.id, talk.id, talk_doc.id, passage_of, long_talk.id, long_doc.id, times, seconds)


async def wait_indexed(kb: KnowledgeService, pending: dict[str, str]) -> None:
    """Poll each document (id -> dataset id) until it is completed; an error or INDEX_TIMEOUT_S stops the run."""
    waiting = dict(pending)
    try:
        async with asyncio.timeout(INDEX_TIMEOUT_S):
            while waiting:
                for doc_id, dataset_id in list(waiting.items()):
                    row = kb.document(dataset_id, doc_id)
                    if row.indexing_status == IndexingStage.ERROR.value:
                        raise RuntimeError(f"document '{row.name}' failed: {row.error_code}: {row.error}")
                    if row.indexing_status == IndexingStage.COMPLETED.value:
                        del waiting[doc_id]
                await asyncio.sleep(0.1)
    except TimeoutError as exc:
        raise TimeoutError(f"{len(waiting)} documents not indexed after {INDEX_TIMEOUT_S:.0f} s") from exc


def check_one_chunk_each(kb: KnowledgeService, corpus_id: str, passage_of: dict[str, str]) -> None:
    split = [p for doc, p in passage_of.items() if kb.segments(corpus_id, doc, 0, 1, None, None)[1] != 1]
    if split:
        raise RuntimeError(f"passages not stored as exactly one chunk: {', '.join(split)}")


def talk_chunks(c: Container, dataset_id: str, doc_id: str) -> list[dict[str, Any]]:
    rows = c.knowledge.segments(dataset_id, doc_id, 0, 500, None, None)[0]
    return [{"start": r.start, "end": r.end, "text": r.content} for r in rows]


# --- running the queries -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    key: str
    label: str
    search: SearchMethod
    fusion: str = "weighted"

    def query(self, text: str) -> RetrievalQuery:
        return RetrievalQuery(text, self.search, TOP_K, semantic_weight=WEIGHTS[0], keyword_weight=WEIGHTS[1],
                              fusion=self.fusion)


BASELINE = Method("keyword", "keyword (BM25)", SearchMethod.KEYWORD)
METHODS = (BASELINE, Method("semantic", "semantic", SearchMethod.SEMANTIC),
           Method("hybrid", f"hybrid {WEIGHTS[0]}/{WEIGHTS[1]}", SearchMethod.HYBRID),
           Method("hybrid_rrf", "hybrid RRF", SearchMethod.HYBRID, "rrf"))


@dataclass(frozen=True)
class Citation:
    question: str
    truth: tuple[float, float]  # the answering sentence's true time
    cited: tuple[float, float] | None  # the top hit's [start, end]
    text: str  # the top hit's text
    inside: bool  # the middle of the truth lies in the cited span


@dataclass
class Evaluation:
    method: Method
    ranked: dict[str, list[str]] = field(default_factory=dict)  # query id -> passage ids, best first
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # query id -> metric -> value
    ms: list[float] = field(default_factory=list)  # latency of each retrieve call
    citations: list[Citation] = field(default_factory=list)
    summary: dict[str, float] = field(default_factory=dict)  # "metric/group" -> mean


def evaluate(c: Container, kb: Knowledge, data: LabelledSet, method: Method) -> Evaluation:
    ev = Evaluation(method)
    for q in data.queries:
        started = time.perf_counter()
        results = c.search.retrieve(kb.corpus_id, method.query(q.text))
        ev.ms.append(1000 * (time.perf_counter() - started))
        ev.ranked[q.id] = [kb.passage_of[r.document.id] for r in results]
        ev.scores[q.id] = score(q, ev.ranked[q.id])
    ev.citations = [cite(c, kb, t, method) for t in data.talk.questions]
    ev.summary = summarize(ev, data)
    return ev


def cite(c: Container, kb: Knowledge, question: TalkQuestion, method: Method) -> Citation:
    truth = kb.times[question.answer]
    middle = (truth[0] + truth[1]) / 2
    results = c.search.retrieve(kb.talk_id, method.query(question.text))
    top = results[0].segment if results else None
    if top is None or top.start is None or top.end is None:
        return Citation(question.id, truth, None, "", inside=False)
    return Citation(question.id, truth, (top.start, top.end), top.content, inside=top.start <= middle <= top.end)


def summarize(ev: Evaluation, data: LabelledSet) -> dict[str, float]:
    summary = {f"{metric}/{group}": statistics.fmean(ev.scores[q.id][metric] for q in queries)
               for group, queries in data.groups().items() for metric in METRICS}
    summary["citation"] = statistics.fmean(float(c.inside) for c in ev.citations)
    summary["ms"] = statistics.median(ev.ms)
    return summary


# --- answers with the default chunk rule -------------------------------------------------------------------------
@dataclass(frozen=True)
class AnswerCheck:
    question: str
    truth: tuple[float, float]  # the answering sentence's true time
    cited: tuple[float, float] | None  # ours: the first source's start and end (its answering sentence)
    chunk: tuple[float, float] | None  # the baseline: that source's chunk, where the citation used to open
    supported: bool
    supported_before: bool  # the rule before: the best whole chunk's cosine reaches answer_min_similarity
    quote: str
    ms: float  # AnswerService.answer
    retrieve_ms: float  # the hybrid retrieval it starts with, alone


def check_answers(c: Container, kb: Knowledge, data: LabelledSet) -> list[AnswerCheck]:
    checks = []
    for q in data.talk.questions:
        started = time.perf_counter()
        answer = c.answers.answer(kb.long_talk_id, q.text, top_k=ANSWER_TOP_K)
        ms = 1000 * (time.perf_counter() - started)
        started = time.perf_counter()
        hits = c.search.retrieve(kb.long_talk_id, RetrievalQuery(q.text, SearchMethod.HYBRID, ANSWER_TOP_K))
        retrieve_ms = 1000 * (time.perf_counter() - started)
        closest = max((r.hit.semantic_score or 0.0 for r in hits), default=0.0)
        first = answer.sources[0] if answer.sources else None
        checks.append(AnswerCheck(q.id, kb.times[q.answer], _seconds(first.place) if first else None,
                                  _seconds(first.chunk) if first else None, answer.supported,
                                  closest >= c.settings.answer_min_similarity, first.quote if first else "", ms,
                                  retrieve_ms))
    return checks


def _seconds(fields: dict[str, Any]) -> tuple[float, float] | None:
    start, end = fields.get("start"), fields.get("end")
    return None if start is None or end is None else (float(start), float(end))


def span_scores(checks: list[AnswerCheck], spans: list[tuple[float, float] | None]) -> dict[str, float]:
    """Over every question (no source counts as outside); offsets and lengths over those with a source."""
    cited = [(ch.truth, span) for ch, span in zip(checks, spans, strict=True) if span is not None]
    offsets = [abs(span[0] - truth[0]) for truth, span in cited] or [math.nan]
    return {"in_span": sum(span[0] <= (truth[0] + truth[1]) / 2 <= span[1] for truth, span in cited) / len(checks),
            "offset_median_s": statistics.median(offsets), "offset_max_s": max(offsets),
            "length_median_s": statistics.median([span[1] - span[0] for _, span in cited] or [math.nan])}


def answer_summary(checks: list[AnswerCheck]) -> dict[str, dict[str, float]]:
    ours = span_scores(checks, [ch.cited for ch in checks])
    ours.update(supported=statistics.fmean(ch.supported for ch in checks),
                ms=statistics.median(ch.ms for ch in checks))
    base = span_scores(checks, [ch.chunk for ch in checks])
    base.update(supported=statistics.fmean(ch.supported_before for ch in checks),
                ms=statistics.median(ch.retrieve_ms for ch in checks))
    return {"ours": ours, "baseline": base, "ratio": {k: ours[k] / base[k] if base[k] else math.nan for k in ours}}


ANSWER_ROWS = (("offset_median_s", "|start − true start|, median s"), ("offset_max_s", "|start − true start|, max s"),
               ("length_median_s", "cited span, median s"), ("in_span", "true middle in [start, end]"),
               ("supported", "answered supported"), ("ms", "ms / question (median)"))


def answer_report(c: Container, kb: Knowledge, checks: list[AnswerCheck]) -> dict[str, Any]:
    def number(v: float) -> float | None:  # JSON has no NaN
        return None if math.isnan(v) else round(v, 4)

    summary = answer_summary(checks)
    return {"rule": "default (no process_rule)", "top_k": ANSWER_TOP_K, "mode": c.answers.mode.value,
            "min_similarity": c.settings.answer_min_similarity,
            "summary": {side: {k: number(v) for k, v in values.items()} for side, values in summary.items()},
            "chunks": talk_chunks(c, kb.long_talk_id, kb.long_talk_doc_id),
            "questions": [asdict(ch) | {"ms": round(ch.ms, 2), "retrieve_ms": round(ch.retrieve_ms, 2)}
                          for ch in checks]}


def print_answers(answers: dict[str, Any]) -> None:
    summary = answers["summary"]
    table = Table(title=f"Answers' first source, default chunk rule ({len(answers['chunks'])} chunk(s) for "
                        f"{len(answers['questions'])} talk qs); baseline: the chunk's span, supported on whole "
                        "chunks, ms of the retrieval alone")
    for heading in ("metric", "baseline (chunk)", "ours (sentence)", "ratio ours/baseline"):
        table.add_column(heading, justify="left" if heading == "metric" else "right", no_wrap=True)
    for key, label in ANSWER_ROWS:
        digits = 1 if key == "ms" else 3 if key in ("in_span", "supported") else 2
        values = [summary["baseline"][key], summary["ours"][key]]
        table.add_row(escape(label), *("–" if v is None else f"{v:.{digits}f}" for v in values),
                      "–" if summary["ratio"][key] is None else f"{summary['ratio'][key]:.3g}")
    console.print(table)


# --- report ------------------------------------------------------------------------------------------------------
def ceiling(data: LabelledSet) -> dict[str, float]:
    """The best each metric can be with these labels (recall@1 is below 1 where two passages answer a query)."""
    best = {q.id: score(q, sorted(q.relevant, key=lambda p: -q.relevant[p])) for q in data.queries}
    return {m: statistics.fmean(best[q.id][m] for q in data.queries) for m in METRICS}


def table_rows(data: LabelledSet) -> list[tuple[str, str]]:
    """(summary key, label) in print order: every metric over all queries, then nDCG@10 and MRR by group."""
    groups = data.groups()
    names = {"ndcg@10": "nDCG@10", "mrr": "MRR"}
    rows = [(f"{m}/all", f"{names.get(m, m)} (all {len(data.queries)})") for m in METRICS]
    for group in list(groups)[1:]:
        rows += [(f"{m}/{group}", f"{names[m]} {group} ({len(groups[group])})") for m in ("ndcg@10", "mrr")]
    rows += [("citation", f"citation-in-span ({len(data.talk.questions)} talk qs)"), ("ms", "ms / query (median)")]
    return rows


def cell(value: float, base: float | None, key: str) -> str:
    """The value, and its difference from the baseline (green: better, red: worse; latency is not judged)."""
    if key == "ms":
        return f"{value:.1f}" if base is None else f"{value:.1f} ({value - base:+.1f})"
    if base is None:
        return f"{value:.3f}"
    diff = value - base
    colour = "green" if diff > 0.0005 else "red" if diff < -0.0005 else "dim"
    return f"{value:.3f} [{colour}]({diff:+.3f})[/{colour}]"


def print_summary(evaluations: list[Evaluation], data: LabelledSet) -> None:
    base = evaluations[0]
    table = Table(title=f"Retrieval quality: {len(data.passages)} passages, {len(data.queries)} queries, top {TOP_K}; "
                        f"(Δ) = difference from the baseline, {base.method.label}")
    table.add_column("metric", no_wrap=True)
    table.add_column(f"{base.method.label} (baseline)", justify="right", no_wrap=True)
    for ev in evaluations[1:]:
        table.add_column(ev.method.label, justify="right", no_wrap=True)
    section_ends = {"mrr/all", table_rows(data)[-3][0]}
    for key, label in table_rows(data):
        table.add_row(label, cell(base.summary[key], None, key),
                      *(cell(ev.summary[key], base.summary[key], key) for ev in evaluations[1:]),
                      end_section=key in section_ends)
    console.print(table)
    limits = ", ".join(f"{m} {v:.3f}" for m, v in ceiling(data).items() if v < 1)
    if limits:
        console.print(f"best possible with these labels: {limits} (some queries have two answering passages)")


def print_details(evaluations: list[Evaluation], data: LabelledSet) -> None:
    """Queries on which the methods disagree (reciprocal ranks 0.5 apart or more), and every missed citation."""
    table = Table("query", "kind", *(ev.method.key for ev in evaluations), "text",
                  title="Reciprocal rank where the methods disagree")
    for q in data.queries:
        rr = [ev.scores[q.id]["mrr"] for ev in evaluations]
        if max(rr) - min(rr) >= 0.5:
            table.add_row(q.id, q.kind, *(f"{r:.2f}" for r in rr), escape(q.text))
    console.print(table)
    for ev in evaluations:
        for cit in (c for c in ev.citations if not c.inside):
            where = f"{cit.cited[0]:.1f}-{cit.cited[1]:.1f} s {cit.text!r}" if cit.cited else "nothing"
            console.print(escape(f"citation miss ({ev.method.key}) {cit.question}: answer at {cit.truth[0]:.1f}-"
                                 f"{cit.truth[1]:.1f} s, cited {where}"))


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
            "platform": platform.platform(), "python": platform.python_version(),
            "onnxruntime": version("onnxruntime"), "jieba": version("jieba")}


def git_state() -> dict[str, Any]:
    """The commit measured, and whether src/ had uncommitted changes (others edit it while this runs)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"), "src_changed": bool(git("status", "--porcelain", "src"))}


def report(c: Container, kb: Knowledge, data: LabelledSet, evaluations: list[Evaluation]) -> dict[str, Any]:
    base = evaluations[0].summary
    groups = data.groups()
    return {
        "benchmark": "retrieval quality: keyword (baseline) vs semantic vs hybrid, same knowledge base, same run",
        "baseline": BASELINE.key,
        "set": {"file": str(DATA.relative_to(ROOT)), "passages": len(data.passages),
                "queries": {g: len(qs) for g, qs in groups.items()}, "talk_sentences": len(data.talk.sentences),
                "talk_questions": len(data.talk.questions)},
        "settings": {"top_k": TOP_K, "hybrid_weights": WEIGHTS, "rrf_k": RRF_K, "passage_rule": PASSAGE_RULE,
                     "talk_rule": TALK_RULE, "embedding_model": c.search.embedder.name, "asr_model": model_label(None),
                     "ndcg_gain": "2^grade - 1", "recall_mrr_relevant": "grade 2"},
        "ceiling": {m: round(v, 4) for m, v in ceiling(data).items()},
        "machine": machine(),
        "git": git_state(),
        "index_s": round(kb.seconds, 2),
        "talk": {"times": [[round(a, 3), round(b, 3)] for a, b in kb.times],
                 "chunks": talk_chunks(c, kb.talk_id, kb.talk_doc_id)},
        "methods": {ev.method.key: {
            "label": ev.method.label,
            "summary": {k: round(v, 4) for k, v in ev.summary.items()},
            "vs_baseline": {k: round(v - base[k], 4) for k, v in ev.summary.items()},
            "queries": [{"id": q.id, "ranked": ev.ranked[q.id], **{k: round(v, 4) for k, v in ev.scores[q.id].items()}}
                        for q in data.queries],
            "citations": [asdict(cit) for cit in ev.citations]} for ev in evaluations},
    }


# --- main --------------------------------------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--details", action="store_true", help="also print disagreements and missed citations")
    return parser.parse_args()


def run(data: LabelledSet, work: Path) -> tuple[dict[str, Any], list[Evaluation]]:
    # No retrieval cache: the answers' latency is compared with the same retrieval run again alone
    container = build_container(make_settings(work / "data", retrieval_cache_seconds=0))
    try:
        kb = asyncio.run(build_knowledge(container, data, work))
        console.print(f"indexed {len(data.passages)} passages and a {kb.times[-1][1]:.1f} s talk (twice) in "
                      f"{kb.seconds:.1f} s")
        evaluations = [evaluate(container, kb, data, m) for m in METHODS]
        result = report(container, kb, data, evaluations)
        result["answers"] = answer_report(container, kb, check_answers(container, kb, data))
        return result, evaluations
    finally:
        container.db.dispose()


def main() -> None:
    args = parse_args()
    data = load_set(DATA)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vidrag-quality-") as tmp:
        result, evaluations = run(data, Path(tmp))
    print_summary(evaluations, data)
    print_answers(result["answers"])
    if args.details:
        print_details(evaluations, data)
    result["total_s"] = round(time.perf_counter() - started, 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "quality.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    console.print(f"results: {out.relative_to(ROOT)} ({result['total_s']:.0f} s in all)")


if __name__ == "__main__":
    main()
