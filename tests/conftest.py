"""Shared fixtures: generated media on a 127.0.0.1 server, and a real vidrag per test on a fresh data dir."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

from tests.support.backends import PostgresServer, RedisHandle, pg_database, pg_server, redis_server, redis_url
from tests.support.http_server import serve_directory
from tests.support.knowledge import Talk, make_talk
from tests.support.media import MediaSet, make_media
from tests.support.service import RunningService, start_in_thread
from vidrag.settings import Settings

__all__ = ["pg_database", "pg_server", "redis_server", "redis_url"]  # fixtures, re-exported for every test
MODULE_REDIS_DBS = (10, 11, 12, 13)  # module-scoped services; function-scoped ones use redis_url's database


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> MediaSet:
    return make_media(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def media_url(media: MediaSet) -> Iterator[str]:
    with serve_directory(media.root) as base:
        yield base


@pytest.fixture(scope="session")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Talk:
    """A video of five sentences at known times (see tests/support/knowledge.py)."""
    return make_talk(tmp_path_factory.mktemp("talk"))


@pytest.fixture(scope="session")
def talk_url(talk: Talk) -> Iterator[str]:
    with serve_directory(talk.path.parent) as base:
        yield f"{base}/{talk.path.name}"


@dataclass(frozen=True)
class Backend:
    """Where a test's service keeps its state: embedded (SQLite, in-process jobs) or scaled out."""

    name: str
    database_url: str | None = None
    redis_url: str | None = None

    def settings(self) -> dict[str, Any]:
        if self.name == "embedded":
            return {}
        # a short lease so that recovery tests do not wait a minute
        return {"database_url": self.database_url, "redis_url": self.redis_url}


@pytest.fixture(params=["embedded", "scaled"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Every test that starts a service runs twice: embedded, and on PostgreSQL + Redis + Celery workers."""
    if request.param == "embedded":
        return Backend("embedded")
    return Backend("scaled", request.getfixturevalue("pg_database"), request.getfixturevalue("redis_url"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str | None:
    """For tests of the storage and services below the job runner: None (SQLite in the data dir) or PostgreSQL."""
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_database"))


class ModuleBackends:
    """Backends for the services a module shares between its tests; each new() is a separate installation."""

    def __init__(self, name: str, request: pytest.FixtureRequest) -> None:
        self.name = name
        self._request = request
        self._databases: list[str] = []

    def new(self) -> Backend:
        if self.name == "embedded":
            return Backend("embedded")
        server: PostgresServer = self._request.getfixturevalue("pg_server")
        redis: RedisHandle = self._request.getfixturevalue("redis_server")
        if len(self._databases) >= len(MODULE_REDIS_DBS):
            raise RuntimeError("too many scaled-out services in one module")
        db = MODULE_REDIS_DBS[len(self._databases)]  # separate queues: one service's worker never takes another's
        name = f"m_{uuid.uuid4().hex[:12]}"
        url = server.create_database(name)
        self._databases.append(name)
        client = Redis.from_url(redis.url(db))
        client.flushdb()
        client.close()
        return Backend("scaled", url, redis.url(db))

    def close(self) -> None:
        if self._databases:
            server: PostgresServer = self._request.getfixturevalue("pg_server")
            for name in self._databases:
                server.drop_database(name)


@pytest.fixture(scope="module", params=["embedded", "scaled"])
def module_backends(request: pytest.FixtureRequest) -> Iterator[ModuleBackends]:
    """The same two backends, for services shared by a module's tests (each with a database of its own)."""
    backends = ModuleBackends(request.param, request)
    yield backends
    backends.close()


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "allow_private_networks": True, "cleanup_interval_minutes": 0,
                              "min_free_disk_mb": 0, "env": "development", **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def start_service(tmp_path: Path, backend: Backend) -> Iterator[Callable[..., RunningService]]:
    started: list[RunningService] = []

    def start(**overrides: Any) -> RunningService:
        svc = start_in_thread(make_settings(tmp_path / f"data{len(started)}", **backend.settings(), **overrides))
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.stop()


@pytest.fixture
def service(start_service: Callable[..., RunningService]) -> RunningService:
    return start_service()
