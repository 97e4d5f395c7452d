"""create_app(settings): builds every component once, wires the routes, owns start-up and shut-down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import redis
from fastapi import Depends, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware

from vidrag import __version__
from vidrag.api import console, errors, metrics
from vidrag.api.deps import Container, Scaled, enforce_rate_limit, require_api_key
from vidrag.api.limits import BodySizeLimit
from vidrag.api.routes import (
    chat,
    datasets,
    files,
    health,
    library,
    openai_compat,
    player,
    seed,
    storage,
    tasks,
)
from vidrag.jobs.base import JobRunner
from vidrag.jobs.celery_runner import CeleryConfig, CeleryRunner, make_celery
from vidrag.jobs.events import InMemoryEventBus, RedisEventBus
from vidrag.jobs.inprocess import InProcessRunner
from vidrag.pipeline.download import warm_up
from vidrag.pipeline.ffmpeg import find_ffmpeg
from vidrag.retrieval.factory import EmbedderConfig, SharedEmbedder
from vidrag.retrieval.rerank import HttpReranker
from vidrag.retrieval.vectors import VectorStore
from vidrag.services.answer import AnswerService
from vidrag.services.download_job import DownloadJob
from vidrag.services.downloads import DownloadService
from vidrag.services.ingest_job import IngestJob
from vidrag.services.knowledge import KnowledgeService
from vidrag.services.search import SearchService
from vidrag.services.storage import StorageService
from vidrag.settings import Settings
from vidrag.storage.db import open_database
from vidrag.storage.kv import KeyValue, MemoryKeyValue, RedisKeyValue
from vidrag.storage.media import MediaStore

log = logging.getLogger(__name__)


def build_container(settings: Settings) -> Container:
    settings.ensure_dirs()
    settings.resolved_secret_key()  # generated and persisted on first start, refused if a placeholder
    db = open_database(settings)
    db.migrate()
    media = MediaStore(settings.media_dir, settings.tmp_dir)
    scaled = _scaled(settings)
    events = RedisEventBus(scaled.redis) if scaled else InMemoryEventBus()
    ffmpeg = find_ffmpeg(settings.ffmpeg_path)
    job = DownloadJob(settings, db, media, events, ffmpeg)
    runner: JobRunner
    if scaled:  # this process only enqueues; `vidrag worker` processes run the jobs
        runner = CeleryRunner(scaled.celery, scaled.redis, "download", scaled.config)
    else:
        runner = InProcessRunner(job, settings.download_concurrency, heartbeat=job.heartbeat,
                                 heartbeat_seconds=settings.task_lease_seconds / 4,
                                 time_limit_seconds=settings.job_time_limit_seconds)
    storage_service = StorageService(settings, db, media)
    downloads = DownloadService(settings, db, media, runner, events, storage_service)
    embedder = SharedEmbedder(EmbedderConfig(
        backend=settings.embedding_backend, model=settings.embedding_model, base_url=settings.embedding_base_url,
        api_key=settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None,
        dimension=settings.embedding_dimension, threads=settings.embedding_threads,
        batch_size=settings.embedding_batch_size))
    ingest = IngestJob(settings, db, media, events, embedder.get)
    ingest_runner: JobRunner
    if scaled:
        ingest_runner = CeleryRunner(scaled.celery, scaled.redis, "ingest", scaled.config)
        ingest.hand_off = ingest_runner.enqueue
    else:  # CPU-bound (Whisper, embeddings): one document at a time per process; downloads have their own runner
        ingest_runner = InProcessRunner(ingest, 1, heartbeat=ingest.heartbeat,
                                        heartbeat_seconds=settings.task_lease_seconds / 4,
                                        time_limit_seconds=settings.job_time_limit_seconds)
    vectors = VectorStore()
    knowledge = KnowledgeService(settings, db, downloads, ingest_runner, vectors, embedder)
    if isinstance(ingest_runner, CeleryRunner):
        ingest_runner.route = knowledge.queue_for
    job.on_finished.append(knowledge.on_task_finished)
    shared: KeyValue = RedisKeyValue(scaled.redis) if scaled else MemoryKeyValue()
    search = SearchService(db, vectors, embedder, _reranker(settings), shared, settings.retrieval_cache_seconds)
    for dimension in knowledge.dimensions_in_use():
        db.ensure_vector_index(dimension)
    return Container(settings=settings, db=db, runner=runner, events=events, downloads=downloads,
                     storage=storage_service, ffmpeg=ffmpeg, ingest_runner=ingest_runner, knowledge=knowledge,
                     search=search, answers=AnswerService(search, knowledge, settings),
                     counters=shared, jobs={"download": (job, job.heartbeat), "ingest": (ingest, ingest.heartbeat)},
                     scaled=scaled)


def _scaled(settings: Settings) -> Scaled | None:
    if not settings.redis_url:
        return None
    config = CeleryConfig(settings.redis_url, settings.task_lease_seconds, settings.job_time_limit_seconds)
    return Scaled(config, make_celery(config), redis.Redis.from_url(settings.redis_url, socket_timeout=10,
                                                                    socket_connect_timeout=5,
                                                                    health_check_interval=30))


def _reranker(settings: Settings) -> HttpReranker | None:
    if not settings.rerank_base_url or not settings.rerank_model:
        return None
    key = settings.rerank_api_key.get_secret_value() if settings.rerank_api_key else None
    return HttpReranker(settings.rerank_base_url, settings.rerank_model, key)


def recover(container: Container) -> None:
    container.downloads.recover()
    container.knowledge.recover()


async def _every(seconds: float, work: Callable[[], object], what: str) -> None:
    """Run blocking ``work`` in a thread every ``seconds``; a failure is logged and tried again next time."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(work)
        except Exception:
            log.exception("%s failed; will try again", what)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    container = build_container(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container.events.bind(asyncio.get_running_loop())
        warming = asyncio.create_task(run_in_threadpool(warm_up))  # in the background: start-up does not wait
        await container.runner.start()
        await container.ingest_runner.start()
        await run_in_threadpool(recover, container)
        loops = [asyncio.create_task(_every(max(1.0, settings.task_lease_seconds / 3), lambda: recover(container),
                                            "recovering stale work"))]
        if settings.cleanup_interval_minutes > 0:
            loops.append(asyncio.create_task(_every(settings.cleanup_interval_minutes * 60,
                                                    container.storage.cleanup, "periodic cleanup")))
        try:
            yield
        finally:
            for loop in [*loops, warming]:
                loop.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop
            await container.ingest_runner.stop()
            await container.runner.stop()
            container.events.close()
            container.answers.close()
            container.db.dispose()

    app = FastAPI(title="vidrag", version=__version__, lifespan=lifespan,
                  description="Video download API (compatible with video-download-api) and video knowledge base.")
    app.state.container = container
    errors.install(app)
    if settings.cors_origins:
        wildcard = "*" in settings.cors_origins
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=not wildcard,
                           allow_methods=["GET", "POST", "DELETE", "PATCH", "PUT"],
                           allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-API-Key"])
    app.add_middleware(BodySizeLimit, limit=settings.max_upload_mb * 2**20 + 64 * 1024, prefixes=("/api/v1/uploads",),
                       message=f"the upload is larger than the {settings.max_upload_mb} MB limit "
                               "(VIDRAG_MAX_UPLOAD_MB); send a smaller file")
    guarded = [Depends(require_api_key), Depends(enforce_rate_limit)]
    app.include_router(health.router)
    for router in (seed.router, tasks.router, files.router, storage.router, datasets.router, library.router,
                   player.router, chat.router, openai_compat.router):
        app.include_router(router, dependencies=guarded)
    console.install(app)  # the web console's pages are public; the data they show comes through the guarded API
    metrics.install(app, container)  # /metrics, request IDs and timing, log format
    return app
