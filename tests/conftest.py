"""Shared fixtures: generated media on a 127.0.0.1 server, and a real vidrag per test on a fresh data dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.http_server import serve_directory
from tests.support.knowledge import Talk, make_talk
from tests.support.media import MediaSet, make_media
from tests.support.service import RunningService, start_in_thread
from vidrag.settings import Settings


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


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": data_dir, "allow_private_networks": True, "cleanup_interval_minutes": 0,
                              "min_free_disk_mb": 0, "env": "development", **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., RunningService]]:
    started: list[RunningService] = []

    def start(**overrides: Any) -> RunningService:
        svc = start_in_thread(make_settings(tmp_path / f"data{len(started)}", **overrides))
        started.append(svc)
        return svc

    yield start
    for svc in started:
        svc.stop()


@pytest.fixture
def service(start_service: Callable[..., RunningService]) -> RunningService:
    return start_service()
