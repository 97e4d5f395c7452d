"""Retrieval latency benchmark: p50/p95 at 10k and 100k chunks, exact search vs raw numpy vs usearch HNSW (with
recall@10 against exact search), and the end-to-end hybrid query through SearchService.retrieve.

    .venv/bin/python -m bench.retrieval_latency              # 10k and 100k chunks
    .venv/bin/python -m bench.retrieval_latency --quick      # 2k and 10k chunks, fewer queries: a smoke run

The corpus is synthetic and embedding-like: 384-d unit vectors around a few hundred cluster centres (Zipf-sized
clusters, centres sharing a common direction as real embeddings do), each point its centre plus noise in a
32-d subspace of its cluster plus a little isotropic noise. Queries are drawn near the data: a data point plus
noise, "near" (cosine ~0.9 to that point) and "far" (~0.65, like a question against its passage).

(a) ours: VectorIndex.search (exact, top 10); (b) baseline, interleaved query by query: raw numpy argpartition over
matrix @ q; the same two with a 10 % id mask (ours: the ``allowed`` ids; baseline: a boolean mask made in advance);
then, in a pass of their own, ours and numpy with numpy's OpenBLAS held to one thread (its default is one per core,
and a busy second core stalls it). (c) usearch HNSW (cos, f32, connectivity 16, expansion_add 128, expansion_search
64; and 128): build time, p50/p95, recall@10 against exact. (d) end to end: the segments are written straight into
SQLite (rows with embedding blobs, FTS5 terms from a generated Zipf vocabulary) under a dataset made by
KnowledgeService, then SearchService.retrieve is timed for hybrid / semantic / keyword, and with a document_ids
filter (10 of 100 documents), real query embedding included; the baseline is the least work giving the same
candidates: the same embedder + raw numpy, and a raw sqlite3 FTS5 bm25 query (the run checks that
SegmentRepository.keyword_search returns the same bm25 scores as that plain query, with and without the filter). A
side that has used --budget seconds stops after 3 queries (n is printed): this benchmark found the keyword query
taking ~15 s at 100k when it was written as ``rowid IN (searchable ids)``, fixed since by joining the MATCH to the
segments. Then the pieces of a query, each timed alone. Writes bench/results/retrieval_latency.json.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import insert

from bench._common import bench_settings, ms_stats, table, write_results
from vidrag.api.app import build_container
from vidrag.domain.knowledge import DocumentKind, DocumentSource, IndexingStage, RetrievalFilters, RetrievalQuery
from vidrag.domain.knowledge import SearchMethod as M
from vidrag.retrieval.terms import query_terms
from vidrag.retrieval.terms import terms as index_terms
from vidrag.retrieval.vectors import VectorIndex, to_blob
from vidrag.services import search as search_module
from vidrag.services.search import CANDIDATES
from vidrag.storage.knowledge_repo import DatasetRepository, DocumentRepository, SegmentRepository, fts5_match
from vidrag.storage.models import DocumentRow, SegmentRow, utcnow

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
DIM, CLUSTERS, SUBSPACE, K = 384, 300, 32, 10
DOCUMENTS, FILTER_DOCUMENTS = 100, 10
WORDS_PER_CHUNK, VOCABULARY, TOPIC_WORDS = 100, 30_000, 40
INSERT_BATCH = 5_000
CONNECTIVITY, EXPANSION_ADD = 16, 128
EXPANSIONS = (64, 128)
MIN_SLOW_QUERIES = 3  # an end-to-end side over its time budget still gets this many queries


# --- the synthetic corpus ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Corpus:
    vectors: F32  # (n, DIM), unit rows; segment id = row + 1
    cluster: I64  # (n,)
    near: F32  # (queries, DIM)
    far: F32

    @property
    def ids(self) -> I64:
        return np.arange(1, len(self.vectors) + 1, dtype=np.int64)

    def document_of(self, row: int) -> int:
        """Documents are contiguous blocks of rows (clusters are spread over all of them)."""
        return row * DOCUMENTS // len(self.vectors)


def _unit(x: F32) -> F32:
    out: F32 = (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)
    return out


def make_corpus(n: int, queries: int, seed: int = 42) -> Corpus:
    rng = np.random.default_rng(seed)
    common = _unit(rng.standard_normal(DIM).astype(np.float32))
    centres = _unit(_unit(rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)) + 0.5 * common)
    weights = 1.0 / np.arange(1, CLUSTERS + 1) ** 0.7
    cluster = rng.choice(CLUSTERS, n, p=weights / weights.sum()).astype(np.int64)
    x = centres[cluster].copy()
    bases = rng.standard_normal((CLUSTERS, SUBSPACE, DIM)).astype(np.float32) / np.sqrt(DIM)
    z = rng.standard_normal((n, SUBSPACE)).astype(np.float32) * (0.9 / np.sqrt(SUBSPACE))
    for c in range(CLUSTERS):
        rows = np.flatnonzero(cluster == c)
        x[rows] += z[rows] @ bases[c]
    x += rng.standard_normal((n, DIM)).astype(np.float32) * (0.45 / np.sqrt(DIM))
    x = _unit(x)

    def around(scale: float) -> F32:
        picked = x[rng.choice(n, queries)]
        return _unit(picked + scale * _unit(rng.standard_normal((queries, DIM)).astype(np.float32)))

    return Corpus(x, cluster, around(0.5), around(1.2))


def exact_top(matrix: F32, queries: F32, k: int = K) -> I64:
    """Row numbers of the exact top ``k`` per query (the truth for recall)."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 64):
        scores = queries[start:start + 64] @ matrix.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        out[start:start + 64] = np.take_along_axis(top, order, axis=1)
    return out


def recall(found: Sequence[Sequence[int]], truth: I64) -> float:
    return float(np.mean([len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)]))


# --- (a), (b): exact search, ours and raw numpy --------------------------------------------------------------
def numpy_top(matrix: F32, query: F32, k: int, mask: npt.NDArray[np.bool_] | None = None) -> I64:
    """The baseline: the plain numpy exact search (a boolean mask, when given, is made in advance)."""
    scores = matrix @ query
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.argpartition(-scores, k - 1)[:k]
    out: I64 = top[np.argsort(-scores[top])]
    return out


def interleaved(sides: dict[str, Callable[[Any], Any]], queries: Sequence[Any], warmup: int = 5,
                budget_s: float = float("inf"), min_n: int = 5) -> tuple[dict[str, list[float]], dict[str, list[Any]]]:
    """Each query through every side in turn (so load hits all alike); seconds and answers per side. A side that
    has used ``budget_s`` stops after ``min_n`` queries (a pathologically slow side must not take an hour)."""
    for q in queries[:warmup]:
        for fn in sides.values():
            fn(q)
    times: dict[str, list[float]] = {name: [] for name in sides}
    answers: dict[str, list[Any]] = {name: [] for name in sides}
    for q in queries:
        for name, fn in sides.items():
            if len(times[name]) >= min_n and sum(times[name]) > budget_s:
                continue
            started = time.perf_counter()
            answer = fn(q)
            times[name].append(time.perf_counter() - started)
            answers[name].append(answer)
    return times, answers


class OpenBlasThreads:
    """numpy's OpenBLAS thread count, set at run time through its C API (found in this process's mapped
    libraries; Linux only). ``available`` is False when it cannot be found."""

    def __init__(self) -> None:
        self._set: Any = None
        self._get: Any = None
        maps = Path("/proc/self/maps")
        paths = sorted({line.split()[-1] for line in maps.read_text().splitlines()
                        if "openblas" in line.lower() and ".so" in line}) if maps.exists() else []
        for path in paths:
            lib = ctypes.CDLL(path)
            for prefix, suffix in (("scipy_openblas_", "64_"), ("openblas_", "64_"), ("openblas_", "")):
                if hasattr(lib, f"{prefix}set_num_threads{suffix}"):
                    self._set = getattr(lib, f"{prefix}set_num_threads{suffix}")
                    self._get = getattr(lib, f"{prefix}get_num_threads{suffix}")
                    return

    @property
    def available(self) -> bool:
        return self._set is not None

    def get(self) -> int:
        return int(self._get()) if self._get is not None else 0

    def run_with(self, threads: int, fn: Callable[[], Any]) -> Any:
        before = self.get()
        self._set(threads)
        try:
            return fn()
        finally:
            self._set(before)


def exact_rows(corpus: Corpus, truth: I64) -> dict[str, Any]:
    index = VectorIndex(DIM, corpus.ids, corpus.vectors.copy())
    matrix = corpus.vectors
    filter_rows = np.flatnonzero(np.arange(len(matrix)) * DOCUMENTS // len(matrix) < FILTER_DOCUMENTS)
    allowed = corpus.ids[filter_rows]
    mask = np.zeros(len(matrix), dtype=bool)
    mask[filter_rows] = True
    sides: dict[str, Callable[[Any], Any]] = {
        "ours": lambda q: [i - 1 for i, _ in index.search(q, K)],
        "numpy": lambda q: numpy_top(matrix, q, K).tolist(),
        "ours_mask": lambda q: [i - 1 for i, _ in index.search(q, K, allowed)],
        "numpy_mask": lambda q: numpy_top(matrix, q, K, mask).tolist(),
    }
    times, answers = interleaved(sides, list(corpus.near))
    blas = OpenBlasThreads()
    if blas.available and blas.get() > 1:  # the same two with OpenBLAS held to one thread, in a pass of their own
        threads = blas.get()
        blas.run_with(1, lambda: times.update(interleaved({
            "ours_1t": lambda q: [i - 1 for i, _ in index.search(q, K)],
            "numpy_1t": lambda q: numpy_top(matrix, q, K).tolist(),
        }, list(corpus.near))[0]))
        assert blas.get() == threads
    same_as_numpy = recall(answers["ours"], np.asarray(answers["numpy"]))
    return {"times": {k: ms_stats(v) for k, v in times.items()},
            "agreement_with_batched_truth": recall(answers["ours"], truth), "agreement_ours_numpy": same_as_numpy,
            "mask_fraction": len(allowed) / len(matrix), "blas_threads": blas.get()}


# --- (c): usearch HNSW -------------------------------------------------------------------------------------------
def hnsw_rows(corpus: Corpus, truth_near: I64, truth_far: I64, dtype: str) -> dict[str, Any]:
    from usearch.index import Index

    index = Index(ndim=DIM, metric="cos", dtype=dtype, connectivity=CONNECTIVITY, expansion_add=EXPANSION_ADD,
                  expansion_search=EXPANSIONS[0])
    started = time.perf_counter()
    index.add(np.arange(len(corpus.vectors), dtype=np.uint64), corpus.vectors)
    build_s = time.perf_counter() - started
    out: dict[str, Any] = {"build_s": build_s, "dtype": dtype, "connectivity": CONNECTIVITY,
                           "expansion_add": EXPANSION_ADD, "memory_bytes": int(index.memory_usage)}
    for ef in EXPANSIONS:
        index.expansion_search = ef  # type: ignore[misc]  # a setter at run time; the stubs say read-only
        times, answers = interleaved({"hnsw": lambda q: index.search(q, K).keys.tolist()}, list(corpus.near))
        far = [index.search(q, K).keys.tolist() for q in corpus.far]
        out[f"ef{ef}"] = {**ms_stats(times["hnsw"]), "recall_near": recall(answers["hnsw"], truth_near),
                          "recall_far": recall(far, truth_far)}
    return out


# --- (d): end to end through SearchService ---------------------------------------------------------------------
def _syllable_words(rng: np.random.Generator, count: int) -> list[str]:
    onsets, vowels, codas = "b c d f g h k l m n p r s t v w z br ch dr gr pl sh st tr".split(), "aeiou", ["", "n",
                                                                                                          "r", "s", "l"]
    words: dict[str, None] = {}
    while len(words) < count:
        parts = [onsets[rng.integers(len(onsets))] + vowels[rng.integers(5)] + codas[rng.integers(5)]
                 for _ in range(int(rng.integers(2, 4)))]
        words.setdefault("".join(parts), None)
    return list(words)


@dataclass(frozen=True)
class Texts:
    chunks: list[str]
    queries: list[str]


def make_texts(corpus: Corpus, queries: int, seed: int = 7) -> Texts:
    """Chunk texts from a Zipf vocabulary, a quarter of the words from the chunk's cluster's own topic words;
    queries: 1-2 topic words of a cluster plus 2-4 ordinary words (not the ~100 commonest, which act as stop words)."""
    rng = np.random.default_rng(seed)
    vocab = np.array(_syllable_words(rng, VOCABULARY), dtype=object)
    zipf = 1.0 / (np.arange(VOCABULARY) + 2.7)
    zipf /= zipf.sum()
    topics = rng.integers(500, VOCABULARY, size=(CLUSTERS, TOPIC_WORDS))
    n = len(corpus.vectors)
    words = rng.choice(VOCABULARY, size=(n, WORDS_PER_CHUNK), p=zipf)
    topical = rng.random((n, WORDS_PER_CHUNK)) < 0.25
    rows, cols = np.nonzero(topical)
    words[rows, cols] = topics[corpus.cluster[rows], rng.integers(TOPIC_WORDS, size=len(rows))]
    chunks = [" ".join(row) for row in vocab[words]]
    rare = zipf[100:] / zipf[100:].sum()
    query_texts = []
    for _ in range(queries):
        c = int(rng.integers(CLUSTERS))
        picked = [*rng.choice(topics[c], int(rng.integers(1, 3)), replace=False),
                  *(100 + rng.choice(VOCABULARY - 100, int(rng.integers(2, 5)), p=rare))]
        query_texts.append(" ".join(vocab[picked]))
    return Texts(chunks, query_texts)


def load_dataset(container: Any, corpus: Corpus, texts: Texts) -> tuple[str, list[str], float]:
    """Documents and segments (vector blobs + FTS terms) written straight into SQLite, in batches."""
    knowledge = container.knowledge
    dataset = knowledge.create_dataset(f"bench-{len(corpus.vectors)}")  # embedding_model = the service's embedder
    now = utcnow()
    doc_ids = [str(uuid.uuid4()) for _ in range(DOCUMENTS)]
    started = time.perf_counter()
    with container.db.session() as s:
        s.add_all(DocumentRow(id=d, dataset_id=dataset.id, name=f"document {i}", source=DocumentSource.TEXT.value,
                              kind=DocumentKind.TEXT.value, enabled=True, indexing_status=IndexingStage.COMPLETED.value,
                              stages={}, progress=100.0, doc_metadata={}, word_count=0, tokens=0, attempts=0,
                              created_at=now, updated_at=now, completed_at=now) for i, d in enumerate(doc_ids))
    model = dataset.embedding_model
    rows_per_doc = [0] * DOCUMENTS
    for start in range(0, len(corpus.vectors), INSERT_BATCH):
        rows, terms = [], []
        for row in range(start, min(start + INSERT_BATCH, len(corpus.vectors))):
            doc = corpus.document_of(row)
            text = texts.chunks[row]
            rows.append({"id": row + 1, "dataset_id": dataset.id, "document_id": doc_ids[doc],
                         "position": rows_per_doc[doc], "content": text, "tokens": WORDS_PER_CHUNK, "start": None,
                         "end": None, "page": None, "heading": None, "chapter": None, "enabled": True,
                         "embedding": to_blob(corpus.vectors[row]), "embedding_model": model, "hit_count": 0,
                         "created_at": now, "updated_at": now})
            terms.append((row + 1, index_terms(text)))
            rows_per_doc[doc] += 1
        with container.db.session() as s:
            s.execute(insert(SegmentRow), rows)  # an ORM bulk insert: one executemany per batch
            SegmentRepository(s).put_terms(terms)
    with container.db.session() as s:
        DatasetRepository(s).bump_version(dataset.id)
    return dataset.id, doc_ids, time.perf_counter() - started


def end_to_end(corpus: Corpus, texts: Texts, data_dir: Path, budget_s: float) -> dict[str, Any]:
    container = build_container(bench_settings(data_dir))
    try:
        dataset_id, doc_ids, load_s = load_dataset(container, corpus, texts)
        search, embedder = container.search, container.search.embedder
        filters = RetrievalFilters(document_ids=tuple(doc_ids[:FILTER_DOCUMENTS]))
        queries = texts.queries

        started = time.perf_counter()  # the first query builds the in-memory index from SQLite
        search.retrieve(dataset_id, RetrievalQuery(queries[0], method=M.SEMANTIC, top_k=K))
        first_s = time.perf_counter() - started

        matrix = corpus.vectors
        mask = np.arange(len(matrix)) * DOCUMENTS // len(matrix) < FILTER_DOCUMENTS
        last_allowed = int(corpus.ids[mask].max())  # filtered documents are the first rows: an id range
        db_path = container.db.engine.url.database
        assert db_path is not None
        raw = sqlite3.connect(db_path)
        fts = ("SELECT rowid, -bm25(segments_fts) AS score FROM segments_fts WHERE segments_fts MATCH ? "
               "ORDER BY score DESC LIMIT ?")
        fts_range = ("SELECT rowid, -bm25(segments_fts) AS score FROM segments_fts WHERE segments_fts MATCH ? "
                     "AND rowid <= ? ORDER BY score DESC LIMIT ?")

        def retrieve(method: M, f: RetrievalFilters | None = None) -> Callable[[str], Any]:
            return lambda q: search.retrieve(dataset_id, RetrievalQuery(q, method=method, top_k=K,
                                                                        filters=f or RetrievalFilters()))

        def base_semantic(q: str, m: npt.NDArray[np.bool_] | None = None) -> Any:
            return numpy_top(matrix, embedder.embed_query(q), CANDIDATES, m)

        def base_keyword(q: str, ranged: bool = False) -> Any:
            match = fts5_match(query_terms(q)) or '""'
            args = (match, last_allowed, CANDIDATES) if ranged else (match, CANDIDATES)
            return raw.execute(fts_range if ranged else fts, args).fetchall()

        filtered = f"filter {FILTER_DOCUMENTS}/{DOCUMENTS} docs"
        cases: dict[str, dict[str, Callable[[str], Any]]] = {
            "hybrid": {"ours": retrieve(M.HYBRID), "base": lambda q: (base_semantic(q), base_keyword(q))},
            "semantic": {"ours": retrieve(M.SEMANTIC), "base": base_semantic},
            "keyword": {"ours": retrieve(M.KEYWORD), "base": base_keyword},
            f"hybrid, {filtered}": {"ours": retrieve(M.HYBRID, filters),
                                    "base": lambda q: (base_semantic(q, mask), base_keyword(q, True))},
            f"semantic, {filtered}": {"ours": retrieve(M.SEMANTIC, filters), "base": lambda q: base_semantic(q, mask)},
        }
        sides = {f"{name}|{side}": fn for name, by_side in cases.items() for side, fn in by_side.items()}
        times, _ = interleaved(sides, queries, warmup=1, budget_s=budget_s, min_n=MIN_SLOW_QUERIES)

        # pieces, timed alone
        index = search.vectors.get(dataset_id, _version(container, dataset_id))
        assert index is not None
        vectors = [embedder.embed_query(q) for q in queries]
        matches = [query_terms(q) for q in queries]
        with container.db.session() as s:
            segments = SegmentRepository(s)
            same = all(_scores(segments.keyword_search(dataset_id, matches[i], f, CANDIDATES))
                       == _scores(base_keyword(queries[i], f is filters))
                       for i in range(min(5, len(queries))) for f in (RetrievalFilters(), filters))
            allowed = np.asarray(segments.allowed_ids(dataset_id, filters), dtype=np.int64)
            n = len(queries)
            hits = [[i for i, _ in index.search(v, K)] for v in vectors]

            def dataset_lookup(i: int) -> None:
                with container.db.session() as s2:
                    row = DatasetRepository(s2).get(dataset_id)
                    assert row is not None
                    search.check_model(row)

            def result_rows(i: int) -> None:  # what retrieve() does with its top_k hits
                with container.db.session() as s2:
                    rows = SegmentRepository(s2).by_ids(hits[i])
                    for r in rows.values():
                        r.hit_count += 1
                    docs = {d.id: d for d in (DocumentRepository(s2).get(r.document_id) for r in rows.values()) if d}
                    assert len(docs) <= len(rows)

            pieces = {
                "session + dataset lookup + model check": _each(dataset_lookup, n, budget_s),
                "embed the query": _each(lambda i: embedder.embed_query(queries[i]), n, budget_s),
                f"VectorIndex.search, {CANDIDATES} candidates": _each(
                    lambda i: index.search(vectors[i], CANDIDATES), n, budget_s),
                "SegmentRepository.keyword_search (FTS5 MATCH joined to segments, documents)": _each(
                    lambda i: segments.keyword_search(dataset_id, matches[i], RetrievalFilters(), CANDIDATES), n,
                    budget_s),
                "FTS5 MATCH alone (raw sqlite3)": _each(lambda i: base_keyword(queries[i]), n, budget_s),
                "filter: allowed_ids() SQL": _each(lambda i: segments.allowed_ids(dataset_id, filters), 30, budget_s),
                "filter: VectorIndex.search with allowed": _each(
                    lambda i: index.search(vectors[i], CANDIDATES, allowed), n, budget_s),
                f"result rows: by_ids, a document lookup per hit, hit_count += 1 and commit ({K} hits)": _each(
                    result_rows, n, budget_s),
            }
            coverage = getattr(search_module, "_coverage", None)  # hybrid/keyword: term coverage of the hits
            if coverage is not None:
                keyword_hits = [segments.keyword_search(dataset_id, m, RetrievalFilters(), CANDIDATES)
                                for m in matches]
                pieces[f"keyword term coverage (_coverage: by_ids of the {CANDIDATES} hits, terms() of each)"] = _each(
                    lambda i: coverage(queries[i], keyword_hits[i], segments), n, budget_s)
                pieces[f"  of which by_ids of the {CANDIDATES} keyword hits (full rows)"] = _each(
                    lambda i: segments.by_ids([j for j, _ in keyword_hits[i]]), n, budget_s)
        raw.close()
        return {"load_s": load_s, "first_query_s": first_s, "keyword_same_scores_as_plain_fts5": same,
                "cases": {name: {side: ms_stats(times[f"{name}|{side}"]) for side in by_side}
                          for name, by_side in cases.items()},
                "pieces": pieces}
    finally:
        container.db.dispose()


def _scores(rows: Sequence[Any]) -> list[float]:
    """bm25 scores, rounded and sorted: the same hits whatever order ties come back in."""
    return sorted((round(float(r[1]), 6) for r in rows), reverse=True)


def _version(container: Any, dataset_id: str) -> int:
    with container.db.session() as s:
        row = DatasetRepository(s).get(dataset_id)
        assert row is not None
        return row.index_version


def _each(fn: Callable[[int], Any], count: int, budget_s: float = float("inf"), min_n: int = 3) -> dict[str, float]:
    seconds: list[float] = []
    for i in range(count):
        if len(seconds) >= min_n and sum(seconds) > budget_s:
            break
        t0 = time.perf_counter()
        fn(i)
        seconds.append(time.perf_counter() - t0)
    return ms_stats(seconds)


# --- the run -------------------------------------------------------------------------------------------------
def run_size(n: int, queries: int, e2e_queries: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print(f"\n## {n:,} chunks", flush=True)
    started = time.perf_counter()
    corpus = make_corpus(n, queries)
    truth_near, truth_far = exact_top(corpus.vectors, corpus.near), exact_top(corpus.vectors, corpus.far)
    near = f"{_kth(corpus, corpus.near, truth_near, 0):.2f} / {_kth(corpus, corpus.near, truth_near, K - 1):.2f}"
    far = f"{_kth(corpus, corpus.far, truth_far, 0):.2f} / {_kth(corpus, corpus.far, truth_far, K - 1):.2f}"
    print(f"corpus made in {time.perf_counter() - started:.1f} s; mean cosine of a query to its 1st / 10th "
          f"neighbour: near {near}, far {far}", flush=True)
    result: dict[str, Any] = {"n": n, "queries": queries, "exact": exact_rows(corpus, truth_near)}
    if not args.skip_hnsw:
        result["hnsw"] = hnsw_rows(corpus, truth_near, truth_far, args.usearch_dtype)
    texts = make_texts(corpus, e2e_queries)
    result["e2e"] = end_to_end(corpus, texts, work / f"data-{n}", args.budget)
    result["e2e_queries"] = texts.queries
    print_size(result)
    return result


def _kth(corpus: Corpus, queries: F32, truth: I64, k: int) -> float:
    return float(np.mean(np.sum(corpus.vectors[truth[:, k]] * queries, axis=1)))


def _ms(stats: dict[str, float]) -> tuple[str, str]:
    return f"{stats['p50_ms']:.2f}", f"{stats['p95_ms']:.2f}"


def print_size(r: dict[str, Any]) -> None:
    ex = r["exact"]["times"]
    rows = [["ours: VectorIndex.search (exact)", *_ms(ex["ours"]), "1.0 (exact, by definition)", "-"],
            ["baseline: raw numpy argpartition", *_ms(ex["numpy"]), "1.0 (exact, by definition)", "-"],
            [f"ours, allowed mask ({r['exact']['mask_fraction']:.0%} of ids)", *_ms(ex["ours_mask"]), "1.0", "-"],
            ["baseline, boolean mask made in advance", *_ms(ex["numpy_mask"]), "1.0", "-"]]
    if "ours_1t" in ex:
        rows += [["ours, OpenBLAS held to 1 thread", *_ms(ex["ours_1t"]), "1.0", "-"],
                 ["baseline, OpenBLAS held to 1 thread", *_ms(ex["numpy_1t"]), "1.0", "-"]]
    if "hnsw" in r:
        h = r["hnsw"]
        for ef in EXPANSIONS:
            e = h[f"ef{ef}"]
            rows.append([f"usearch HNSW {h['dtype']}, M 16, ef_add 128, ef_search {ef}", *_ms(e),
                         f"{e['recall_near']:.4f} near / {e['recall_far']:.4f} far", f"{h['build_s']:.1f}"])
    print(f"\nvector search, top {K}, {r['n']:,} x {DIM}, {r['queries']} queries")
    print(table(["method", "p50 ms", "p95 ms", "recall@10", "build s"], rows, [False, True, True, False, True]))
    ratio = ex["ours"]["p50_ms"] / ex["numpy"]["p50_ms"]
    mask_ratio = ex["ours_mask"]["p50_ms"] / ex["numpy_mask"]["p50_ms"]
    print(f"ratio ours/numpy p50: {ratio:.2f} (no mask), {mask_ratio:.2f} (mask); OpenBLAS threads by default: "
          f"{r['exact']['blas_threads'] or 'unknown'}")
    e2e = r["e2e"]
    rows = []
    for name, sides in e2e["cases"].items():
        rows.append([name, *_ms(sides["ours"]), *_ms(sides["base"]), str(sides["ours"]["n"]),
                     f"{sides['ours']['p50_ms'] / sides['base']['p50_ms']:.2f}"])
    print(f"\nend to end, SearchService.retrieve top {K} ({CANDIDATES} candidates per retriever), up to "
          f"{len(r['e2e_queries'])} queries; data written in {e2e['load_s']:.1f} s, first query (index load from "
          f"SQLite) {e2e['first_query_s']:.2f} s; keyword_search gives the same bm25 scores as plain FTS5: "
          f"{e2e['keyword_same_scores_as_plain_fts5']}")
    print(table(["query", "ours p50 ms", "ours p95 ms", "baseline p50 ms", "baseline p95 ms", "n", "ratio p50"],
                rows))
    print(table(["piece (timed alone)", "p50 ms", "p95 ms", "n"],
                [[k, *_ms(v), str(v["n"])] for k, v in e2e["pieces"].items()], [False, True, True, True]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="queries for (a)-(c)")
    parser.add_argument("--e2e-queries", type=int, default=100, help="queries for (d)")
    parser.add_argument("--usearch-dtype", default="f32", help="f32 (as stored), bf16, f16 or i8")
    parser.add_argument("--skip-hnsw", action="store_true")
    parser.add_argument("--budget", type=float, default=10.0,
                        help=f"seconds an end-to-end side may use before it stops (after {MIN_SLOW_QUERIES} queries)")
    parser.add_argument("--quick", action="store_true", help="2k and 10k chunks, 50 / 30 queries: a smoke run")
    args = parser.parse_args()
    sizes, queries, e2e_queries = ([2_000, 10_000], 50, 30) if args.quick else (args.sizes, args.queries,
                                                                                 args.e2e_queries)
    results = []
    with tempfile.TemporaryDirectory(prefix="vidrag-bench-retrieval-") as tmp:
        for n in sizes:
            results.append(run_size(n, queries, e2e_queries, args, Path(tmp)))
            gc.collect()
    path = write_results("retrieval_latency", {"dim": DIM, "clusters": CLUSTERS, "subspace": SUBSPACE, "k": K,
                                               "candidates": CANDIDATES, "sizes": results})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
