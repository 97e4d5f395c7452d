"""Dependency aliases: routes declare what they need, the app state provides it."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Annotated

from celery import Celery
from fastapi import Depends, Request
from redis import Redis

from vidrag.domain.errors import RateLimited, Unauthorized
from vidrag.jobs.base import Heartbeat, JobHandler, JobRunner
from vidrag.jobs.celery_runner import CeleryConfig
from vidrag.jobs.events import InMemoryEventBus
from vidrag.services.answer import AnswerService
from vidrag.services.downloads import DownloadService
from vidrag.services.knowledge import KnowledgeService
from vidrag.services.search import SearchService
from vidrag.services.storage import StorageService
from vidrag.settings import Settings
from vidrag.storage.db import Database
from vidrag.storage.kv import KeyValue


@dataclass(frozen=True)
class Scaled:
    """The scaled-out parts (VIDRAG_REDIS_URL): Celery for jobs, Redis for events, caches and counters."""

    config: CeleryConfig
    celery: Celery
    redis: Redis


@dataclass
class Container:
    """Everything built once per app by create_app; no module-level singletons."""

    settings: Settings
    db: Database
    runner: JobRunner
    events: InMemoryEventBus
    downloads: DownloadService
    storage: StorageService
    ffmpeg: str
    ingest_runner: JobRunner
    knowledge: KnowledgeService
    search: SearchService
    answers: AnswerService
    counters: KeyValue  # rate limits: in memory, or Redis when scaled out
    jobs: dict[str, tuple[JobHandler, Heartbeat]]  # what `vidrag worker` runs: kind -> (handler, lease renewal)
    scaled: Scaled | None = None


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_downloads(c: ContainerDep) -> DownloadService:
    return c.downloads


def get_storage(c: ContainerDep) -> StorageService:
    return c.storage


def get_knowledge(c: ContainerDep) -> KnowledgeService:
    return c.knowledge


def get_search(c: ContainerDep) -> SearchService:
    return c.search


DownloadsDep = Annotated[DownloadService, Depends(get_downloads)]
KnowledgeDep = Annotated[KnowledgeService, Depends(get_knowledge)]
SearchDep = Annotated[SearchService, Depends(get_search)]
StorageDep = Annotated[StorageService, Depends(get_storage)]


SUBMIT_PATHS = ("/api/process", "/api/v1/tasks", "/api/v1/uploads", "/api/v1/chat", "/v1/chat/completions")


def enforce_rate_limit(request: Request, c: ContainerDep) -> None:
    """Fixed one-minute windows per client (its API key, else its address), counted in Redis when scaled out so
    that the limit holds across replicas. Starting work (submits, uploads, new documents, answers) has its own,
    usually stricter, limit."""
    st = c.settings
    submit = request.method == "POST" and (request.url.path.startswith(SUBMIT_PATHS)
                                           or "/document/create" in request.url.path)
    limits = [("all", st.rate_limit_per_minute), ("submit", st.rate_limit_submit_per_minute if submit else 0)]
    if not any(limit for _, limit in limits):
        return
    client = _client_key(request)
    for bucket, limit in limits:
        if limit and c.counters.hit(f"rate:{bucket}:{client}", 60) > limit:
            retry_after = 60 - int(time.time()) % 60
            raise RateLimited(f"too many requests: the limit is {limit} per minute"
                              f"{' for requests that start work' if bucket == 'submit' else ''}; "
                              f"try again in {retry_after} s", retry_after=retry_after)


def _client_key(request: Request) -> str:
    auth = request.headers.get("authorization", "") or request.headers.get("x-api-key", "")
    if auth:
        return "key:" + hashlib.sha256(auth.encode()).hexdigest()[:16]
    return "ip:" + (request.client.host if request.client else "unknown")


def require_api_key(request: Request, c: ContainerDep) -> None:
    """When API keys are configured, every guarded route needs one.

    Accepted as ``Authorization: Bearer <key>``, ``X-API-Key``, or ``?api_key=`` (for EventSource and
    <video src>, which cannot send headers).
    """
    keys = c.settings.api_keys
    if not keys:
        return
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    token = token or request.headers.get("x-api-key", "") or request.query_params.get("api_key", "")
    if not token or not any(hmac.compare_digest(token.encode(), k.get_secret_value().encode()) for k in keys):
        raise Unauthorized("a valid API key is required: send 'Authorization: Bearer <key>'"
                           if not token else "the API key is not valid; check VIDRAG_API_KEYS",
                           code="api_key_missing" if not token else "api_key_invalid")
